package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
)

// PurposeHeader names the request header that states a request's purpose.
const PurposeHeader = "Domicile-Purpose"

// RuleHeader names the response header saying which access rule applied.
const RuleHeader = "Domicile-Access-Rule"

// RegionOptions configure one region's API.
type RegionOptions struct {
	Vault  *vault.Vault
	Tokens *tokens.Service
	// Guard, when set, sees every request before its answer and may slow
	// it down or lock its principal.
	Guard     *guard.Guard
	Directory *access.Directory
	Access    *access.Engine
	Masker    access.Masker
	Logger    *slog.Logger
	Metrics   *Metrics
	MaxBody   int64
}

// region serves the API of one region.
type region struct {
	v      *vault.Vault
	tokens *tokens.Service
	guard  *guard.Guard
	dir    *access.Directory
	engine *access.Engine
	masker access.Masker
	log    *slog.Logger
}

// NewRegion returns the handler of one region's node: the /v1 API with
// authentication and an access decision on every request, plus /healthz,
// /readyz, /metrics and /v1/openapi.json.
func NewRegion(o RegionOptions) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &region{v: o.Vault, tokens: o.Tokens, guard: o.Guard, dir: o.Directory, engine: o.Access, masker: o.Masker, log: log}
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/records", h.create)
	api.HandleFunc("GET /v1/records/{id}", h.get)
	api.HandleFunc("PATCH /v1/records/{id}", h.patch)
	api.HandleFunc("DELETE /v1/records/{id}", h.delete)
	api.HandleFunc("GET /v1/subjects/{subject}/records", h.listSubject)
	api.HandleFunc("DELETE /v1/subjects/{subject}", h.eraseSubject)
	api.HandleFunc("POST /v1/collections/{collection}/search", h.search)
	api.HandleFunc("POST /v1/tokenize", h.tokenize)
	api.HandleFunc("POST /v1/detokenize", h.detokenize)
	api.HandleFunc("GET /v1/alerts", h.alerts)
	api.HandleFunc("POST /v1/regions/{region}/decoys", h.seedDecoys)
	api.HandleFunc("GET /v1/regions", h.regions)
	api.HandleFunc("GET /v1/regions/{region}/keys", h.keys)
	api.HandleFunc("POST /v1/regions/{region}/keys/rotate", h.rotate)
	h.principalRoutes(api)
	h.auditRoutes(api)
	api.HandleFunc("/", notFound)

	mux := http.NewServeMux()
	mux.Handle("/v1/", RequireAuth(api, o.Directory, log))
	mux.HandleFunc("GET /v1/openapi.json", ServeOpenAPI)
	addProbes(mux, o.Metrics, func() error {
		if l := o.Vault.Audit(); l != nil {
			return l.Err() // a log that cannot integrate is not ready
		}
		return nil
	})
	mux.HandleFunc("/", notFound)
	return Middleware(mux, o.Metrics, log, o.MaxBody)
}

// addProbes adds /healthz, /readyz and /metrics.
func addProbes(mux *http.ServeMux, m *Metrics, ready func() error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
}

// decide runs the access decision for the request's principal and logs
// it (ids, action, rule and outcome; never a value). A denial is answered
// here and reported as ok=false.
func (h *region) decide(w http.ResponseWriter, r *http.Request, action policy.Permission, collection, jurisdiction string) (access.Decision, bool) {
	a, _ := AccountOf(r.Context())
	req := access.Request{Action: action, Purpose: r.Header.Get(PurposeHeader), Region: h.v.Region().Name,
		Collection: collection, Jurisdiction: jurisdiction}
	d := h.engine.Decide(a.Principal(), req)
	h.log.Info("access", "request_id", requestID(r), "principal", a.ID, "location", a.Location, "action", string(action),
		"collection", collection, "purpose", req.Purpose, "allowed", d.Allowed, "code", d.Code, "rule", d.Rule, "transfer", d.Transfer)
	if !d.Allowed {
		if h.guard != nil {
			// Denials are a signal too; the answer is the denial.
			h.guard.Observe(r.Context(), guard.Event{Principal: a.ID, Roles: a.Roles, Action: guardAction(action), Denied: true})
		}
		h.record(nil, r, entry.Entry{Action: auditAction(action), Collection: collection, Decision: "deny", Rule: d.Code, Outcome: entry.Denied})
		detail := "access denied: " + firstReason(d)
		if d.Code == access.CodePermissionDenied {
			detail = "principal " + a.ID + " lacks permission " + d.Missing + " in region " + h.v.Region().Name
		}
		writeProblem(w, r, h.log, Errorf(d.Code, "%s", detail))
		return d, false
	}
	return d, true
}

