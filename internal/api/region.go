package api

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/vault"
)

// RegionOptions configure one region's API.
type RegionOptions struct {
	Vault   *vault.Vault
	Auth    Authenticator
	Logger  *slog.Logger
	Metrics *Metrics
	MaxBody int64
}

// region serves the API of one region.
type region struct {
	v   *vault.Vault
	log *slog.Logger
}

// NewRegion returns the handler of one region's node: the /v1 API with
// authentication, plus /healthz, /readyz, /metrics and /v1/openapi.json.
func NewRegion(o RegionOptions) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &region{v: o.Vault, log: log}
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/records", h.create)
	api.HandleFunc("GET /v1/records/{id}", h.get)
	api.HandleFunc("PATCH /v1/records/{id}", h.patch)
	api.HandleFunc("DELETE /v1/records/{id}", h.delete)
	api.HandleFunc("GET /v1/subjects/{subject}/records", h.listSubject)
	api.HandleFunc("DELETE /v1/subjects/{subject}", h.eraseSubject)
	api.HandleFunc("POST /v1/collections/{collection}/search", h.search)
	api.HandleFunc("GET /v1/regions", h.regions)
	api.HandleFunc("GET /v1/regions/{region}/keys", h.keys)
	api.HandleFunc("POST /v1/regions/{region}/keys/rotate", h.rotate)
	api.HandleFunc("/", notFound)

	mux := http.NewServeMux()
	mux.Handle("/v1/", RequireAuth(api, o.Auth, log))
	mux.HandleFunc("GET /v1/openapi.json", ServeOpenAPI)
	addProbes(mux, o.Metrics, func() error { return nil })
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

func (h *region) create(w http.ResponseWriter, r *http.Request) {
	var req client.CreateRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	recs := make([]vault.NewRecord, len(req.Records))
	for i, nr := range req.Records {
		recs[i] = vault.NewRecord{Collection: nr.Collection, Subject: nr.Subject, Jurisdiction: nr.Jurisdiction, Fields: nr.Fields}
	}
	p, _ := PrincipalOf(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "Idempotency-Key is longer than 255 bytes"))
		return
	}
	out, err := h.v.Create(r.Context(), recs, vault.CreateOptions{IdempotencyKey: key, Scope: p.ID})
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	resp := client.CreateResponse{Records: make([]client.Created, len(out))}
	status := http.StatusCreated
	for i, c := range out {
		resp.Records[i] = client.Created{ID: c.ID, Region: c.Region}
		if c.Replayed {
			resp.Replayed, status = true, http.StatusOK
		}
	}
	WriteJSON(w, status, resp)
}

func wireRecord(r *vault.Record) client.Record {
	return client.Record{ID: r.ID, Collection: r.Collection, Subject: r.Subject, Jurisdiction: r.Jurisdiction,
		Region: r.Region, Fields: r.Fields, Created: r.Created, Updated: r.Updated}
}

func wirePage(p *vault.Page) client.Page {
	out := client.Page{Records: make([]client.Record, len(p.Records)), Next: p.Next}
	for i, r := range p.Records {
		out.Records[i] = wireRecord(r)
	}
	return out
}

func (h *region) get(w http.ResponseWriter, r *http.Request) {
	rec, err := h.v.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, wireRecord(rec))
}

func (h *region) patch(w http.ResponseWriter, r *http.Request) {
	var req client.PatchRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	rec, err := h.v.Patch(r.Context(), r.PathValue("id"), req.Set, req.Remove)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, wireRecord(rec))
}

func (h *region) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.v.Delete(r.Context(), r.PathValue("id")); err != nil {
		writeProblem(w, r, h.log, err)
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
	WriteJSON(w, http.StatusOK, wirePage(p))
}

func (h *region) eraseSubject(w http.ResponseWriter, r *http.Request) {
	n, err := h.v.EraseSubject(r.Context(), r.PathValue("subject"))
	if err != nil {
		writeProblem(w, r, h.log, err)
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
	p, err := h.v.Find(r.Context(), r.PathValue("collection"), req.Field, req.Value, req.Jurisdiction, req.Cursor, req.Limit)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, wirePage(p))
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

// checkAdmin and checkRegion guard the key endpoints.
func (h *region) checkAdmin(w http.ResponseWriter, r *http.Request) bool {
	if p, _ := PrincipalOf(r.Context()); !p.Admin {
		writeProblem(w, r, h.log, Errorf(CodeForbidden, "key management needs the admin permission"))
		return false
	}
	if name := r.PathValue("region"); name != h.v.Region().Name {
		writeProblem(w, r, h.log, Errorf(CodeUnknownRegion, "this node serves region %s", h.v.Region().Name))
		return false
	}
	return true
}

func (h *region) keys(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
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
	if !h.checkAdmin(w, r) {
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
	v, err := h.v.Keyring().Rotate(r.Context(), p)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, client.RotateResponse{Region: h.v.Region().Name, Purpose: req.Purpose, Version: v})
}
