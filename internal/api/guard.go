package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

// timeParams reads RFC 3339 query parameters into their destinations.
func timeParams(r *http.Request, dst map[string]*time.Time) error {
	for name, t := range dst {
		if s := r.URL.Query().Get(name); s != "" {
			v, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return errcode.New(errcode.InvalidRequest, "%s must be an RFC 3339 time such as 2026-11-25T00:00:00Z", name)
			}
			*t = v
		}
	}
	return nil
}

// alerts lists the region's alerts (admin).
func (h *handler) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := region.AlertFilter{Principal: q.Get("principal"), Rule: q.Get("rule"), MinSeverity: q.Get("min_severity")}
	if err := timeParams(r, map[string]*time.Time{"since": &f.Since, "until": &f.Until}); err != nil {
		h.fail(w, r, err)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, next, err := h.s.Alerts(r.Context(), caller(r), f, q.Get("cursor"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.AlertsResponse{Alerts: make([]client.Alert, len(list)), Next: next}
	for i, a := range list {
		out.Alerts[i] = client.Alert{ID: a.ID, Time: a.Time, Region: a.Region, Principal: a.Principal, Rule: a.Rule,
			Severity: a.Severity, Response: a.Response, Signal: a.Signal, Window: a.Window, Count: a.Count, Limit: a.Limit,
			Expected: a.Expected, Counts: a.Counts, Action: string(a.Action), RequestIDs: a.RequestIDs}
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// seedDecoys creates honeytoken customers in the region (admin).
func (h *handler) seedDecoys(w http.ResponseWriter, r *http.Request) {
	var req client.SeedDecoysRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	n, err := h.s.SeedDecoys(r.Context(), caller(r), region.Decoys{Region: r.PathValue("region"), Collection: req.Collection,
		Jurisdictions: req.Jurisdictions, Count: req.Count, Principal: req.Principal, Purpose: req.Purpose, Spread: req.Spread})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	spread := req.Spread
	if spread == "" {
		// "24h", not Duration.String's "24h0m0s".
		spread = strings.TrimSuffix(strings.TrimSuffix(region.DefaultDecoySpread.String(), "0s"), "0m")
	}
	web.WriteJSON(w, http.StatusOK, client.SeedDecoysResponse{Region: h.s.Name(), Seeded: n, Spread: spread})
}
