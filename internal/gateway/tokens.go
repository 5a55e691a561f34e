package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/api"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// Token batches are split by region (tokenize by jurisdiction; detokenize
// by the region a token names, or the region or jurisdiction an fpe item
// gives), sent to the regions in parallel, and merged back in request
// order. An item that names no region fails alone.

func (g *Gateway) tokenRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/tokenize", g.tokenize)
	mux.HandleFunc("POST /v1/detokenize", g.detokenize)
}

// split groups item positions by region; bad marks items without one.
func split(n int, regionOf func(i int) (string, *client.ItemError)) (map[string][]int, map[int]*client.ItemError) {
	groups := map[string][]int{}
	bad := map[int]*client.ItemError{}
	for i := range n {
		r, err := regionOf(i)
		if err != nil {
			bad[i] = err
			continue
		}
		groups[r] = append(groups[r], i)
	}
	return groups, bad
}

func (g *Gateway) regionOfJurisdiction(j string) (string, *client.ItemError) {
	r, err := g.pol.RegionFor(j)
	if err != nil {
		return "", &client.ItemError{Code: "unknown_jurisdiction", Detail: "jurisdiction is not an ISO 3166-1 alpha-2 code"}
	}
	return r.Name, nil
}

// runBatches sends each region its items and returns the regions' answers.
func (g *Gateway) runBatches(w http.ResponseWriter, r *http.Request, groups map[string][]int, body func(region string, idx []int) []byte) (map[string][]byte, bool) {
	var regions []string
	for _, name := range g.order {
		if _, ok := groups[name]; ok {
			regions = append(regions, name)
		}
	}
	answers := g.fanOut(r, regions, http.MethodPost, r.URL.EscapedPath(), nil, func(region string) []byte { return body(region, groups[region]) })
	if g.firstFailure(w, r, answers) {
		return nil, false
	}
	out := map[string][]byte{}
	for _, a := range answers {
		out[a.region] = a.body
	}
	return out, true
}

// gather puts each region's results back at their items' positions.
func gather[T any](groups map[string][]int, bodies map[string][]byte, out []T, decode func([]byte) ([]T, error)) error {
	for region, idx := range groups {
		sub, err := decode(bodies[region])
		if err != nil || len(sub) != len(idx) {
			return &api.Error{Code: api.CodeUnavailable, Detail: "region " + region + " answered with a malformed body", Err: err}
		}
		for j, i := range idx {
			out[i] = sub[j]
		}
	}
	return nil
}

// singleRegion forwards body as it is when every item routes to one region,
// the common case, so the gateway does not decode and re-encode whole
// batches; it reports whether it did. route reads only the routing fields.
func (g *Gateway) singleRegion(w http.ResponseWriter, r *http.Request, body []byte, route func(body []byte) (int, func(i int) (string, *client.ItemError), error)) bool {
	n, regionOf, err := route(body)
	if err != nil || n == 0 || n > tokens.MaxBatch {
		return false
	}
	first, ierr := regionOf(0)
	if ierr != nil {
		return false
	}
	for i := 1; i < n; i++ {
		if reg, ierr := regionOf(i); ierr != nil || reg != first {
			return false
		}
	}
	g.forward(w, r, first, body)
	return true
}

