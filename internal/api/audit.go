package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

func uintParam(r *http.Request, name string, required bool) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" && !required {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errcode.New(errcode.InvalidRequest, "%s must be a whole number", name)
	}
	return n, nil
}

func (h *handler) auditEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := region.AuditFilter{Principal: q.Get("principal"), Action: entry.Action(q.Get("action")), Record: q.Get("record")}
	if err := timeParams(r, map[string]*time.Time{"from": &f.From, "to": &f.To}); err != nil {
		h.fail(w, r, err)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, next, err := h.s.AuditEntries(r.Context(), caller(r), r.PathValue("region"), f, q.Get("cursor"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.AuditEntries{Entries: make([]client.AuditRecord, len(list)), Next: next}
	for i := range list {
		out.Entries[i] = wireEntry(&list[i])
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) auditEntry(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		h.fail(w, r, errcode.New(errcode.InvalidRequest, "index must be a whole number"))
		return
	}
	e, err := h.s.AuditEntry(r.Context(), caller(r), r.PathValue("region"), i)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.AuditEntry{Entry: wireEntry(e.Entry), Raw: e.Raw, LeafHash: e.LeafHash})
}

func (h *handler) auditInclusion(w http.ResponseWriter, r *http.Request) {
	h.auditProof(w, r, "index", "size", h.s.InclusionProof, func(i uint64) client.AuditProof { return client.AuditProof{Index: i} })
}

func (h *handler) auditConsistency(w http.ResponseWriter, r *http.Request) {
	h.auditProof(w, r, "old", "new", h.s.ConsistencyProof, func(old uint64) client.AuditProof { return client.AuditProof{Old: old} })
}

// auditProof answers an inclusion or a consistency proof: firstParam names
// the entry index or the old size, sizeParam the tree size (default: the
// current size).
func (h *handler) auditProof(w http.ResponseWriter, r *http.Request, firstParam, sizeParam string,
	prove func(context.Context, region.Caller, string, uint64, uint64) (*region.Proof, error), wire func(first uint64) client.AuditProof) {
	first, err := uintParam(r, firstParam, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	size, err := uintParam(r, sizeParam, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := prove(r.Context(), caller(r), r.PathValue("region"), first, size)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := wire(first)
	out.Size, out.Root, out.Hashes, out.Hash = p.Size, p.Root, p.Hashes, p.Hash
	web.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := h.s.Checkpoint(r.Context(), caller(r), r.PathValue("region"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp)
}

func (h *handler) auditPubkey(w http.ResponseWriter, r *http.Request) {
	pem, err := h.s.AuditPublicKey(r.Context(), caller(r), r.PathValue("region"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pem)
}

func (h *handler) auditKeys(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	hist, err := h.s.AuditKeys(r.Context(), caller(r), region)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.AuditKeys{Region: region, Origin: hist.Origin, Keys: make([]client.AuditKey, len(hist.Keys))}
	for i, k := range hist.Keys {
		out.Keys[i] = client.AuditKey{Version: k.Version, State: string(k.State), Current: k.Current, Created: k.Created,
			Algorithm: k.Suite.Signature().ID(), PublicKey: string(k.PEM), KeyHash: hex.EncodeToString(k.KeyHash[:]),
			Fingerprint: hex.EncodeToString(k.Fingerprint), Checkpoints: k.Checkpoints, FirstSize: k.First, LastSize: k.Last}
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// auditExport streams the log. Once the first line is out an error can
// only cut the stream short (the header says how many entries to expect);
// before, it is a problem answer like any other.
func (h *handler) auditExport(w http.ResponseWriter, r *http.Request) {
	sw := &startWriter{w: w}
	err := h.s.AuditExport(r.Context(), caller(r), r.PathValue("region"), sw)
	if err != nil && !sw.started {
		h.fail(w, r, err)
		return
	}
	if err != nil {
		h.log.Warn("audit export cut short", "request_id", web.RequestID(r), "err", err)
		panic(http.ErrAbortHandler) // the client sees a cut stream, not a complete export
	}
}

// startWriter sets the export's headers at its first write.
type startWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/x-ndjson")
		s.w.WriteHeader(http.StatusOK)
	}
	return s.w.Write(p)
}

func wireEntry(e *entry.Entry) client.AuditRecord {
	out := client.AuditRecord{Index: e.Index, Time: e.Time, Region: e.Region, RequestID: e.RequestID, Principal: e.Principal,
		Location: e.Location, Action: string(e.Action), Collection: e.Collection, Records: e.Records, Fields: e.Fields,
		Purpose: e.Purpose, Decision: e.Decision, Rule: e.Rule, Outcome: e.Outcome, Masked: e.Masked, Version: e.Version}
	for _, s := range e.Subjects {
		out.Subjects = append(out.Subjects, []byte(s))
	}
	for _, r := range e.Refused {
		out.Refused = append(out.Refused, client.AuditRefusal{Field: r.Field, Code: r.Code})
	}
	return out
}
