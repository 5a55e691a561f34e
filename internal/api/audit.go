package api

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/vault"
)

// CodeAuditUnavailable: the audit log could not record the request, so it
// was not served (fail closed).
const CodeAuditUnavailable = string(vault.CodeAuditUnavailable)

// CodeAuditOutOfRange: no such entry or tree size in the region's log.
const CodeAuditOutOfRange = "audit_out_of_range"

// actor is who a write is for, for the audit log.
func (h *region) actor(r *http.Request, rule string) vault.Actor {
	a, _ := AccountOf(r.Context())
	return vault.Actor{RequestID: requestID(r), Principal: a.ID, Location: a.Location, Purpose: r.Header.Get(PurposeHeader), Rule: rule}
}

// record appends an entry for a request that writes nothing (a read, a
// search, a detokenization, a denial) durably, before the answer. When the
// log cannot record it the request is refused and nothing is returned.
func (h *region) record(w http.ResponseWriter, r *http.Request, e entry.Entry) bool {
	log := h.v.Audit()
	if log == nil {
		return true
	}
	if err := log.AppendNow(r.Context(), h.requestEntry(r, e)); err != nil {
		if w != nil {
			writeProblem(w, r, h.log, &Error{Code: CodeAuditUnavailable, Detail: "the audit log cannot record the request; nothing was returned", Err: err})
		}
		return false
	}
	return true
}

// requestEntry completes e with who made request r, and why.
func (h *region) requestEntry(r *http.Request, e entry.Entry) entry.Entry {
	a, _ := AccountOf(r.Context())
	e.RequestID, e.Principal, e.Location, e.Purpose = requestID(r), a.ID, a.Location, r.Header.Get(PurposeHeader)
	if e.Outcome == "" {
		e.Outcome = entry.OK
	}
	return e
}

// readEntry is the audit entry of records returned to a caller: their ids,
// the fields shown (in any form), their subjects as keyed MACs, and the
// rule that governed the read.
func (h *region) readEntry(action entry.Action, collection, rule string, recs ...client.Record) entry.Entry {
	e := entry.Entry{Action: action, Collection: collection, Decision: "allow", Rule: rule}
	fields := map[string]bool{}
	for _, rec := range recs {
		e.Records = append(e.Records, rec.ID)
		e.Subjects = append(e.Subjects, entry.SubjectMAC(h.v.Keyring().SubjectRef(rec.Subject)))
		for f := range rec.Fields {
			fields[f] = true
		}
	}
	for f := range fields {
		e.Fields = append(e.Fields, f)
	}
	slices.Sort(e.Fields)
	return e
}

func (h *region) auditRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/regions/{region}/audit/entries", h.auditEntries)
	mux.HandleFunc("GET /v1/regions/{region}/audit/entries/{index}", h.auditEntry)
	mux.HandleFunc("GET /v1/regions/{region}/audit/proofs/inclusion", h.auditInclusion)
	mux.HandleFunc("GET /v1/regions/{region}/audit/proofs/consistency", h.auditConsistency)
	mux.HandleFunc("GET /v1/regions/{region}/audit/checkpoint", h.auditCheckpoint)
	mux.HandleFunc("GET /v1/regions/{region}/audit/pubkey", h.auditPubkey)
}

// auditLog checks the region, the admin permission and that the log is on.
func (h *region) auditLog(w http.ResponseWriter, r *http.Request) (*audit.Log, bool) {
	if !h.checkRegion(w, r) || !h.checkAdmin(w, r) {
		return nil, false
	}
	l := h.v.Audit()
	if l == nil {
		writeProblem(w, r, h.log, Errorf(CodeAuditUnavailable, "the audit log is off in this region"))
		return nil, false
	}
	return l, true
}

func uintParam(r *http.Request, name string, required bool) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" && !required {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, Errorf(CodeInvalidRequest, "%s must be a whole number", name)
	}
	return n, nil
}

func (h *region) auditError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, audit.ErrRange), errors.Is(err, audit.ErrNotFound):
		writeProblem(w, r, h.log, &Error{Code: CodeAuditOutOfRange, Detail: "no such entry or tree size in this region's log", Err: err})
	case errors.Is(err, audit.ErrCursor):
		writeProblem(w, r, h.log, Errorf(string(vault.CodeInvalidCursor), "cursor is not valid for this listing"))
	default:
		writeProblem(w, r, h.log, err)
	}
}

