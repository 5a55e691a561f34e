// Package gateway is the stateless front of Domicile: it routes a create by
// the record's jurisdiction, a record request by the region its id names,
// and fans subject queries and searches out to every region in parallel. It
// persists nothing and holds no keys; the regional nodes authenticate every
// request they receive.
package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/recid"
	"github.com/domicile/domicile/internal/residency"
	"github.com/domicile/domicile/internal/web"
)

// Backend is how the gateway reaches one region.
type Backend struct {
	// URL is the base URL of the region's node (scheme and host; a path
	// prefix is kept).
	URL *url.URL
	// URLs, when set, are several stateless nodes of the region: requests
	// are spread over them and move to another when one fails.
	URLs []*url.URL
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

// Options configure a Gateway.
type Options struct {
	// Resolver maps jurisdictions to regions; its regions, in order, are
	// the regions behind the gateway (policy.Policy.Resolver gives it).
	Resolver *residency.Resolver
	// ResolverNow, if set, gives the resolver of each request, so that a
	// policy reload can swap it (new jurisdictions); its regions must stay
	// those of Resolver.
	ResolverNow func() *residency.Resolver

	Backends map[string]Backend // by region name; every region of the resolver needs one
	Logger   *slog.Logger
	Metrics  *web.Metrics
	MaxBody  int64
	// Limiter slows down addresses that fail authentication; nil means 10
	// failures, refilled one every 6 seconds.
	Limiter *web.FailureLimiter
	// Console, if set, makes the browser console from the gateway's API
	// handler (internal/console.New); it is served at /console and
	// /console/..., and a browser asking for / (Accept: text/html) is sent
	// there. API clients see no difference.
	Console func(api http.Handler) (http.Handler, error)
}

// Gateway routes the /v1 API across regions.
type Gateway struct {
	res      *residency.Resolver
	resNow   func() *residency.Resolver
	backends map[string]*backend
	order    []string // region names in policy order
	log      *slog.Logger
	maxBody  int64
	drain    *drainWatch
}

// New returns the gateway's handler. It serves every route of web.Routes.
func New(o Options) (http.Handler, error) {
	if o.Resolver == nil {
		return nil, errors.New("gateway: no resolver")
	}
	g := &Gateway{res: o.Resolver, resNow: o.ResolverNow, backends: map[string]*backend{}, log: o.Logger, maxBody: o.MaxBody, drain: newDrainWatch(nil)}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.maxBody <= 0 {
		g.maxBody = web.DefaultMaxBody
	}
	for _, name := range o.Resolver.Regions() {
		b, ok := o.Backends[name]
		if !ok || (b.URL == nil && len(b.URLs) == 0) {
			return nil, fmt.Errorf("gateway: no backend for region %s", name)
		}
		g.backends[name] = newBackend(b)
		g.order = append(g.order, name)
	}
	for name := range o.Backends {
		if !o.Resolver.Has(name) {
			return nil, fmt.Errorf("gateway: backend for %s, which is not a region of the policy", name)
		}
	}
	if len(g.order) == 0 {
		return nil, errors.New("gateway: no regions")
	}
	mux := http.NewServeMux()
	if err := web.Register(mux, web.Routes, g.handlers(o.Metrics)); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	mux.HandleFunc("/", web.NotFound)
	limiter := o.Limiter
	if limiter == nil {
		limiter = web.NewFailureLimiter(10, 6*time.Second, nil)
	}
	api := web.Middleware(limiter.Wrap(mux), o.Metrics.At(web.LayerGateway, ""), g.log, g.maxBody)
	if o.Console == nil {
		return api, nil
	}
	ui, err := o.Console(api)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return withConsole(api, ui), nil
}

// withConsole serves the console's paths with ui, sends a browser that asks
// for / to the console, and everything else to api.
func withConsole(api, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/console" || strings.HasPrefix(p, "/console/"):
			ui.ServeHTTP(w, r)
		case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html"):
			http.Redirect(w, r, "/console/", http.StatusSeeOther)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// handlers returns the gateway's handler of each route of web.Routes: by
// name where the gateway does more than pass the request on, else by the
// route's routing. nil for a route the gateway does not serve.
func (g *Gateway) handlers(m *web.Metrics) func(web.Route) http.Handler {
	byName := map[string]http.HandlerFunc{
		"createRecords":        g.create,
		"listSubjectRecords":   g.listSubject,
		"exportCollection":     g.exportCollection,
		"eraseSubject":         g.eraseSubject,
		"searchCollection":     g.search,
		"tokenize":             g.tokenize,
		"detokenize":           g.detokenize,
		"listRegions":          g.regions,
		"listAlerts":           g.alerts,
		"createPrincipal":      g.createPrincipal,
		"listPrincipals":       g.listPrincipals,
		"updatePrincipal":      g.updatePrincipal,
		"rotatePrincipalToken": g.rotateToken,
		"unlockPrincipal":      g.unlockPrincipal,
		"getOpenAPI":           web.ServeOpenAPI,
		"getHealth": func(w http.ResponseWriter, r *http.Request) {
			web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		},
		"getReadiness": g.ready,
		// Without metrics, /metrics is no endpoint.
		"getMetrics": web.NotFound,
	}
	if m != nil {
		byName["getMetrics"] = m.Handler().ServeHTTP
	}
	return func(rt web.Route) http.Handler {
		if h, ok := byName[rt.Name]; ok {
			return h
		}
		switch rt.Gateway {
		case web.ByRecordID:
			return http.HandlerFunc(g.byRecordID)
		case web.ByRegion:
			return http.HandlerFunc(g.byRegionName)
		case web.AnyRegion:
			return http.HandlerFunc(g.firstRegion)
		case web.FanOut:
			// A change every region makes the same way.
			if rt.Method != http.MethodGet {
				return http.HandlerFunc(g.everyRegion)
			}
		}
		return nil
	}
}

func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, err error) {
	web.WriteError(w, r, g.log, err)
}

// unavailable is the error of a region that did not answer, or answered
// something the gateway cannot read.
func unavailable(region, what string, cause error) error {
	return errcode.Wrap(errcode.RegionUnavailable, cause, "region %s %s", region, what)
}

// forwarded headers; everything else stays at the gateway.
var forwarded = []string{"Authorization", "Content-Type", "Idempotency-Key", web.RequestIDHeader, web.PurposeHeader, "Accept"}

// call sends one request to a region and returns its response. With
// several nodes it starts at the next one in turn; a node that fails is
// skipped for a while, and the request moves to another node when that is
// safe: always when the connection was refused (nothing was sent), and for
// other failures only for reads and requests with an Idempotency-Key.
func (g *Gateway) call(ctx context.Context, region, method, path, rawQuery string, hdr http.Header, body []byte) (*http.Response, error) {
	b := g.backends[region]
	web.NoteRegion(ctx, region) // the region label and access line at the edge
	var lastErr error
	for i, n := range b.order() {
		u := *n.url
		u.Path = n.url.Path + path
		u.RawPath = ""
		u.RawQuery = rawQuery
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body == nil {
			req.Body = http.NoBody
			req.ContentLength = 0
		}
		for _, h := range forwarded {
			if v := hdr.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		if v := g.drain.elsewhere(region, hdr); v != "" {
			req.Header.Set(web.GuardElsewhereHeader, v)
		}
		resp, err := b.transport.RoundTrip(req)
		if err == nil {
			n.markUp()
			web.NoteUsage(ctx, resp.Header)
			g.drain.observe(region, hdr, resp)
			return resp, nil
		}
		lastErr = err
		n.markDown(time.Now())
		if ctx.Err() != nil || !retryable(method, hdr, err) || i == len(b.nodes)-1 {
			break
		}
		g.log.Warn("region node failed; trying another", "region", region, "node", n.url.Host, "err", err)
	}
	return nil, unavailable(region, "did not answer", lastErr)
}

// relay copies a region's response to the client.
func relay(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "WWW-Authenticate", web.RuleHeader, "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// forward sends the request as it is to one region and relays the answer.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, region string, body []byte) {
	if body == nil && r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		var err error
		body, err = web.ReadBody(r)
		if err != nil {
			g.fail(w, r, web.BodyError(err))
			return
		}
	}
	resp, err := g.call(r.Context(), region, r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header, body)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	relay(w, resp)
}

func (g *Gateway) create(w http.ResponseWriter, r *http.Request) {
	body, err := web.ReadBody(r)
	if err != nil {
		g.fail(w, r, web.BodyError(err))
		return
	}
	// Routing needs only each record's jurisdiction; the region's node
	// decodes and checks the whole body.
	var req struct {
		Records []struct {
			Jurisdiction string `json:"jurisdiction"`
		} `json:"records"`
	}
	if err := web.Peek(body, &req); err != nil {
		g.failStrictly(w, r, body, errcode.New(errcode.MalformedJSON, "request body is not a valid create request"))
		return
	}
	region := ""
	for i, rec := range req.Records {
		reg, err := g.resolver().RegionFor(rec.Jurisdiction)
		if err != nil {
			e := errcode.New(errcode.UnknownJurisdiction, "jurisdiction is not an ISO 3166-1 alpha-2 code")
			e.Index = i
			g.fail(w, r, e)
			return
		}
		if region != "" && reg != region {
			e := errcode.New(errcode.CrossRegionBatch, "record %d belongs to region %s, earlier ones to %s", i, reg, region)
			e.Index = i
			g.fail(w, r, e)
			return
		}
		region = reg
	}
	if region == "" {
		g.failStrictly(w, r, body, errcode.New(errcode.TooManyRecords, "no records to create"))
		return
	}
	g.forward(w, r, region, body)
}

// failStrictly answers a create request that cannot be routed with what a
// region would answer, the strict decode's error, or else with err.
func (g *Gateway) failStrictly(w http.ResponseWriter, r *http.Request, body []byte, err error) {
	var strict client.CreateRequest
	if derr := decodeBody(r, body, &strict); derr != nil {
		err = derr
	}
	g.fail(w, r, err)
}

func (g *Gateway) byRecordID(w http.ResponseWriter, r *http.Request) {
	region, ok := recid.RegionOf(r.PathValue("id"))
	if !ok {
		g.fail(w, r, errcode.New(errcode.InvalidRecordID, "record id is malformed"))
		return
	}
	if _, ok := g.backends[region]; !ok {
		g.fail(w, r, errcode.New(errcode.NotFound, "no region %s behind this gateway", region))
		return
	}
	g.forward(w, r, region, nil)
}

func (g *Gateway) byRegionName(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	if _, ok := g.backends[region]; !ok {
		g.fail(w, r, errcode.New(errcode.UnknownRegion, "no region %s behind this gateway", truncate(region)))
		return
	}
	g.forward(w, r, region, nil)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// answer is one region's answer in a fan-out.
type answer struct {
	region string
	status int
	body   []byte
	err    error
}

// fanOut sends the same request to regions in parallel.
func (g *Gateway) fanOut(r *http.Request, regions []string, method, path string, query func(region string) string, body func(region string) []byte) []answer {
	out := make([]answer, len(regions))
	var wg sync.WaitGroup
	for i, name := range regions {
		wg.Go(func() {
			var q string
			if query != nil {
				q = query(name)
			}
			var b []byte
			if body != nil {
				b = body(name)
			}
			resp, err := g.call(r.Context(), name, method, path, q, r.Header, b)
			if err != nil {
				out[i] = answer{region: name, err: err}
				return
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			out[i] = answer{region: name, status: resp.StatusCode, body: data, err: err}
		})
	}
	wg.Wait()
	return out
}

// firstFailure relays the first failed answer (in policy order) and reports
// whether there was one.
func (g *Gateway) firstFailure(w http.ResponseWriter, r *http.Request, answers []answer) bool {
	for _, a := range answers {
		if a.err != nil {
			g.fail(w, r, a.err)
			return true
		}
		if a.status >= 300 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(a.status)
			w.Write(a.body)
			return true
		}
	}
	return false
}

// The fan-out cursor carries each region's own cursor; a region missing
// from it is exhausted.
func encodeCursor(c map[string]string) string {
	if len(c) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (map[string]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 {
		return nil, errcode.New(errcode.InvalidCursor, "cursor is not valid")
	}
	var c map[string]string
	if err := json.Unmarshal(b, &c); err != nil || c == nil {
		return nil, errcode.New(errcode.InvalidCursor, "cursor is not valid")
	}
	return c, nil
}

// regionsFor returns the regions a fan-out page visits, with their cursors.
func (g *Gateway) regionsFor(cursor string) ([]string, map[string]string, error) {
	if cursor == "" {
		return g.order, map[string]string{}, nil
	}
	c, err := decodeCursor(cursor)
	if err != nil {
		return nil, nil, err
	}
	var regions []string
	for _, name := range g.order {
		if _, ok := c[name]; ok {
			regions = append(regions, name)
		}
	}
	return regions, c, nil
}

// mergePages joins the pages of a fan-out into one page of at most limit
// records, regions in policy order. Each region's cursor resumes exactly
// where the page stopped taking its records: after the last one taken
// (region cursors are record ids), at its incoming cursor when none was
// taken, or at its own next cursor when all were.
func mergePages(answers []answer, limit int, incoming map[string]string) (client.Page, error) {
	out := client.Page{Records: []client.Record{}}
	next := map[string]string{}
	for _, a := range answers {
		var p client.Page
		if err := json.Unmarshal(a.body, &p); err != nil {
			return client.Page{}, unavailable(a.region, "answered with a malformed page", err)
		}
		room := limit - len(out.Records)
		switch {
		case len(p.Records) <= room:
			out.Records = append(out.Records, p.Records...)
			if p.Next != "" {
				next[a.region] = p.Next
			}
		case room > 0:
			out.Records = append(out.Records, p.Records[:room]...)
			next[a.region] = p.Records[room-1].ID
		default:
			next[a.region] = incoming[a.region]
		}
	}
	out.Next = encodeCursor(next)
	return out, nil
}

func (g *Gateway) listSubject(w http.ResponseWriter, r *http.Request) {
	regions, cursors, err := g.regionsFor(r.URL.Query().Get("cursor"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	// The page size a fan-out asks of each region and returns.
	limit, err := paging.Param(r.URL.Query().Get("limit"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.pageAcross(w, r, regions, cursors, limit)
}

// pageAcross asks each of regions for a page of limit records from its
// cursor and answers the merged page with the next fan-out cursor.
func (g *Gateway) pageAcross(w http.ResponseWriter, r *http.Request, regions []string, cursors map[string]string, limit int) {
	answers := g.fanOut(r, regions, http.MethodGet, r.URL.EscapedPath(), func(region string) string {
		v := url.Values{}
		v.Set("limit", strconv.Itoa(limit))
		if c := cursors[region]; c != "" {
			v.Set("cursor", c)
		}
		return v.Encode()
	}, nil)
	if g.firstFailure(w, r, answers) {
		return
	}
	page, err := mergePages(answers, limit, cursors)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, page)
}

func (g *Gateway) search(w http.ResponseWriter, r *http.Request) {
	var req client.SearchRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		g.fail(w, r, err)
		return
	}
	limit, err := paging.Size(req.Limit)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if req.Jurisdiction != "" {
		reg, err := g.resolver().RegionFor(req.Jurisdiction)
		if err != nil {
			g.fail(w, r, errcode.New(errcode.UnknownJurisdiction, "jurisdiction is not an ISO 3166-1 alpha-2 code"))
			return
		}
		body, _ := json.Marshal(req)
		g.forward(w, r, reg, body)
		return
	}
	regions, cursors, err := g.regionsFor(req.Cursor)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	req.Limit = limit
	answers := g.fanOut(r, regions, http.MethodPost, r.URL.EscapedPath(), nil, func(region string) []byte {
		sub := req
		sub.Cursor = cursors[region]
		b, _ := json.Marshal(sub)
		return b
	})
	// A region that cannot normalise the value (a local phone number
	// without a country code, say) simply has no match; only failures that
	// every region shares, or server errors, are the caller's answer.
	var ok []answer
	for _, a := range answers {
		if a.err == nil && a.status == http.StatusBadRequest && len(answers) > 1 && isCode(a.body, errcode.InvalidValue) {
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		ok = answers[:1]
	}
	if g.firstFailure(w, r, ok) {
		return
	}
	page, err := mergePages(ok, req.Limit, cursors)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, page)
}

func isCode(body []byte, code errcode.Code) bool {
	var p client.Problem
	return json.Unmarshal(body, &p) == nil && p.Code == string(code)
}

func (g *Gateway) eraseSubject(w http.ResponseWriter, r *http.Request) {
	answers := g.fanOut(r, g.order, http.MethodDelete, r.URL.EscapedPath(), nil, nil)
	if g.firstFailure(w, r, answers) {
		return
	}
	out := client.EraseResponse{Regions: map[string]int{}}
	for _, a := range answers {
		var e client.EraseResponse
		if err := json.Unmarshal(a.body, &e); err != nil {
			g.fail(w, r, unavailable(a.region, "answered with a malformed body", err))
			return
		}
		out.Erased += e.Erased
		out.Regions[a.region] = e.Erased
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func (g *Gateway) regions(w http.ResponseWriter, r *http.Request) {
	answers := g.fanOut(r, g.order, http.MethodGet, "/v1/regions", nil, nil)
	if g.firstFailure(w, r, answers) {
		return
	}
	var out client.RegionsResponse
	for _, a := range answers {
		var rr client.RegionsResponse
		if err := json.Unmarshal(a.body, &rr); err != nil {
			g.fail(w, r, unavailable(a.region, "answered with a malformed body", err))
			return
		}
		out.Regions = append(out.Regions, rr.Regions...)
	}
	sort.SliceStable(out.Regions, func(i, j int) bool { return g.index(out.Regions[i].Name) < g.index(out.Regions[j].Name) })
	web.WriteJSON(w, http.StatusOK, out)
}

func (g *Gateway) index(name string) int {
	for i, n := range g.order {
		if n == name {
			return i
		}
	}
	return len(g.order)
}

func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	answers := g.fanOut(r, g.order, http.MethodGet, "/readyz", nil, nil)
	status := map[string]string{}
	code := http.StatusOK
	for _, a := range answers {
		switch {
		case a.err != nil:
			status[a.region] = "unreachable"
			code = http.StatusServiceUnavailable
		case a.status != http.StatusOK:
			status[a.region] = "unavailable"
			code = http.StatusServiceUnavailable
		default:
			status[a.region] = "ready"
		}
	}
	web.WriteJSON(w, code, map[string]any{"regions": status})
}

// resolver is the resolver of a request: ResolverNow's, else the one the
// gateway started with.
func (g *Gateway) resolver() *residency.Resolver {
	if g.resNow != nil {
		if r := g.resNow(); r != nil {
			return r
		}
	}
	return g.res
}
