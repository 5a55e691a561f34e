package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
)

const token = "tok-0123456789"

// seen is what the test server saw of one request.
type seen struct {
	Method, URI string
	Header      http.Header
	Body        string
}

// server answers every request with status and body (and contentType), and
// records what it saw.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
	// answer is what every request gets.
	status      int
	contentType string
	body        string
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{status: http.StatusOK, contentType: "application/json", body: "{}"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: string(b)})
		status, ct, body := s.status, s.contentType, s.body
		s.mu.Unlock()
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("X-Request-Id", "req-from-header")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) answer(status int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.contentType, s.body = status, contentType, body
}

func (s *server) last(t *testing.T) seen {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("the server saw no request")
	}
	return s.reqs[len(s.reqs)-1]
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func newClient(t *testing.T, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var created = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRequests(t *testing.T) {
	record := client.Record{ID: "rec_cn-north_01", Collection: "customers", Subject: "cust/1", Jurisdiction: "CN",
		Region: "cn-north", Fields: map[string]string{"name": "王伟"}, Created: created, Updated: created}
	page := client.Page{Records: []client.Record{record}, Next: "c2"}
	tests := []struct {
		name       string
		call       func(ctx context.Context, c *client.Client) (any, error)
		status     int
		answer     any // encoded as the response body; nil for none
		wantMethod string
		wantURI    string
		wantBody   string // JSON, compared semantically; "" for no body
		wantHeader map[string]string
		want       any
	}{
		{
			name: "create",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "s1", Jurisdiction: "CN", Fields: map[string]string{"name": "王伟"}}}, "key-1")
			},
			status:     http.StatusCreated,
			answer:     client.CreateResponse{Records: []client.Created{{ID: "rec_cn-north_01", Region: "cn-north"}}, Replayed: true},
			wantMethod: "POST",
			wantURI:    "/v1/records",
			wantBody:   `{"records":[{"collection":"customers","subject":"s1","jurisdiction":"CN","fields":{"name":"王伟"}}]}`,
			wantHeader: map[string]string{"Idempotency-Key": "key-1", "Content-Type": "application/json"},
			want:       &client.CreateResponse{Records: []client.Created{{ID: "rec_cn-north_01", Region: "cn-north"}}, Replayed: true},
		},
		{
			name: "create without idempotency key",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Create(ctx, []client.NewRecord{{Collection: "c", Subject: "s", Jurisdiction: "DE"}}, "")
			},
			status:     http.StatusCreated,
			answer:     client.CreateResponse{Records: []client.Created{{ID: "rec_eu-central_01", Region: "eu-central"}}},
			wantMethod: "POST",
			wantURI:    "/v1/records",
			wantBody:   `{"records":[{"collection":"c","subject":"s","jurisdiction":"DE","fields":null}]}`,
			wantHeader: map[string]string{"Idempotency-Key": ""},
			want:       &client.CreateResponse{Records: []client.Created{{ID: "rec_eu-central_01", Region: "eu-central"}}},
		},
		{
			name:       "get escapes the id",
			call:       func(ctx context.Context, c *client.Client) (any, error) { return c.Get(ctx, "rec/1 ?#%") },
			answer:     record,
			wantMethod: "GET",
			wantURI:    "/v1/records/rec%2F1%20%3F%23%25",
			wantHeader: map[string]string{"Content-Type": ""},
			want:       &record,
		},
		{
			name: "patch",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Patch(ctx, "rec_cn-north_01", client.PatchRequest{Set: map[string]string{"email": "w@example.cn"}, Remove: []string{"phone"}})
			},
			answer:     record,
			wantMethod: "PATCH",
			wantURI:    "/v1/records/rec_cn-north_01",
			wantBody:   `{"set":{"email":"w@example.cn"},"remove":["phone"]}`,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			want:       &record,
		},
		{
			name: "delete",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.Delete(ctx, "rec_cn-north_01")
			},
			status:     http.StatusNoContent,
			wantMethod: "DELETE",
			wantURI:    "/v1/records/rec_cn-north_01",
		},
		{
			name: "list subject, first page",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListSubject(ctx, "cust/1", "", 0)
			},
			answer:     page,
			wantMethod: "GET",
			wantURI:    "/v1/subjects/cust%2F1/records",
			want:       &page,
		},
		{
			name: "list subject, next page",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListSubject(ctx, "cust 1", "c2+/=", 50)
			},
			answer:     client.Page{},
			wantMethod: "GET",
			wantURI:    "/v1/subjects/cust%201/records?cursor=c2%2B%2F%3D&limit=50",
			want:       &client.Page{},
		},
		{
			name: "erase subject",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.EraseSubject(ctx, "cust/1")
			},
			answer:     client.EraseResponse{Erased: 3, Regions: map[string]int{"cn-north": 2, "eu-central": 1}},
			wantMethod: "DELETE",
			wantURI:    "/v1/subjects/cust%2F1",
			want:       &client.EraseResponse{Erased: 3, Regions: map[string]int{"cn-north": 2, "eu-central": 1}},
		},
		{
			name: "search",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Search(ctx, "customers", client.SearchRequest{Field: "email", Value: "w@example.cn", Jurisdiction: "CN", Cursor: "c1", Limit: 10})
			},
			answer:     page,
			wantMethod: "POST",
			wantURI:    "/v1/collections/customers/search",
			wantBody:   `{"field":"email","value":"w@example.cn","jurisdiction":"CN","cursor":"c1","limit":10}`,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			want:       &page,
		},
		{
			name:       "regions",
			call:       func(ctx context.Context, c *client.Client) (any, error) { return c.Regions(ctx) },
			answer:     client.RegionsResponse{Regions: []client.Region{{Name: "cn-north", Suite: "cn", Jurisdictions: []string{"CN"}, KeyVersions: map[string]uint32{"data": 2}}}},
			wantMethod: "GET",
			wantURI:    "/v1/regions",
			want:       &client.RegionsResponse{Regions: []client.Region{{Name: "cn-north", Suite: "cn", Jurisdictions: []string{"CN"}, KeyVersions: map[string]uint32{"data": 2}}}},
		},
		{
			name:       "keys",
			call:       func(ctx context.Context, c *client.Client) (any, error) { return c.Keys(ctx, "cn-north") },
			answer:     client.KeyStatus{Region: "cn-north", Suite: "cn", Keys: []client.KeyPurpose{{Purpose: "data", Current: 2, Versions: []client.KeyVersion{{Version: 1, Created: created, State: "retired"}, {Version: 2, Created: created, State: "active"}}}}, Subject: 7},
			wantMethod: "GET",
			wantURI:    "/v1/regions/cn-north/keys",
			want:       &client.KeyStatus{Region: "cn-north", Suite: "cn", Keys: []client.KeyPurpose{{Purpose: "data", Current: 2, Versions: []client.KeyVersion{{Version: 1, Created: created, State: "retired"}, {Version: 2, Created: created, State: "active"}}}}, Subject: 7},
		},
		{
			name:       "rotate",
			call:       func(ctx context.Context, c *client.Client) (any, error) { return c.Rotate(ctx, "eu central", "index") },
			answer:     client.RotateResponse{Region: "eu-central", Purpose: "index", Version: 3},
			wantMethod: "POST",
			wantURI:    "/v1/regions/eu%20central/keys/rotate",
			wantBody:   `{"purpose":"index"}`,
			want:       &client.RotateResponse{Region: "eu-central", Purpose: "index", Version: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			body := ""
			if tt.answer != nil {
				b, err := json.Marshal(tt.answer)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			s.answer(status, "application/json", body)
			c := newClient(t, s)

			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			r := s.last(t)
			if r.Method != tt.wantMethod || r.URI != tt.wantURI {
				t.Errorf("request %s %s, want %s %s", r.Method, r.URI, tt.wantMethod, tt.wantURI)
			}
			if h := r.Header.Get("Authorization"); h != "Bearer "+token {
				t.Errorf("Authorization: %q", h)
			}
			if h := r.Header.Get("User-Agent"); h != client.DefaultUserAgent {
				t.Errorf("User-Agent: %q", h)
			}
			for k, v := range tt.wantHeader {
				if h := r.Header.Get(k); h != v {
					t.Errorf("%s: %q, want %q", k, h, v)
				}
			}
			if !jsonEqual(t, r.Body, tt.wantBody) {
				t.Errorf("body %s\nwant %s", r.Body, tt.wantBody)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// jsonEqual compares two JSON documents semantically; "" is no body.
func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	if got == "" || want == "" {
		return got == want
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestEmptyPathSegments(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	ctx := context.Background()
	calls := map[string]func() error{
		"get":    func() error { _, err := c.Get(ctx, ""); return err },
		"patch":  func() error { _, err := c.Patch(ctx, "", client.PatchRequest{}); return err },
		"delete": func() error { return c.Delete(ctx, "") },
		"list":   func() error { _, err := c.ListSubject(ctx, "", "", 0); return err },
		"erase":  func() error { _, err := c.EraseSubject(ctx, ""); return err },
		"search": func() error { _, err := c.Search(ctx, "", client.SearchRequest{}); return err },
		"keys":   func() error { _, err := c.Keys(ctx, ""); return err },
		"rotate": func() error { _, err := c.Rotate(ctx, "", "data"); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s with an empty path segment: no error", name)
		}
	}
	if n := s.count(); n != 0 {
		t.Errorf("the server saw %d requests, want none", n)
	}
}

func TestNew(t *testing.T) {
	bad := []struct{ url, token string }{
		{"", token},
		{"127.0.0.1:8700", token},
		{"ftp://example.com", token},
		{"http://", token},
		{"http://user:pw@example.com", token},
		{"http://example.com/?x=1", token},
		{"http://example.com/#top", token},
		{"http://example.com", "two words"},
		{"http://example.com", "line\nbreak"},
	}
	for _, b := range bad {
		if _, err := client.New(b.url, b.token); err == nil {
			t.Errorf("New(%q, %q): no error", b.url, b.token)
		} else if strings.Contains(err.Error(), b.token) {
			t.Errorf("New(%q, ...): the error shows the token: %v", b.url, err)
		}
	}

	// A path prefix is kept, a trailing slash is not doubled.
	s := newServer(t)
	for _, base := range []string{s.URL + "/domicile", s.URL + "/domicile/"} {
		c, err := client.New(base, token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Regions(context.Background()); err != nil {
			t.Fatal(err)
		}
		if uri := s.last(t).URI; uri != "/domicile/v1/regions" {
			t.Errorf("base %q: request to %q", base, uri)
		}
	}

	// No token, no Authorization header.
	c, err := client.New(s.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Regions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h, ok := s.last(t).Header["Authorization"]; ok {
		t.Errorf("Authorization sent without a token: %q", h)
	}
}

func TestOptions(t *testing.T) {
	s := newServer(t)
	var n atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, s, client.WithHTTPClient(hc), client.WithUserAgent("bench/2"))
	if _, err := c.Regions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Errorf("the given http.Client sent %d requests, want 1", n.Load())
	}
	if ua := s.last(t).Header.Get("User-Agent"); ua != "bench/2" {
		t.Errorf("User-Agent %q", ua)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestProblem(t *testing.T) {
	s := newServer(t)
	s.answer(http.StatusBadRequest, "application/problem+json", `{
		"type": "https://domicile.dev/problems/unknown_jurisdiction",
		"title": "Bad Request",
		"status": 400,
		"code": "unknown_jurisdiction",
		"detail": "record 1: unknown jurisdiction",
		"field": "jurisdiction",
		"index": 1,
		"request_id": "req-42",
		"hint": "use an ISO 3166-1 alpha-2 country code such as CN, DE or US"
	}`)
	c := newClient(t, s)
	_, err := c.Create(context.Background(), []client.NewRecord{{}, {}}, "")
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v, want *client.Error", err, err)
	}
	one := 1
	want := client.Problem{
		Type: "https://domicile.dev/problems/unknown_jurisdiction", Title: "Bad Request", Status: 400,
		Code: "unknown_jurisdiction", Detail: "record 1: unknown jurisdiction", Field: "jurisdiction", Index: &one,
		RequestID: "req-42", Hint: "use an ISO 3166-1 alpha-2 country code such as CN, DE or US",
	}
	if !reflect.DeepEqual(e.Problem, want) {
		t.Errorf("problem %+v\nwant    %+v", e.Problem, want)
	}
	if got, want := err.Error(), "domicile: unknown_jurisdiction: record 1: unknown jurisdiction (HTTP 400)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if code := client.CodeOf(err); code != "unknown_jurisdiction" {
		t.Errorf("CodeOf = %q", code)
	}
	if code := client.CodeOf(wrap(err)); code != "unknown_jurisdiction" {
		t.Errorf("CodeOf(wrapped) = %q", code)
	}
	if code := client.CodeOf(errors.New("x")); code != "" {
		t.Errorf("CodeOf(other) = %q", code)
	}
	if code := client.CodeOf(nil); code != "" {
		t.Errorf("CodeOf(nil) = %q", code)
	}

	// A minimal document: the status and request id come from the response.
	s.answer(http.StatusNotFound, "application/problem+json; charset=utf-8", `{"code":"not_found","detail":"no such record"}`)
	_, err = c.Get(context.Background(), "rec_x")
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v, want *client.Error", err, err)
	}
	if e.Problem.Status != 404 || e.Problem.RequestID != "req-from-header" || e.Problem.Title != "Not Found" {
		t.Errorf("problem %+v", e.Problem)
	}
	if got, want := err.Error(), "domicile: not_found: no such record (HTTP 404)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func wrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestNonProblemError(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		wantCode, wantDetail    string
	}{
		{"proxy html", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", 502, "http_502", "Bad Gateway (text/html response, not a problem document)"},
		{"no content type", "", "", 503, "http_503", "Service Unavailable (no content type response, not a problem document)"},
		{"broken json", "application/problem+json", `{"code":`, 500, "http_500", "Internal Server Error (application/problem+json response, not a problem document)"},
		{"json without code", "application/json", `{"error":"x"}`, 429, "http_429", "Too Many Requests (application/json response, not a problem document)"},
		{"json with detail only", "application/json", `{"detail":"slow down"}`, 429, "http_429", "slow down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.answer(tt.status, tt.contentType, tt.body)
			c := newClient(t, s)
			_, err := c.Regions(context.Background())
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v, want *client.Error", err, err)
			}
			if e.Problem.Code != tt.wantCode || e.Problem.Status != tt.status || e.Problem.Detail != tt.wantDetail {
				t.Errorf("problem %+v, want code %q status %d detail %q", e.Problem, tt.wantCode, tt.status, tt.wantDetail)
			}
		})
	}
}

func TestUndecodableSuccess(t *testing.T) {
	s := newServer(t)
	s.answer(http.StatusOK, "text/html", "<html>captive portal</html>")
	c := newClient(t, s)
	_, err := c.Regions(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	var e *client.Error
	if errors.As(err, &e) {
		t.Errorf("a 200 answer gave an *client.Error: %v", err)
	}
	if !strings.Contains(err.Error(), "text/html") {
		t.Errorf("error %q does not name the content type", err)
	}
}

func TestContextCancel(t *testing.T) {
	arrived := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer s.Close()
	c, err := client.New(s.URL, token)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err = c.Get(ctx, "rec_1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}

	// Already cancelled: no request at all.
	_, err = c.Regions(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestConnectionReuse checks that bodies are drained and closed, answers of
// every kind, so that one keep-alive connection serves every request.
func TestConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	var i atomic.Int32
	big := `{"code":"internal_error","detail":"` + strings.Repeat("x", 100<<10) + `"}`
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch i.Add(1) % 5 {
		case 0:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"regions":[]}`)
		case 1:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"code":"not_found"}`)
		case 2:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>bad gateway</html>")
		case 3:
			w.WriteHeader(http.StatusNoContent)
		case 4:
			// Larger than the part of a problem that is decoded.
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, big)
		}
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	defer s.Close()
	c, err := client.New(s.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		c.Regions(context.Background())
		c.Create(context.Background(), []client.NewRecord{{Collection: "c"}}, "")
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 100 sequential requests, want 1", n)
	}
}

// TestConcurrent is for the race detector.
func TestConcurrent(t *testing.T) {
	s := newServer(t)
	s.answer(http.StatusOK, "application/json", `{"records":[{"id":"rec_1","fields":{"a":"b"}}],"next_cursor":"n"}`)
	c := newClient(t, s)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				p, err := c.Search(context.Background(), "customers", client.SearchRequest{Field: "email", Value: "v"})
				if err != nil {
					t.Error(err)
					return
				}
				if len(p.Records) != 1 || p.Records[0].Fields["a"] != "b" || p.Next != "n" {
					t.Errorf("page %+v", p)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkGet(b *testing.B) {
	body, err := json.Marshal(client.Record{ID: "rec_cn-north_01", Collection: "customers", Subject: "s", Jurisdiction: "CN",
		Region: "cn-north", Fields: map[string]string{"name": "王伟", "email": "wang.wei@example.cn"}, Created: created, Updated: created})
	if err != nil {
		b.Fatal(err)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer s.Close()
	c, err := client.New(s.URL, token)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(context.Background(), "rec_cn-north_01"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
