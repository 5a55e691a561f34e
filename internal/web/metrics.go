package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The layers of the HTTP series: which kind of server answered the caller.
const (
	// LayerGateway is the gateway (`domicile gateway`, and `dev`).
	LayerGateway = "gateway"
	// LayerRegion is a region's node called directly (`domicile serve`).
	LayerRegion = "region"
)

// Values of the region label of the HTTP series when no single region
// answered a request.
const (
	// RegionNone: the gateway answered alone (probes, /metrics, the
	// OpenAPI document, refusals before routing).
	RegionNone = "none"
	// RegionMulti: several regions answered parts of the request (a
	// fan-out, a batch split across regions).
	RegionMulti = "multi"
)

// RouteUnmatched is the route label of a request that matched no route of
// Routes (unknown paths, wrong methods, non-canonical paths).
const RouteUnmatched = "unmatched"

// Metrics are the Prometheus metrics of a process: one registry, the HTTP
// series and the Go runtime and process collectors; other packages add
// their series through Registry. One Metrics serves one process; it is
// not global.
//
// Requests are counted, timed and logged once, at the edge: by the
// outermost Middleware a request passes, which is the server that answers
// the caller. In `dev` that is the gateway; the region handlers behind it
// in the same process see that the request is already accounted for and
// neither count nor log it. A gateway and its nodes in separate processes
// count at both (layer "gateway" and "region"): sum one layer, never both.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// layer and region label this server's requests (see At).
	layer, region string
}

// NewMetrics returns a fresh registry with the HTTP series. No label ever
// carries a submitted value: routes are route names from Routes, codes are
// HTTP status codes, regions are the policy's region names.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), layer: LayerRegion}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "domicile_http_requests_total",
		Help: "HTTP requests answered at the edge, by layer (gateway or region), region, route name and status code.",
	}, []string{"layer", "region", "route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "domicile_http_request_duration_seconds",
		Help:    "Latency of HTTP requests answered at the edge, by layer, region and route name.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"layer", "region", "route"})
	m.reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// At returns m for one server: layer is LayerGateway or LayerRegion;
// region is the node's region name, or "" for the gateway (whose requests
// are labelled with the regions that answered them). The result shares
// m's registry and series. m may be nil.
func (m *Metrics) At(layer, region string) *Metrics {
	if m == nil {
		return nil
	}
	c := *m
	c.layer, c.region = layer, region
	return &c
}

// Registry is where other packages register their metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// routeIndex finds the route of a request: a mux with every route of
// Routes, asked for the pattern only. It is immutable once built.
var routeIndex = func() struct {
	mux   *http.ServeMux
	names map[string]string
} {
	mux, names := http.NewServeMux(), map[string]string{}
	for _, rt := range Routes {
		mux.Handle(rt.Pattern(), http.NotFoundHandler())
		names[rt.Pattern()] = rt.Name
	}
	return struct {
		mux   *http.ServeMux
		names map[string]string
	}{mux, names}
}()

// RouteName returns the name of the route of Routes that r matches (its
// operationId, such as getRecord), or RouteUnmatched. It never returns a
// path: paths hold record ids and subjects.
func RouteName(r *http.Request) string {
	if !canonical(r.URL.Path) {
		return RouteUnmatched
	}
	_, pattern := routeIndex.mux.Handler(r)
	if name, ok := routeIndex.names[pattern]; ok {
		return name
	}
	return RouteUnmatched
}

// exchange is what the edge learns about a request while it is served, for
// its one count and access line: the regions that answered and the
// principal. Handlers behind the edge add to it with NoteRegion and
// NoteUsage, from any goroutine.
type exchange struct {
	mu        sync.Mutex
	region    string // "", one region's name, or RegionMulti
	principal string
}

type exchangeKey struct{}

// enter returns r carrying a new exchange when r has none (Middleware is
// the edge of this request), or r and nil when an outer Middleware of the
// same process already accounts for it.
func enter(r *http.Request) (*http.Request, *exchange) {
	if _, ok := r.Context().Value(exchangeKey{}).(*exchange); ok {
		return r, nil
	}
	x := &exchange{}
	return r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)), x
}

// NoteRegion records that region answers (part of) the request of ctx,
// for the edge's region label and access line. It does nothing for a
// context that did not come through Middleware.
func NoteRegion(ctx context.Context, region string) {
	x, ok := ctx.Value(exchangeKey{}).(*exchange)
	if !ok || region == "" {
		return
	}
	x.mu.Lock()
	switch x.region {
	case "":
		x.region = region
	case region:
	default:
		x.region = RegionMulti
	}
	x.mu.Unlock()
}

// NoteUsage records the principal that a region's answer names in its
// GuardUsageHeader (the principal it authenticated), for the edge's
// access line.
func NoteUsage(ctx context.Context, h http.Header) {
	x, ok := ctx.Value(exchangeKey{}).(*exchange)
	if !ok {
		return
	}
	x.notePrincipal(h)
}

func (x *exchange) notePrincipal(h http.Header) {
	v := h.Get(GuardUsageHeader)
	if v == "" {
		return
	}
	p := ParseGuardUsage(v).Principal
	x.mu.Lock()
	if x.principal == "" {
		x.principal = p
	}
	x.mu.Unlock()
}

// methods are the methods logged by name; any other is logged as "OTHER"
// (a method is the caller's input).
var methods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true}

// finish counts and logs a request at its edge (x not nil): the request
// counter and latency histogram, and one access line with the method,
// route name, status, duration, request id, layer, region and principal.
// Never a path, query, header or body: they hold record ids, subjects,
// values and tokens. m may be nil (no metrics); log may not.
func (m *Metrics) finish(log *slog.Logger, r *http.Request, x *exchange, w http.ResponseWriter, status int, start time.Time) {
	if x == nil {
		return
	}
	d := time.Since(start)
	if status == 0 {
		status = http.StatusOK
	}
	x.notePrincipal(w.Header()) // a node's own answer names the principal it authenticated
	x.mu.Lock()
	region, principal := x.region, x.principal
	x.mu.Unlock()
	layer := ""
	if m != nil {
		layer = m.layer
		if m.region != "" {
			region = m.region
		}
	}
	if region == "" {
		region = RegionNone
	}
	route := RouteName(r)
	if m != nil {
		m.requests.WithLabelValues(layer, region, route, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(layer, region, route).Observe(d.Seconds())
	}
	method := r.Method
	if !methods[method] {
		method = "OTHER"
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("method", method), slog.String("route", route), slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("request_id", w.Header().Get(RequestIDHeader))}
	if layer != "" {
		attrs = append(attrs, slog.String("layer", layer))
	}
	attrs = append(attrs, slog.String("region", region))
	if principal != "" {
		attrs = append(attrs, slog.String("principal", principal))
	}
	log.LogAttrs(context.Background(), level, "request", attrs...)
}
