package api

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/vault"
)

// observe reports what a request did to the guard, before the response is
// written. It answers the request itself, and returns false, when the
// guard locks the principal (403 principal_locked: the request that
// crossed the line is refused too) or cannot record the event (502
// region_unavailable: the guard fails closed, like the audit log). A slow verdict delays the
// response, bounded by the request's context.
func (h *region) observe(w http.ResponseWriter, r *http.Request, ev guard.Event) bool {
	if h.guard == nil {
		return true
	}
	a, _ := AccountOf(r.Context())
	ev.Principal, ev.Roles = a.ID, a.Roles
	v, err := h.guard.Observe(r.Context(), ev)
	if err != nil {
		writeProblem(w, r, h.log, &Error{Code: CodeUnavailable, Detail: "the breach detector could not record the request; nothing was returned", Err: err})
		return false
	}
	for _, al := range v.Alerts {
		h.log.Warn("guard alert", "request_id", requestID(r), "alert", al.ID, "rule", al.Rule, "severity", al.Severity,
			"principal", al.Principal, "response", al.Response)
	}
	if v.Lock {
		writeProblem(w, r, h.log, Errorf(CodePrincipalLocked, "principal %s is locked by the breach detector; an administrator unlocks it with 'domicile principals unlock'", a.ID))
		return false
	}
	if v.Delay > 0 {
		t := time.NewTimer(v.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	return true
}

// clearCount counts the fields of shaped records returned in clear.
func clearCount(recs ...client.Record) int {
	n := 0
	for _, rec := range recs {
		if rec.Access == nil {
			continue
		}
		for _, t := range rec.Access.Fields {
			if t == string(policy.AccessClear) {
				n++
			}
		}
	}
	return n
}

func recordIDs(recs []client.Record) []string {
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	return ids
}

// probe is the guard's keyed digest of a searched value, normalised so
// that the same value in another spelling counts once.
func (h *region) probe(collection, field, value, jurisdiction string) []byte {
	if h.guard == nil {
		return nil
	}
	norm, err := h.v.Normalize(collection, field, value, jurisdiction)
	if err != nil {
		norm = value
	}
	return h.guard.Probe(collection, field, norm)
}

// alerts lists the region's alerts (admin).
func (h *region) alerts(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
		return
	}
	if h.guard == nil {
		WriteJSON(w, http.StatusOK, client.AlertsResponse{Alerts: []client.Alert{}})
		return
	}
	q := r.URL.Query()
	f := guard.Filter{Principal: q.Get("principal"), Rule: q.Get("rule"), MinSeverity: q.Get("min_severity")}
	switch f.MinSeverity {
	case "", "low", "medium", "high", "critical":
	default:
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "min_severity must be low, medium, high or critical"))
		return
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "%s must be an RFC 3339 time such as 2026-11-25T00:00:00Z", name))
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
	list, next, err := h.guard.List(r.Context(), f, q.Get("cursor"), min(limit, vault.MaxPageSize))
	if errors.Is(err, guard.ErrCursor) {
		writeProblem(w, r, h.log, Errorf(string(vault.CodeInvalidCursor), "cursor is not valid for this listing"))
		return
	}
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	out := client.AlertsResponse{Alerts: make([]client.Alert, len(list)), Next: next}
	for i, a := range list {
		out.Alerts[i] = client.Alert{ID: a.ID, Time: a.Time, Region: a.Region, Principal: a.Principal, Rule: a.Rule,
			Severity: a.Severity, Response: a.Response, Signal: a.Signal, Window: a.Window, Count: a.Count, Limit: a.Limit,
			Expected: a.Expected, Counts: a.Counts}
	}
	WriteJSON(w, http.StatusOK, out)
}

// unlock reactivates a locked principal and gives it a fresh budget.
func (h *region) unlock(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
		return
	}
	id := r.PathValue("id")
	a, err := h.dir.SetState(r.Context(), id, access.Active)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if h.guard != nil {
		if err := h.guard.Unlock(r.Context(), id); err != nil {
			writeProblem(w, r, h.log, err)
			return
		}
	}
	WriteJSON(w, http.StatusOK, WirePrincipal(a))
}

// seedDecoys creates honeytoken customers in the region (admin).
func (h *region) seedDecoys(w http.ResponseWriter, r *http.Request) {
	if !h.checkRegion(w, r) || !h.checkAdmin(w, r) {
		return
	}
	var req client.SeedDecoysRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if h.guard == nil {
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "the breach detector is off in this region"))
		return
	}
	if req.Count < 1 || req.Count > 1000 {
		writeProblem(w, r, h.log, Errorf(CodeInvalidRequest, "count must be 1 to 1000"))
		return
	}
	if req.Collection == "" {
		req.Collection = "customers"
	}
	if _, ok := h.engine.Policy().Collection(req.Collection); !ok {
		writeProblem(w, r, h.log, Errorf(string(vault.CodeUnknownCollection), "collection %q is not in the policy", truncate(req.Collection)))
		return
	}
	if len(req.Jurisdictions) == 0 {
		req.Jurisdictions = h.v.Region().Countries()
		if len(req.Jurisdictions) == 0 || h.v.Region().IsCatchAll() {
			req.Jurisdictions = []string{"US"}
		}
		if len(req.Jurisdictions) > 8 {
			req.Jurisdictions = req.Jurisdictions[:8]
		}
	}
	creator := guard.CreatorFunc(func(ctx context.Context, recs []guard.DecoyRecord) ([]string, error) {
		nr := make([]vault.NewRecord, len(recs))
		for i, d := range recs {
			nr[i] = vault.NewRecord{Collection: d.Collection, Subject: d.Subject, Jurisdiction: d.Jurisdiction, Fields: d.Fields}
		}
		out, err := h.v.Create(ctx, nr, vault.CreateOptions{})
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(out))
		for i, c := range out {
			ids[i] = c.ID
		}
		return ids, nil
	})
	ids, err := h.guard.Seed(r.Context(), creator, seedGenerator(), req.Collection, req.Jurisdictions, req.Count)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	h.log.Info("decoys seeded", "request_id", requestID(r), "region", h.v.Region().Name, "count", len(ids))
	WriteJSON(w, http.StatusOK, client.SeedDecoysResponse{Region: h.v.Region().Name, Seeded: len(ids)})
}

// seedGenerator returns a generator of decoys nobody can predict.
func seedGenerator() *seed.Generator { return seed.New(rand.Uint64()) }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
