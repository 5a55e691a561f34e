package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

// RegionOptions configure one region's API.
type RegionOptions struct {
	// Service is the region's use-case layer: every request is decided,
	// revealed, watched and recorded there.
	Service *region.Service
	Logger  *slog.Logger
	Metrics *web.Metrics
	MaxBody int64
	// Sealer, when set, is the node's seal state, which the seal and
	// unseal routes drive; nil refuses to seal through the API.
	Sealer Sealer
}

// handler serves the API of one region: it decodes a request, calls the
// region service and encodes the answer, nothing more.
type handler struct {
	s      *region.Service
	log    *slog.Logger
	sealer Sealer
}

// NewRegion returns the handler of one region's node: every route of
// web.Routes, the /v1 API authenticated on every request, plus /healthz,
// /readyz, /metrics and /v1/openapi.json.
func NewRegion(o RegionOptions) (http.Handler, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{s: o.Service, log: log, sealer: o.Sealer}
	handlers := map[string]http.HandlerFunc{
		"createRecords":            h.create,
		"getRecord":                h.get,
		"patchRecord":              h.patch,
		"deleteRecord":             h.delete,
		"listSubjectRecords":       h.listSubject,
		"exportCollection":         h.exportCollection,
		"eraseSubject":             h.eraseSubject,
		"searchCollection":         h.search,
		"tokenize":                 h.tokenize,
		"detokenize":               h.detokenize,
		"listRegions":              h.regions,
		"getRegionKeys":            h.keys,
		"rotateRegionKey":          h.rotate,
		"rewrapRegionKeys":         h.rewrap,
		"migrateRegionSuite":       h.migrate,
		"getRegionKeyUsage":        h.keyUsage,
		"retireRegionKey":          h.retireKey,
		"destroyRegionKey":         h.destroyKey,
		"sealRegion":               h.seal,
		"getRegionPolicy":          h.getPolicy,
		"putRegionPolicy":          h.putPolicy,
		"unsealRegion":             h.unsealed,
		"seedDecoys":               h.seedDecoys,
		"listAuditEntries":         h.auditEntries,
		"getAuditEntry":            h.auditEntry,
		"getAuditInclusionProof":   h.auditInclusion,
		"getAuditConsistencyProof": h.auditConsistency,
		"getAuditCheckpoint":       h.auditCheckpoint,
		"getAuditPublicKey":        h.auditPubkey,
		"listAuditKeys":            h.auditKeys,
		"exportAuditLog":           h.auditExport,
		"backupRegion":             h.backup,
		"getTransferReport":        h.transferReport,
		"listConsents":             h.listConsents,
		"exportSubject":            h.exportSubject,
		"giveConsent":              h.giveConsent,
		"withdrawConsent":          h.withdrawConsent,
		"listAlerts":               h.alerts,
		"createPrincipal":          h.createPrincipal,
		"listPrincipals":           h.listPrincipals,
		"getPrincipal":             h.getPrincipal,
		"updatePrincipal":          h.updatePrincipal,
		"deletePrincipal":          h.deletePrincipal,
		"disablePrincipal":         h.setState(access.Disabled),
		"enablePrincipal":          h.setState(access.Active),
		"unlockPrincipal":          h.unlock,
		"rotatePrincipalToken":     h.rotateToken,
		"getOpenAPI":               web.ServeOpenAPI,
		"getHealth": func(w http.ResponseWriter, r *http.Request) {
			web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		},
		"getReadiness": func(w http.ResponseWriter, r *http.Request) {
			if err := o.Service.Ready(); err != nil {
				web.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
				return
			}
			web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		},
	}
	if o.Metrics != nil {
		handlers["getMetrics"] = o.Metrics.Handler().ServeHTTP
	} else {
		handlers["getMetrics"] = web.NotFound
	}
	mux := http.NewServeMux()
	err := web.Register(mux, web.Routes, func(rt web.Route) http.Handler {
		f, ok := handlers[rt.Name]
		if !ok {
			return nil
		}
		if rt.Public {
			return f
		}
		return RequireAuth(f, o.Service, log)
	})
	if err != nil {
		return nil, err
	}
	// Anything else under /v1/ is refused as unauthenticated before it is
	// refused as unknown: an endpoint's existence is not told to strangers.
	unknown := RequireAuth(http.HandlerFunc(web.NotFound), o.Service, log)
	mux.Handle("/v1/", unknown)
	mux.Handle("/v1", unknown) // else the router redirects to /v1/
	mux.HandleFunc("/", web.NotFound)
	return web.Middleware(mux, o.Metrics.At(web.LayerRegion, o.Service.Name()), log, o.MaxBody), nil
}

