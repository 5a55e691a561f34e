package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/residency"
	"github.com/domicile/domicile/internal/web"
)

func testResolver(t *testing.T) *residency.Resolver {
	t.Helper()
	res, err := residency.New([]residency.Region{
		{Name: "cn-north", Countries: []string{"CN"}},
		{Name: "eu-central", Countries: []string{"DE", "FR"}},
		{Name: "us-east", CatchAll: true},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestEveryRouteHasAHandler: the gateway serves every route of the table.
func TestEveryRouteHasAHandler(t *testing.T) {
	g := &Gateway{}
	for _, m := range []*web.Metrics{nil, web.NewMetrics()} {
		h := g.handlers(m)
		for _, rt := range web.Routes {
			if h(rt) == nil {
				t.Errorf("no gateway handler for %s (%s)", rt.Name, rt.Pattern())
			}
		}
	}
}

// TestRoutesServed sends a request of every route to a gateway in front of
// regions that answer {} to anything: none is answered as an unknown
// endpoint.
func TestRoutesServed(t *testing.T) {
	region := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		web.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	backends := map[string]Backend{}
	for _, name := range []string{"cn-north", "eu-central", "us-east"} {
		backends[name] = Backend{URL: &url.URL{Scheme: "http", Host: name + ".local"}, Transport: LocalTransport(region)}
	}
	h, err := New(Options{Resolver: testResolver(t), Backends: backends, Metrics: web.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{id}", "rec_eu-central_aaaaaaaaaaaaaaaaaaaaaaaaaa", "{region}", "eu-central",
		"{subject}", "s", "{collection}", "customers", "{index}", "0")
	for _, rt := range web.Routes {
		var body io.Reader
		if rt.Method == http.MethodPost || rt.Method == http.MethodPatch {
			body = strings.NewReader(`{}`)
		}
		req := httptest.NewRequest(rt.Method, fill.Replace(rt.Path), body)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var p client.Problem
		if rec.Code == http.StatusMethodNotAllowed || json.Unmarshal(rec.Body.Bytes(), &p) == nil && p.Code == "no_such_endpoint" {
			t.Errorf("%s (%s): %d %s", rt.Name, rt.Pattern(), rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/nowhere", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"no_such_endpoint"`) {
		t.Errorf("GET /v1/nowhere: %d %s", rec.Code, rec.Body)
	}
}

func TestNewChecksBackends(t *testing.T) {
	res := testResolver(t)
	u := &url.URL{Scheme: "http", Host: "x"}
	all := map[string]Backend{"cn-north": {URL: u}, "eu-central": {URL: u}, "us-east": {URL: u}}
	if _, err := New(Options{Resolver: res, Backends: all}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Resolver: res, Backends: map[string]Backend{"cn-north": {URL: u}}}); err == nil {
		t.Error("New without a backend for every region succeeded")
	}
	all["mars"] = Backend{URL: u}
	if _, err := New(Options{Resolver: res, Backends: all}); err == nil {
		t.Error("New with a backend for no region succeeded")
	}
	if _, err := New(Options{Backends: all}); err == nil {
		t.Error("New without a resolver succeeded")
	}
}

// TestErrors checks the gateway's own answers: codes, statuses and the
// index of the offending item.
func TestErrors(t *testing.T) {
	region := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		web.WriteJSON(w, http.StatusOK, map[string]any{})
	})
	backends := map[string]Backend{}
	for _, name := range []string{"cn-north", "eu-central", "us-east"} {
		backends[name] = Backend{URL: &url.URL{Scheme: "http", Host: name + ".local"}, Transport: LocalTransport(region)}
	}
	h, err := New(Options{Resolver: testResolver(t), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	many := `{"items":[` + strings.Repeat(`{},`, 1000) + `{}]}`
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
		index              int // -1: none
	}{
		{"POST", "/v1/records", `{"records":[{"jurisdiction":"DE"},{"jurisdiction":"EU"}]}`, 400, "unknown_jurisdiction", 1},
		{"POST", "/v1/records", `{"records":[{"jurisdiction":"DE"},{"jurisdiction":"CN"}]}`, 400, "cross_region_batch", 1},
		{"POST", "/v1/records", `{"records":[]}`, 400, "too_many_records", -1},
		{"POST", "/v1/records", `{"records":`, 400, "malformed_json", -1},
		{"GET", "/v1/records/rec_x", "", 400, "invalid_record_id", -1},
		{"GET", "/v1/records/rec_mars_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", 404, "not_found", -1},
		{"GET", "/v1/regions/mars/keys", "", 404, "unknown_region", -1},
		{"GET", "/v1/subjects/s/records?limit=0", "", 400, "invalid_request", -1},
		{"GET", "/v1/subjects/s/records?cursor=!!", "", 400, "invalid_cursor", -1},
		{"POST", "/v1/collections/customers/search", `{"field":"email","value":"x","limit":-5}`, 400, "invalid_request", -1},
		{"POST", "/v1/collections/customers/search", `{"field":"email","value":"x","jurisdiction":"XX"}`, 400, "unknown_jurisdiction", -1},
		{"POST", "/v1/tokenize", many, 400, "too_many_items", -1},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		var p client.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != c.status || p.Code != c.code || p.Status != c.status {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, rec.Code, rec.Body, c.status, c.code)
			continue
		}
		if (c.index < 0) != (p.Index == nil) || p.Index != nil && *p.Index != c.index {
			t.Errorf("%s %s: index %v, want %d", c.method, c.path, p.Index, c.index)
		}
	}

	// An item that routes nowhere fails alone.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/detokenize", strings.NewReader(`{"items":[{"token":"123"},{"token":"x","region":"mars"}]}`)))
	var dr client.DetokenizeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &dr); err != nil || len(dr.Results) != 2 ||
		dr.Results[0].Error == nil || dr.Results[0].Error.Code != "token_needs_region" ||
		dr.Results[1].Error == nil || dr.Results[1].Error.Code != "unknown_region" {
		t.Errorf("detokenize: %d %s", rec.Code, rec.Body)
	}
}

// A tokenize batch whose items all go to one region reaches that region as
// it was sent, to be decoded and checked there once (an unknown key
// included); a batch over two regions is still split and merged.
func TestTokenizeOneRegionForwarded(t *testing.T) {
	got := map[string][]string{}
	var mu sync.Mutex
	backends := map[string]Backend{}
	for _, name := range []string{"cn-north", "eu-central", "us-east"} {
		backends[name] = Backend{URL: &url.URL{Scheme: "http", Host: name + ".local"}, Transport: LocalTransport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[name] = append(got[name], string(b))
			mu.Unlock()
			var req client.TokenizeRequest
			if err := json.Unmarshal(b, &req); err != nil {
				t.Errorf("%s got %q: %v", name, b, err)
			}
			res := make([]client.TokenizeResult, len(req.Items))
			for i, it := range req.Items {
				res[i] = client.TokenizeResult{Token: name + ":" + it.Value}
			}
			web.WriteJSON(w, http.StatusOK, client.TokenizeResponse{Results: res})
		}))}
	}
	h, err := New(Options{Resolver: testResolver(t), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	one := `{"items":[{"collection":"c","field":"f","value":"a","jurisdiction":"DE","extra":1},{"collection":"c","field":"f","value":"b","jurisdiction":"FR"}]}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/tokenize", strings.NewReader(one)))
	if rec.Code != http.StatusOK || len(got["eu-central"]) != 1 || got["eu-central"][0] != one || len(got) != 1 {
		t.Fatalf("one region: %d %s; regions got %q", rec.Code, rec.Body, got)
	}
	clear(got)
	two := `{"items":[{"collection":"c","field":"f","value":"a","jurisdiction":"DE"},{"collection":"c","field":"f","value":"b","jurisdiction":"CN"}]}`
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/tokenize", strings.NewReader(two)))
	var tr client.TokenizeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || len(tr.Results) != 2 ||
		tr.Results[0].Token != "eu-central:a" || tr.Results[1].Token != "cn-north:b" || len(got) != 2 {
		t.Fatalf("two regions: %d %s; regions got %q", rec.Code, rec.Body, got)
	}
}
