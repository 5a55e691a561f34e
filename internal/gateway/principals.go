package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access/bearer"
	"github.com/domicile/domicile/internal/web"
)

// Principals live in every region, so that each region authenticates on its
// own; the gateway fans every change out to all of them. A creation or
// token rotation picks the token here, once, so every region accepts the
// same token; regions keep only their own keyed MAC of it. Reads of one
// principal go to the first region (web.AnyRegion), other changes to every
// region (web.FanOut).

// everyRegion sends the request to every region and answers with the first
// region's answer, or the first failure.
func (g *Gateway) everyRegion(w http.ResponseWriter, r *http.Request) {
	g.fanOutBody(w, r, nil)
}

func (g *Gateway) fanOutBody(w http.ResponseWriter, r *http.Request, body []byte) {
	answers := g.fanOut(r, g.order, r.Method, r.URL.EscapedPath(), nil, func(string) []byte { return body })
	if g.firstFailure(w, r, answers) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	status := answers[0].status
	w.WriteHeader(status)
	w.Write(answers[0].body)
}

func (g *Gateway) firstRegion(w http.ResponseWriter, r *http.Request) {
	g.forward(w, r, g.order[0], nil)
}

func (g *Gateway) createPrincipal(w http.ResponseWriter, r *http.Request) {
	var req client.PrincipalRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	if req.Token == "" {
		req.Token = bearer.New()
	}
	body, _ := json.Marshal(req)
	g.fanOutBody(w, r, body)
}

func (g *Gateway) rotateToken(w http.ResponseWriter, r *http.Request) {
	var req client.TokenRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	if req.Token == "" {
		req.Token = bearer.New()
	}
	body, _ := json.Marshal(req)
	g.fanOutBody(w, r, body)
}

func (g *Gateway) listPrincipals(w http.ResponseWriter, r *http.Request) {
	answers := g.fanOut(r, g.order, http.MethodGet, "/v1/principals", nil, nil)
	if g.firstFailure(w, r, answers) {
		return
	}
	out := client.PrincipalsResponse{Principals: []client.Principal{}}
	seen := map[string]bool{}
	for _, a := range answers {
		var pr client.PrincipalsResponse
		if err := json.Unmarshal(a.body, &pr); err != nil {
			g.fail(w, r, unavailable(a.region, "answered with a malformed body", err))
			return
		}
		for _, p := range pr.Principals {
			if !seen[p.ID] {
				seen[p.ID] = true
				out.Principals = append(out.Principals, p)
			}
		}
	}
	web.WriteJSON(w, http.StatusOK, out)
}
