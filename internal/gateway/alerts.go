package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/web"
)

// alerts lists every region's alerts, newest first. Each region pages on
// its own; the cursor carries each region's cursor, as for records.
func (g *Gateway) alerts(w http.ResponseWriter, r *http.Request) {
	regions, cursors, err := g.regionsFor(r.URL.Query().Get("cursor"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	answers := g.fanOut(r, regions, http.MethodGet, "/v1/alerts", func(region string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "cursor" {
				v[k] = vs
			}
		}
		if c := cursors[region]; c != "" {
			v.Set("cursor", c)
		}
		return v.Encode()
	}, nil)
	if g.firstFailure(w, r, answers) {
		return
	}
	out := client.AlertsResponse{Alerts: []client.Alert{}}
	next := map[string]string{}
	for _, a := range answers {
		var ar client.AlertsResponse
		if err := json.Unmarshal(a.body, &ar); err != nil {
			g.fail(w, r, unavailable(a.region, "answered with a malformed body", err))
			return
		}
		out.Alerts = append(out.Alerts, ar.Alerts...)
		if ar.Next != "" {
			next[a.region] = ar.Next
		}
	}
	sort.SliceStable(out.Alerts, func(i, j int) bool { return out.Alerts[i].Time.After(out.Alerts[j].Time) })
	out.Next = encodeCursor(next)
	web.WriteJSON(w, http.StatusOK, out)
}