func firstReason(d access.Decision) string {
	if len(d.Reasons) == 0 {
		return d.Code
	}
	return d.Reasons[len(d.Reasons)-1]
}

func (h *region) create(w http.ResponseWriter, r *http.Request) {
	var req client.CreateRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	recs := make([]vault.NewRecord, len(req.Records))
	rule := ""
	for i, nr := range req.Records {
		d, ok := h.decide(w, r, policy.PermCreate, nr.Collection, nr.Jurisdiction)
		if !ok {
			return
		}
		rule = d.Rule
		recs[i] = vault.NewRecord{Collection: nr.Collection, Subject: nr.Subject, Jurisdiction: nr.Jurisdiction, Fields: nr.Fields}
	}
	a, _ := AccountOf(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "Idempotency-Key is longer than 255 bytes"))
		return
	}
	out, err := h.v.Create(r.Context(), recs, vault.CreateOptions{IdempotencyKey: key, Scope: a.ID, Actor: h.actor(r, rule)})
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	resp := client.CreateResponse{Records: make([]client.Created, len(out))}
	ids := make([]string, len(out))
	for i, c := range out {
		ids[i] = c.ID
	}
	if !h.observe(w, r, guard.Event{Action: guard.ActionWrite, RecordIDs: ids}) {
		return
	}
	status := http.StatusCreated
	for i, c := range out {
		resp.Records[i] = client.Created{ID: c.ID, Region: c.Region}
		for _, t := range c.Tokens {
			resp.Records[i].Tokens = append(resp.Records[i].Tokens, client.FieldToken{Field: t.Field, Token: t.Token, Kind: t.Kind, KeyVersion: t.KeyVersion})
		}
		if c.Replayed {
			resp.Replayed, status = true, http.StatusOK
		}
	}
	WriteJSON(w, status, resp)
}

// shape applies the read decision of the request's principal to a record:
// masking happens here, in the region, before anything leaves it.
func (h *region) shape(r *http.Request, rec *vault.Record) client.Record {
	a, _ := AccountOf(r.Context())
	d := h.engine.Decide(a.Principal(), access.Request{Action: policy.PermRead, Purpose: r.Header.Get(PurposeHeader),
		Region: h.v.Region().Name, Collection: rec.Collection, Jurisdiction: rec.Jurisdiction})
	return h.shapeWith(rec, d)
}

// shapeWith applies a read decision already made for this record.
func (h *region) shapeWith(rec *vault.Record, d access.Decision) client.Record {
	out := client.Record{ID: rec.ID, Collection: rec.Collection, Subject: rec.Subject, Jurisdiction: rec.Jurisdiction,
		Region: rec.Region, Created: rec.Created, Updated: rec.Updated, Fields: map[string]string{},
		Access: &client.Access{Rule: d.Rule, Transfer: d.Transfer, Roles: d.Roles, Fields: map[string]string{}, Reasons: d.Reasons}}
	if !d.Allowed {
		out.Access.Rule = "denied"
		return out
	}
	out.Fields = h.masker.Filter(d, rec.Fields)
	for name := range out.Fields {
		out.Access.Fields[name] = d.Fields[name].String()
	}
	return out
}

func (h *region) shapePage(r *http.Request, p *vault.Page) client.Page {
	out := client.Page{Records: make([]client.Record, len(p.Records)), Next: p.Next}
	for i, rec := range p.Records {
		out.Records[i] = h.shape(r, rec)
	}
	return out
}