func (g *Gateway) tokenize(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		g.fail(w, r, bodyError(err))
		return
	}
	if g.singleRegion(w, r, body, func(b []byte) (int, func(int) (string, *client.ItemError), error) {
		var lite struct {
			Items []struct {
				Jurisdiction string `json:"jurisdiction"`
			} `json:"items"`
		}
		err := json.Unmarshal(b, &lite)
		return len(lite.Items), func(i int) (string, *client.ItemError) { return g.regionOfJurisdiction(lite.Items[i].Jurisdiction) }, err
	}) {
		return
	}
	var req client.TokenizeRequest
	if err := decodeBody(r, body, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	if len(req.Items) > tokens.MaxBatch {
		g.fail(w, r, api.Errorf(api.CodeTooManyItems, "at most %d items per request, got %d", tokens.MaxBatch, len(req.Items)))
		return
	}
	groups, bad := split(len(req.Items), func(i int) (string, *client.ItemError) {
		return g.regionOfJurisdiction(req.Items[i].Jurisdiction)
	})
	bodies, ok := g.runBatches(w, r, groups, func(_ string, idx []int) []byte {
		sub := client.TokenizeRequest{Items: make([]client.TokenizeItem, len(idx))}
		for j, i := range idx {
			sub.Items[j] = req.Items[i]
		}
		b, _ := json.Marshal(sub)
		return b
	})
	if !ok {
		return
	}
	out := client.TokenizeResponse{Results: make([]client.TokenizeResult, len(req.Items))}
	for i, e := range bad {
		out.Results[i].Error = e
	}
	if err := gather(groups, bodies, out.Results, func(b []byte) ([]client.TokenizeResult, error) {
		var sub client.TokenizeResponse
		err := json.Unmarshal(b, &sub)
		return sub.Results, err
	}); err != nil {
		g.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, out)
}

func (g *Gateway) detokenize(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		g.fail(w, r, bodyError(err))
		return
	}
	if g.singleRegion(w, r, body, func(b []byte) (int, func(int) (string, *client.ItemError), error) {
		var lite struct {
			Items []client.DetokenizeItem `json:"items"`
		}
		err := json.Unmarshal(b, &lite)
		return len(lite.Items), func(i int) (string, *client.ItemError) { return g.detokenizeRegion(lite.Items[i]) }, err
	}) {
		return
	}
	var req client.DetokenizeRequest
	if err := decodeBody(r, body, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	if len(req.Items) > tokens.MaxBatch {
		g.fail(w, r, api.Errorf(api.CodeTooManyItems, "at most %d items per request, got %d", tokens.MaxBatch, len(req.Items)))
		return
	}
	groups, bad := split(len(req.Items), func(i int) (string, *client.ItemError) { return g.detokenizeRegion(req.Items[i]) })
	bodies, ok := g.runBatches(w, r, groups, func(region string, idx []int) []byte {
		sub := client.DetokenizeRequest{Items: make([]client.DetokenizeItem, len(idx))}
		for j, i := range idx {
			sub.Items[j] = req.Items[i]
			sub.Items[j].Region = region
		}
		b, _ := json.Marshal(sub)
		return b
	})
	if !ok {
		return
	}
	out := client.DetokenizeResponse{Results: make([]client.DetokenizeResult, len(req.Items))}
	for i, e := range bad {
		out.Results[i].Error = e
	}
	if err := gather(groups, bodies, out.Results, func(b []byte) ([]client.DetokenizeResult, error) {
		var sub client.DetokenizeResponse
		err := json.Unmarshal(b, &sub)
		return sub.Results, err
	}); err != nil {
		g.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// detokenizeRegion is the region a detokenize item goes to.
func (g *Gateway) detokenizeRegion(it client.DetokenizeItem) (string, *client.ItemError) {
	switch {
	case tokfmt.IsToken(it.Token):
		region, err := tokfmt.RegionOf(it.Token)
		if err != nil {
			return "", &client.ItemError{Code: "malformed_token", Detail: "the token is malformed"}
		}
		if _, ok := g.backends[region]; !ok {
			return "", &client.ItemError{Code: "token_not_found", Detail: "no region " + region + " behind this gateway"}
		}
		return region, nil
	case it.Region != "":
		if _, ok := g.backends[it.Region]; !ok {
			return "", &client.ItemError{Code: api.CodeUnknownRegion, Detail: "no such region behind this gateway"}
		}
		return it.Region, nil
	case it.Jurisdiction != "":
		return g.regionOfJurisdiction(it.Jurisdiction)
	}
	return "", &client.ItemError{Code: "token_needs_region", Detail: "an fpe token names no region: give region or jurisdiction, collection and field"}
}

// decodeBody decodes an already read body strictly, as DecodeJSON would.
func decodeBody(r *http.Request, body []byte, v any) error {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	return api.DecodeJSON(r2, v)
}
