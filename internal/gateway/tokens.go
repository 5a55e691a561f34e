package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
	"github.com/domicile/domicile/internal/web"
)

// Token batches are split by region (tokenize by jurisdiction; detokenize
// by the region a token names, or the region or jurisdiction an fpe item
// gives), sent to the regions in parallel, and merged back in request
// order. An item that names no region fails alone.

// itemError is the error of one item of a batch.
func itemError(code errcode.Code, detail string) *client.ItemError {
	return &client.ItemError{Code: string(code), Detail: detail}
}

func (g *Gateway) regionOfJurisdiction(j string) (string, *client.ItemError) {
	r, err := g.resolver().RegionFor(j)
	if err != nil {
		return "", itemError(errcode.UnknownJurisdiction, "jurisdiction is not an ISO 3166-1 alpha-2 code")
	}
	return r, nil
}

// singleJurisdictionRegion is the single of tokenize: the items' region
// when they all name jurisdictions of one region. It decodes only the
// jurisdictions: a batch's values were decoded twice, here and in the
// region, about a tenth of a tokenize's CPU together.
func (g *Gateway) singleJurisdictionRegion(body []byte) (string, bool) {
	var req struct {
		Items []struct {
			Jurisdiction string `json:"jurisdiction"`
		} `json:"items"`
	}
	if web.Peek(body, &req) != nil || len(req.Items) == 0 || len(req.Items) > tokfmt.MaxBatch {
		return "", false
	}
	region, last := "", ""
	for i, it := range req.Items {
		if i > 0 && it.Jurisdiction == last {
			continue
		}
		r, ierr := g.regionOfJurisdiction(it.Jurisdiction)
		if ierr != nil || region != "" && r != region {
			return "", false
		}
		region, last = r, it.Jurisdiction
	}
	return region, true
}

// itemBatch says how the items of one batch endpoint route, travel and
// answer.
type itemBatch[I, R any] struct {
	// single, if set, reads only what routes the items and returns the
	// region when every item goes to that one region; false sends the
	// batch through the full decode.
	single   func(body []byte) (string, bool)
	regionOf func(I) (string, *client.ItemError)
	encode   func(region string, items []I) any // the body one region gets
	results  func(body []byte) ([]R, error)     // the results of a region's answer
	failed   func(*client.ItemError) R          // the result of an item that routes nowhere
	respond  func([]R) any                      // the merged answer
}

// serveBatch splits a batch by region, sends each region its items in
// parallel and answers the results in request order; an item that routes
// nowhere fails alone. A batch whose items all go to one region, the common
// case, is forwarded as it is, without re-encoding.
func serveBatch[I, R any](g *Gateway, w http.ResponseWriter, r *http.Request, b itemBatch[I, R]) {
	body, err := web.ReadBody(r)
	if err != nil {
		g.fail(w, r, web.BodyError(err))
		return
	}
	if b.single != nil {
		if region, ok := b.single(body); ok {
			// The region's node decodes and checks the whole body, as
			// the gateway would (the request's Content-Type goes with
			// it).
			g.forward(w, r, region, body)
			return
		}
	}
	var req struct {
		Items []I `json:"items"`
	}
	if err := decodeBody(r, body, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	if len(req.Items) > tokfmt.MaxBatch {
		g.fail(w, r, errcode.New(errcode.TooManyItems, "at most %d items per request, got %d", tokfmt.MaxBatch, len(req.Items)))
		return
	}
	out := make([]R, len(req.Items))
	groups := map[string][]int{}
	routed := 0
	for i, it := range req.Items {
		region, ierr := b.regionOf(it)
		if ierr != nil {
			out[i] = b.failed(ierr)
			continue
		}
		groups[region] = append(groups[region], i)
		routed++
	}
	var regions []string
	for _, name := range g.order {
		if _, ok := groups[name]; ok {
			regions = append(regions, name)
		}
	}
	if len(regions) == 1 && routed == len(req.Items) {
		g.forward(w, r, regions[0], body)
		return
	}
	answers := g.fanOut(r, regions, http.MethodPost, r.URL.EscapedPath(), nil, func(region string) []byte {
		items := make([]I, len(groups[region]))
		for j, i := range groups[region] {
			items[j] = req.Items[i]
		}
		sub, _ := json.Marshal(b.encode(region, items))
		return sub
	})
	if g.firstFailure(w, r, answers) {
		return
	}
	for _, a := range answers {
		idx := groups[a.region]
		res, err := b.results(a.body)
		if err != nil || len(res) != len(idx) {
			g.fail(w, r, unavailable(a.region, "answered with a malformed body", err))
			return
		}
		for j, i := range idx {
			out[i] = res[j]
		}
	}
	web.WriteJSON(w, http.StatusOK, b.respond(out))
}

func (g *Gateway) tokenize(w http.ResponseWriter, r *http.Request) {
	serveBatch(g, w, r, itemBatch[client.TokenizeItem, client.TokenizeResult]{
		single: g.singleJurisdictionRegion,
		regionOf: func(it client.TokenizeItem) (string, *client.ItemError) {
			return g.regionOfJurisdiction(it.Jurisdiction)
		},
		encode: func(_ string, items []client.TokenizeItem) any {
			return client.TokenizeRequest{Items: items}
		},
		results: func(b []byte) ([]client.TokenizeResult, error) {
			var sub client.TokenizeResponse
			err := json.Unmarshal(b, &sub)
			return sub.Results, err
		},
		failed:  func(e *client.ItemError) client.TokenizeResult { return client.TokenizeResult{Error: e} },
		respond: func(res []client.TokenizeResult) any { return client.TokenizeResponse{Results: res} },
	})
}

func (g *Gateway) detokenize(w http.ResponseWriter, r *http.Request) {
	serveBatch(g, w, r, itemBatch[client.DetokenizeItem, client.DetokenizeResult]{
		regionOf: g.detokenizeRegion,
		encode: func(region string, items []client.DetokenizeItem) any {
			for i := range items {
				items[i].Region = region
			}
			return client.DetokenizeRequest{Items: items}
		},
		results: func(b []byte) ([]client.DetokenizeResult, error) {
			var sub client.DetokenizeResponse
			err := json.Unmarshal(b, &sub)
			return sub.Results, err
		},
		failed:  func(e *client.ItemError) client.DetokenizeResult { return client.DetokenizeResult{Error: e} },
		respond: func(res []client.DetokenizeResult) any { return client.DetokenizeResponse{Results: res} },
	})
}

// detokenizeRegion is the region a detokenize item goes to.
func (g *Gateway) detokenizeRegion(it client.DetokenizeItem) (string, *client.ItemError) {
	switch {
	case tokfmt.IsToken(it.Token):
		region, err := tokfmt.RegionOf(it.Token)
		if err != nil {
			return "", itemError(errcode.MalformedToken, "the token is malformed")
		}
		if _, ok := g.backends[region]; !ok {
			return "", itemError(errcode.TokenNotFound, "no region "+region+" behind this gateway")
		}
		return region, nil
	case it.Region != "":
		if _, ok := g.backends[it.Region]; !ok {
			return "", itemError(errcode.UnknownRegion, "no such region behind this gateway")
		}
		return it.Region, nil
	case it.Jurisdiction != "":
		return g.regionOfJurisdiction(it.Jurisdiction)
	}
	return "", itemError(errcode.TokenNeedsRegion, "an fpe token names no region: give region or jurisdiction, collection and field")
}

// decodeBody decodes an already read body strictly, as DecodeJSON would.
func decodeBody(r *http.Request, body []byte, v any) error {
	return web.DecodeBody(r.Header.Get("Content-Type"), body, v)
}