func (h *region) get(w http.ResponseWriter, r *http.Request) {
	rec, err := h.v.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	d, ok := h.decide(w, r, policy.PermRead, rec.Collection, rec.Jurisdiction)
	if !ok {
		return
	}
	out := h.shapeWith(rec, d)
	if !h.observe(w, r, guard.Event{Action: guard.ActionRead, RecordIDs: []string{rec.ID}, ClearFields: clearCount(out)}) {
		return
	}
	if !h.record(w, r, h.readEntry(entry.Read, rec.Collection, out.Access.Rule, out)) {
		return
	}
	w.Header().Set(RuleHeader, out.Access.Rule)
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) patch(w http.ResponseWriter, r *http.Request) {
	var req client.PatchRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	id := r.PathValue("id")
	cur, err := h.v.Meta(r.Context(), id) // no need to decrypt to decide
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	d, ok := h.decide(w, r, policy.PermUpdate, cur.Collection, cur.Jurisdiction)
	if !ok {
		return
	}
	rec, err := h.v.Patch(r.Context(), id, req.Set, req.Remove, h.actor(r, d.Rule))
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	out := h.shape(r, rec)
	if !h.observe(w, r, guard.Event{Action: guard.ActionWrite, RecordIDs: []string{id}, ClearFields: clearCount(out)}) {
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cur, err := h.v.Meta(r.Context(), id) // no need to decrypt to decide
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	d, ok := h.decide(w, r, policy.PermDelete, cur.Collection, cur.Jurisdiction)
	if !ok {
		return
	}
	if err := h.v.Delete(r.Context(), id, h.actor(r, d.Rule)); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if !h.observe(w, r, guard.Event{Action: guard.ActionWrite, RecordIDs: []string{id}}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// limitParam reads ?limit=.
func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, Errorf(CodeInvalidRequest, "limit must be a positive integer")
	}
	return n, nil
}

func (h *region) listSubject(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.decide(w, r, policy.PermRead, "", ""); !ok {
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	p, err := h.v.ListBySubject(r.Context(), r.PathValue("subject"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	out := h.shapePage(r, p)
	if !h.observe(w, r, guard.Event{Action: guard.ActionRead, RecordIDs: recordIDs(out.Records), ClearFields: clearCount(out.Records...)}) {
		return
	}
	if !h.record(w, r, h.readEntry(entry.Read, "", "", out.Records...)) {
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) eraseSubject(w http.ResponseWriter, r *http.Request) {
	d, ok := h.decide(w, r, policy.PermErase, "", "")
	if !ok {
		return
	}
	n, err := h.v.EraseSubject(r.Context(), r.PathValue("subject"), h.actor(r, d.Rule))
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if !h.observe(w, r, guard.Event{Action: guard.ActionWrite}) {
		return
	}
	WriteJSON(w, http.StatusOK, client.EraseResponse{Erased: n, Regions: map[string]int{h.v.Region().Name: n}})
}

func (h *region) search(w http.ResponseWriter, r *http.Request) {
	var req client.SearchRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	collection := r.PathValue("collection")
	if _, ok := h.decide(w, r, policy.PermSearch, collection, req.Jurisdiction); !ok {
		return
	}
	p, err := h.v.Find(r.Context(), collection, req.Field, req.Value, req.Jurisdiction, req.Cursor, req.Limit)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	out := h.shapePage(r, p)
	if !h.observe(w, r, guard.Event{Action: guard.ActionSearch, RecordIDs: recordIDs(out.Records), ClearFields: clearCount(out.Records...),
		SearchProbe: h.probe(collection, req.Field, req.Value, req.Jurisdiction)}) {
		return
	}
	se := h.readEntry(entry.Search, collection, "", out.Records...)
	se.Fields = append([]string{req.Field}, se.Fields...) // the field searched by first
	if !h.record(w, r, se) {
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) regions(w http.ResponseWriter, r *http.Request) {
	reg, err := h.describe(r)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, client.RegionsResponse{Regions: []client.Region{reg}})
}

func (h *region) describe(r *http.Request) (client.Region, error) {
	pr := h.v.Region()
	k := h.v.Keyring()
	st, err := h.v.Stats(r.Context())
	if err != nil {
		return client.Region{}, err
	}
	ks, err := k.Status(r.Context())
	if err != nil {
		return client.Region{}, err
	}
	out := client.Region{Name: pr.Name, Suite: string(pr.Suite), Residency: string(pr.Residency),
		Jurisdictions: pr.Jurisdictions, Algorithms: k.Suite().Algorithms(), KeyVersions: map[string]uint32{},
		Records: st.Records}
	for _, p := range ks.Purposes {
		out.KeyVersions[string(p.Purpose)] = p.Current
	}
	return out, nil
}

// checkAdmin guards the administrative endpoints of this region.
func (h *region) checkAdmin(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := h.decide(w, r, policy.PermAdmin, "", ""); !ok {
		return false
	}
	// Administration is audited like any access: the route is the rule.
	return h.record(w, r, entry.Entry{Action: entry.Admin, Decision: "allow", Rule: strings.ReplaceAll(r.Pattern, " ", ":")})
}

func (h *region) checkRegion(w http.ResponseWriter, r *http.Request) bool {
	if name := r.PathValue("region"); name != h.v.Region().Name {
		writeProblem(w, r, h.log, Errorf(CodeUnknownRegion, "this node serves region %s", h.v.Region().Name))
		return false
	}
	return true
}

func (h *region) keys(w http.ResponseWriter, r *http.Request) {
	if !h.checkRegion(w, r) || !h.checkAdmin(w, r) {
		return
	}
	ks, err := h.v.Keyring().Status(r.Context())
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, wireKeyStatus(h.v.Region().Name, ks))
}

func wireKeyStatus(region string, ks keyring.Status) client.KeyStatus {
	out := client.KeyStatus{Region: region, Suite: string(ks.Suite), Subject: ks.SubjectKeys}
	for _, p := range ks.Purposes {
		kp := client.KeyPurpose{Purpose: string(p.Purpose), Current: p.Current}
		for _, v := range p.Versions {
			kp.Versions = append(kp.Versions, client.KeyVersion{Version: v.Version, Created: v.Created, State: string(v.State)})
		}
		out.Keys = append(out.Keys, kp)
	}
	return out
}

func (h *region) rotate(w http.ResponseWriter, r *http.Request) {
	if !h.checkRegion(w, r) || !h.checkAdmin(w, r) {
		return
	}
	var req client.RotateRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	p := keyring.Purpose(req.Purpose)
	switch p {
	case keyring.Data, keyring.Index, keyring.Token, keyring.Audit:
	default:
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "purpose must be data, index, token or audit"))
		return
	}
	v, err := h.rotateAudited(r, p)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, client.RotateResponse{Region: h.v.Region().Name, Purpose: req.Purpose, Version: v})
}

// rotateAudited rotates purpose p's key with its audit entry, naming the
// new version, in the same commit: a rotation is never stored without its
// record.
func (h *region) rotateAudited(r *http.Request, p keyring.Purpose) (uint32, error) {
	log, kr := h.v.Audit(), h.v.Keyring()
	if log == nil {
		return kr.Rotate(r.Context(), p)
	}
	v, err := kr.RotateWith(r.Context(), p, func(b *store.Batch, v uint32) error {
		e := h.requestEntry(r, entry.Entry{Action: entry.Key, Decision: "allow", Rule: fmt.Sprintf("rotate:%s:v%d", p, v)})
		return log.Apply(r.Context(), b, e)
	})
	if errors.Is(err, audit.ErrNotRecorded) {
		return 0, &Error{Code: CodeAuditUnavailable, Detail: "the audit log cannot record the rotation; no key was added", Err: err}
	}
	return v, err
}

// guardAction maps a permission to the guard's action.
func guardAction(p policy.Permission) guard.Action {
	switch p {
	case policy.PermRead:
		return guard.ActionRead
	case policy.PermSearch:
		return guard.ActionSearch
	case policy.PermDetokenize:
		return guard.ActionDetokenize
	case policy.PermAdmin:
		return guard.ActionAdmin
	}
	return guard.ActionWrite
}

// auditAction maps a permission to the audit log's action.
func auditAction(p policy.Permission) entry.Action {
	switch p {
	case policy.PermCreate:
		return entry.Create
	case policy.PermRead:
		return entry.Read
	case policy.PermSearch:
		return entry.Search
	case policy.PermUpdate:
		return entry.Patch
	case policy.PermDelete:
		return entry.Delete
	case policy.PermErase:
		return entry.Erase
	case policy.PermDetokenize:
		return entry.Detokenize
	}
	return entry.Admin
}