func (h *region) auditEntries(w http.ResponseWriter, r *http.Request) {
	l, ok := h.auditLog(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := audit.Filter{Principal: q.Get("principal"), Action: entry.Action(q.Get("action")), Record: q.Get("record")}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "%s must be an RFC 3339 time", name))
				return
			}
			*dst = t
		}
	}
	limit, err := limitParam(r)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if limit == 0 {
		limit = vault.DefaultPageSize
	}
	list, next, err := l.List(r.Context(), f, q.Get("cursor"), min(limit, vault.MaxPageSize))
	if err != nil {
		h.auditError(w, r, err)
		return
	}
	out := client.AuditEntries{Entries: make([]client.AuditRecord, len(list)), Next: next}
	for i := range list {
		out.Entries[i] = wireEntry(&list[i])
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) auditEntry(w http.ResponseWriter, r *http.Request) {
	l, ok := h.auditLog(w, r)
	if !ok {
		return
	}
	i, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "index must be a whole number"))
		return
	}
	raw, e, err := l.Entry(r.Context(), i)
	if err != nil {
		h.auditError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, client.AuditEntry{Entry: wireEntry(e), Raw: raw, LeafHash: tlog.LeafHash(h.v.Keyring().Suite().Hash(), raw)})
}

func (h *region) auditInclusion(w http.ResponseWriter, r *http.Request) {
	h.auditProof(w, r, "index", "size", (*audit.Log).InclusionProof, func(i uint64) client.AuditProof { return client.AuditProof{Index: i} })
}

func (h *region) auditConsistency(w http.ResponseWriter, r *http.Request) {
	h.auditProof(w, r, "old", "new", (*audit.Log).ConsistencyProof, func(old uint64) client.AuditProof { return client.AuditProof{Old: old} })
}

// auditProof answers an inclusion or a consistency proof: firstParam names
// the entry index or the old size, sizeParam the tree size (default: the
// current size, after integrating what is pending); with the root of that
// tree and the name of its hash.
func (h *region) auditProof(w http.ResponseWriter, r *http.Request, firstParam, sizeParam string,
	prove func(*audit.Log, context.Context, uint64, uint64) ([][]byte, error), wire func(first uint64) client.AuditProof) {
	l, ok := h.auditLog(w, r)
	if !ok {
		return
	}
	first, err := uintParam(r, firstParam, true)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	size, err := uintParam(r, sizeParam, false)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	ctx := r.Context()
	if size == 0 || size > l.Size() || first >= l.Size() {
		if err := l.Sync(ctx); err != nil {
			writeProblem(w, r, h.log, err)
			return
		}
	}
	if size == 0 {
		size = l.Size()
	}
	hashes, err := prove(l, ctx, first, size)
	if err != nil {
		h.auditError(w, r, err)
		return
	}
	root, err := l.Root(ctx, size)
	if err != nil {
		h.auditError(w, r, err)
		return
	}
	out := wire(first)
	out.Size, out.Root, out.Hashes, out.Hash = size, root, nonNil(hashes), h.v.Keyring().Suite().Hash().ID()
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	l, ok := h.auditLog(w, r)
	if !ok {
		return
	}
	if _, err := l.Checkpoint(r.Context()); err != nil && !errors.Is(err, audit.ErrNotFound) {
		writeProblem(w, r, h.log, err)
		return
	}
	cp, err := l.LatestCheckpoint()
	if err != nil {
		h.auditError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
}

func (h *region) auditPubkey(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.auditLog(w, r); !ok {
		return
	}
	k := h.v.Keyring()
	der, err := k.Suite().Signature().MarshalPublicKey(k.AuditPublicKey())
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func wireEntry(e *entry.Entry) client.AuditRecord {
	out := client.AuditRecord{Index: e.Index, Time: e.Time, Region: e.Region, RequestID: e.RequestID, Principal: e.Principal,
		Location: e.Location, Action: string(e.Action), Collection: e.Collection, Records: e.Records, Fields: e.Fields,
		Purpose: e.Purpose, Decision: e.Decision, Rule: e.Rule, Outcome: e.Outcome}
	for _, s := range e.Subjects {
		out.Subjects = append(out.Subjects, []byte(s))
	}
	return out
}

// nonNil makes an empty proof an empty list rather than null.
func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}
