package web

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// syncBuffer is a bytes.Buffer for a logger used by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requestLines returns the access lines of a JSON log.
func requestLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// counted returns the HTTP request counter's series of m.
func counted(t *testing.T, m *Metrics) []*dto.Metric {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "domicile_http_requests_total" {
			return f.Metric
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

const recordID = "rec_eu-central_aaaaaaaaaaaaaaaaaaaaaaaaaa"

// node is a region's node: it authenticates (the usage header names the
// principal) and answers a record.
func node(m *Metrics, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(GuardUsageHeader, FormatGuardUsage(GuardUsage{Principal: "svc-billing"}))
		WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("/", NotFound)
	return Middleware(mux, m.At(LayerRegion, "eu-central"), log, 0)
}

// TestEdgeCountsOnce: a request through a gateway and a node in the same
// process (as in dev) is counted and logged once, by the gateway, with
// the route's name, the region that answered and the principal the node
// authenticated; a request to the node alone is counted at the node.
// Neither the series nor the access lines hold the path or its id.
func TestEdgeCountsOnce(t *testing.T) {
	m := NewMetrics()
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	region := node(m, log)
	gwMux := http.NewServeMux()
	gwMux.HandleFunc("GET /v1/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		NoteRegion(r.Context(), "eu-central")
		req := httptest.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), nil)
		rec := httptest.NewRecorder()
		region.ServeHTTP(rec, req)
		NoteUsage(r.Context(), rec.Header())
		w.WriteHeader(rec.Code)
		io.Copy(w, rec.Body)
	})
	gateway := Middleware(gwMux, m.At(LayerGateway, ""), log, 0)

	gateway.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/records/"+recordID, nil))
	series := counted(t, m)
	if len(series) != 1 || series[0].Counter.GetValue() != 1 {
		t.Fatalf("after one request through the gateway: %v, want one series counting 1", series)
	}
	want := map[string]string{"layer": "gateway", "region": "eu-central", "route": "getRecord", "code": "200"}
	if got := labels(series[0]); !equal(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	lines := requestLines(t, logs.String())
	if len(lines) != 1 {
		t.Fatalf("%d access lines, want 1:\n%s", len(lines), logs.String())
	}
	for k, v := range map[string]any{"route": "getRecord", "status": 200.0, "layer": "gateway", "region": "eu-central",
		"principal": "svc-billing", "method": "GET"} {
		if lines[0][k] != v {
			t.Errorf("access line %s = %v, want %v", k, lines[0][k], v)
		}
	}
	if id, _ := lines[0]["request_id"].(string); id == "" {
		t.Errorf("access line without a request id: %v", lines[0])
	}

	region.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/records/"+recordID, nil))
	series = counted(t, m)
	if len(series) != 2 {
		t.Fatalf("after a request to the node: %d series, want 2", len(series))
	}
	for _, s := range series {
		if l := labels(s); l["layer"] == "region" && (l["region"] != "eu-central" || s.Counter.GetValue() != 1) {
			t.Errorf("node series %v = %v, want region eu-central counting 1", l, s.Counter.GetValue())
		}
	}
	if n := len(requestLines(t, logs.String())); n != 2 {
		t.Errorf("%d access lines after two requests, want 2", n)
	}

	var exposition bytes.Buffer
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exposition.Write(rec.Body.Bytes())
	if strings.Contains(exposition.String(), "aaaaaaaaaa") || strings.Contains(logs.String(), "aaaaaaaaaa") {
		t.Errorf("the record id is in the metrics or the log:\n%s\n%s", exposition.String(), logs.String())
	}
	problems, err := promlint.New(&exposition).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRouteName: requests are named by route, never by path.
func TestRouteName(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/v1/records/" + recordID, "getRecord"},
		{"DELETE", "/v1/subjects/cust-1", "eraseSubject"},
		{"GET", "/v1/regions/eu-central/subjects/cust-1/export", "exportSubject"},
		{"POST", "/v1/regions/eu-central/subjects/cust-1/consents/c1/withdraw", "withdrawConsent"},
		{"GET", "/metrics", "getMetrics"},
		{"HEAD", "/healthz", "getHealth"},
		{"PUT", "/v1/records/" + recordID, RouteUnmatched},
		{"GET", "/v1/nowhere/cust-1", RouteUnmatched},
		{"GET", "/v1/records/../regions", RouteUnmatched},
	} {
		r := httptest.NewRequest(c.method, "/", nil)
		r.URL.Path = c.path
		if got := RouteName(r); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// TestNoteRegion: several regions make "multi"; a context that did not
// come through Middleware is ignored.
func TestNoteRegion(t *testing.T) {
	r, x := enter(httptest.NewRequest("GET", "/", nil))
	NoteRegion(r.Context(), "cn-north")
	NoteRegion(r.Context(), "cn-north")
	if x.region != "cn-north" {
		t.Errorf("one region: %q", x.region)
	}
	NoteRegion(r.Context(), "us-east")
	if x.region != RegionMulti {
		t.Errorf("two regions: %q, want %q", x.region, RegionMulti)
	}
	if _, inner := enter(r); inner != nil {
		t.Error("an inner Middleware would count the request again")
	}
	NoteRegion(httptest.NewRequest("GET", "/", nil).Context(), "us-east") // no exchange: nothing happens
}