// caller is who makes request r, and why.
func caller(r *http.Request) region.Caller {
	a, _ := AccountOf(r.Context())
	c := region.Caller{Account: a, RequestID: requestID(r), Purpose: r.Header.Get(web.PurposeHeader),
		Route: strings.ReplaceAll(r.Pattern, " ", ":")}
	if v := r.Header.Get(web.GuardElsewhereHeader); v != "" {
		c.Elsewhere.Counts, c.Elsewhere.LockedIn = web.ParseGuardElsewhere(v)
	}
	return c
}

// limitParam reads ?limit= by the one paging rule.
func limitParam(r *http.Request) (int, error) {
	return paging.Param(r.URL.Query().Get("limit"))
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var req client.CreateRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	recs := make([]region.NewRecord, len(req.Records))
	for i, nr := range req.Records {
		recs[i] = region.NewRecord{Collection: nr.Collection, Subject: nr.Subject, Jurisdiction: nr.Jurisdiction, Fields: nr.Fields}
	}
	out, err := h.s.Create(r.Context(), caller(r), recs, r.Header.Get("Idempotency-Key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := client.CreateResponse{Records: make([]client.Created, len(out.Records)), Replayed: out.Replayed}
	for i, c := range out.Records {
		resp.Records[i] = client.Created{ID: c.ID, Region: c.Region}
		for _, t := range c.Tokens {
			resp.Records[i].Tokens = append(resp.Records[i].Tokens, client.FieldToken{Field: t.Field, Token: t.Token, Kind: t.Kind, KeyVersion: t.KeyVersion})
		}
	}
	status := http.StatusCreated
	if out.Replayed {
		status = http.StatusOK
	}
	web.WriteJSON(w, status, resp)
}

// wireRecord renders a record as the caller may see it.
func wireRecord(rec *region.Record) client.Record {
	return client.Record{ID: rec.ID, Collection: rec.Collection, Subject: rec.Subject, Jurisdiction: rec.Jurisdiction,
		Region: rec.Region, Created: rec.Created, Updated: rec.Updated, Fields: rec.Fields,
		Access: &client.Access{Rule: rec.Access.Rule, Transfer: rec.Access.Transfer, Roles: rec.Access.Roles,
			Fields: rec.Access.Fields, Reasons: rec.Access.Reasons}}
}

func wirePage(p *region.Page) client.Page {
	out := client.Page{Records: make([]client.Record, len(p.Records)), Next: p.Next}
	for i := range p.Records {
		out.Records[i] = wireRecord(&p.Records[i])
	}
	return out
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	rec, err := h.s.Get(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set(web.RuleHeader, rec.Access.Rule)
	web.WriteJSON(w, http.StatusOK, wireRecord(rec))
}

func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	var req client.PatchRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	rec, err := h.s.Patch(r.Context(), caller(r), r.PathValue("id"), req.Set, req.Remove)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, wireRecord(rec))
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.s.Delete(r.Context(), caller(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listSubject(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.s.ListSubject(r.Context(), caller(r), r.PathValue("subject"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, wirePage(p))
}

func (h *handler) eraseSubject(w http.ResponseWriter, r *http.Request) {
	n, err := h.s.EraseSubject(r.Context(), caller(r), r.PathValue("subject"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.EraseResponse{Erased: n, Regions: map[string]int{h.s.Name(): n}})
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	var req client.SearchRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.s.Search(r.Context(), caller(r), region.Search{Collection: r.PathValue("collection"), Field: req.Field,
		Value: req.Value, Jurisdiction: req.Jurisdiction, Cursor: req.Cursor, Limit: req.Limit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, wirePage(p))
}

func (h *handler) regions(w http.ResponseWriter, r *http.Request) {
	d, err := h.s.Describe(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	reg := client.Region{Name: d.Name, Suite: d.Suite, Residency: d.Residency, Jurisdictions: d.Jurisdictions,
		Algorithms: d.Algorithms, KeyVersions: d.KeyVersions, Records: d.Records, Migration: d.Migration}
	web.WriteJSON(w, http.StatusOK, client.RegionsResponse{Regions: []client.Region{reg}})
}

func (h *handler) keys(w http.ResponseWriter, r *http.Request) {
	ks, err := h.s.Keys(r.Context(), caller(r), r.PathValue("region"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.KeyStatus{Region: h.s.Name(), Suite: string(ks.Suite), Subject: ks.SubjectKeys}
	for _, p := range ks.Purposes {
		kp := client.KeyPurpose{Purpose: string(p.Purpose), Current: p.Current}
		for _, v := range p.Versions {
			kp.Versions = append(kp.Versions, client.KeyVersion{Version: v.Version, Created: v.Created, State: string(v.State), Suite: v.Suite})
		}
		out.Keys = append(out.Keys, kp)
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) rotate(w http.ResponseWriter, r *http.Request) {
	var req client.RotateRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.s.Rotate(r.Context(), caller(r), r.PathValue("region"), req.Purpose)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.RotateResponse{Region: h.s.Name(), Purpose: req.Purpose, Version: v})
}
