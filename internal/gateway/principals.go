package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

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
// region's answer. A change that some regions made and others did not is
// answered with what to do next: every principal change is idempotent in a
// region, so repeating the same request finishes it.
func (g *Gateway) everyRegion(w http.ResponseWriter, r *http.Request) {
	g.fanOutBody(w, r, nil, "")
}

// fanOutBody sends body to every region. token is the bearer token the
// request gives the principal ("" for changes that give none): when the
// change reached only some regions, the caller still learns it, to repeat
// the request with it.
func (g *Gateway) fanOutBody(w http.ResponseWriter, r *http.Request, body []byte, token string) {
	answers := g.fanOut(r, g.order, r.Method, r.URL.EscapedPath(), nil, func(string) []byte { return body })
	var done, failed []string
	for _, a := range answers {
		if a.err == nil && a.status < 300 {
			done = append(done, a.region)
		} else {
			failed = append(failed, a.region)
		}
	}
	if len(done) > 0 && len(failed) > 0 {
		g.partial(w, r, answers, done, failed, token)
		return
	}
	if g.firstFailure(w, r, answers) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	status := answers[0].status
	w.WriteHeader(status)
	w.Write(answers[0].body)
}

// partial answers a principal change that some regions made: with the
// first failure's status and code, the regions done and not, and, for a
// change that gives a token, the token, so that the caller can repeat the
// request with it and no region keeps a token nobody received.
func (g *Gateway) partial(w http.ResponseWriter, r *http.Request, answers []answer, done, failed []string, token string) {
	var p client.Problem
	for _, a := range answers {
		if a.err != nil {
			p = web.ProblemOf(a.err)
			break
		}
		if a.status >= 300 {
			if json.Unmarshal(a.body, &p) != nil || p.Code == "" {
				p = web.ProblemOf(unavailable(a.region, "answered with a malformed body", nil))
			}
			break
		}
	}
	again := "repeat the same request"
	if token != "" {
		again += " with \"token\" set to the token of this answer"
		p.Token = token
	}
	p.Detail = fmt.Sprintf("done in %s, not in %s (%s); every region applies a repeat once, so %s to finish",
		strings.Join(done, ", "), strings.Join(failed, ", "), p.Detail, again)
	p.Hint = "nothing is lost: " + again + " once every region answers"
	p.RequestID = web.RequestID(r)
	web.WriteProblem(w, p)
}

// unlockPrincipal unlocks a principal in every region and, when every
// region did, forgets what the regions reported of its activity, so that
// the budgets it is forgiven are not counted again through the gateway.
// A refused unlock forgets nothing: a locked principal cannot clear its
// own record by asking.
func (g *Gateway) unlockPrincipal(w http.ResponseWriter, r *http.Request) {
	sw := &statusRecorder{ResponseWriter: w}
	g.everyRegion(sw, r)
	if sw.status == http.StatusOK {
		g.drain.forget(r.PathValue("id"))
	}
}

// statusRecorder records the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
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
	g.fanOutBody(w, r, body, req.Token)
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
	g.fanOutBody(w, r, body, req.Token)
}

// updatePrincipal sends a principal's change, checked here, to every
// region.
func (g *Gateway) updatePrincipal(w http.ResponseWriter, r *http.Request) {
	var req client.PrincipalChange
	if err := web.DecodeJSON(r, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	body, err := json.Marshal(req)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.fanOutBody(w, r, body, "")
}

func (g *Gateway) listPrincipals(w http.ResponseWriter, r *http.Request) {
	answers := g.fanOut(r, g.order, http.MethodGet, "/v1/principals", func(string) string { return r.URL.RawQuery }, nil)
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
