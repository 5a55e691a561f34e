package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/policy"
)

// TestFailover puts a dead node and a live one behind every region: reads
// and creates still succeed, the dead node is skipped after its first
// failure, and requests spread over live nodes.
func TestFailover(t *testing.T) {
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	var hits [2]atomic.Int64
	live := func(i int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"x"}`))
		}))
	}
	a, b := live(0), live(1)
	defer a.Close()
	defer b.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close() // connections are now refused
	ua, _ := url.Parse(a.URL)
	ub, _ := url.Parse(b.URL)
	backends := map[string]Backend{}
	for _, r := range pol.Regions {
		backends[r.Name] = Backend{URLs: []*url.URL{deadURL, ua, ub}}
	}
	h, err := New(Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i := range 20 {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = http.Get(srv.URL + "/v1/records/rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa")
		} else {
			resp, err = http.Post(srv.URL+"/v1/records", "application/json",
				strings.NewReader(`{"records":[{"collection":"customers","subject":"s","jurisdiction":"DE","fields":{}}]}`))
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if hits[0].Load() == 0 || hits[1].Load() == 0 {
		t.Errorf("requests not spread over the live nodes: %d and %d", hits[0].Load(), hits[1].Load())
	}
	if hits[0].Load()+hits[1].Load() != 20 {
		t.Errorf("live nodes served %d requests, want 20", hits[0].Load()+hits[1].Load())
	}
}
