package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/console"
)

const (
	goodToken    = "dmc_good"
	limitedToken = "dmc_limited"
)

// fakeAPI answers the few /v1 calls the console makes, as the gateway
// would: 401 for an unknown token, 403 for the limited principal's admin
// calls.
func fakeAPI(t *testing.T, calls *[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			*calls = append(*calls, r.Method+" "+r.URL.Path+" from "+r.RemoteAddr)
		}
		problem := func(status int, code string) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(client.Problem{Status: status, Code: code, Title: http.StatusText(status), Detail: "the fake API says " + code})
		}
		reply := func(v any) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		}
		if r.URL.Path == "/readyz" {
			reply(map[string]any{"regions": map[string]string{"r1": "ready"}})
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok != goodToken && tok != limitedToken {
			problem(http.StatusUnauthorized, "unauthenticated")
			return
		}
		switch {
		case r.URL.Path == "/v1/regions":
			reply(client.RegionsResponse{Regions: []client.Region{{Name: "r1", Suite: "intl", Residency: "strict", Jurisdictions: []string{"DE"},
				Algorithms: map[string]string{"aead": "AES-256-GCM"}, Records: map[string]int64{"customers": 7}}}})
		case tok == limitedToken:
			problem(http.StatusForbidden, "permission_denied")
		case r.URL.Path == "/v1/regions/r1/keys":
			reply(client.KeyStatus{Region: "r1", Suite: "intl", Keys: []client.KeyPurpose{{Purpose: "data", Current: 1, Versions: []client.KeyVersion{{Version: 1, State: "active"}}}}})
		case r.URL.Path == "/v1/alerts":
			reply(client.AlertsResponse{Alerts: []client.Alert{{ID: "a1", Region: "r1", Principal: "p1", Rule: "bulk-read", Severity: "high", Response: "lock", Count: 500, Limit: 100}}})
		case r.URL.Path == "/v1/principals":
			reply(client.PrincipalsResponse{Principals: []client.Principal{{ID: "p1", State: "locked", Roles: []string{"support"}}}})
		case r.Method == http.MethodPost && r.URL.Path == "/v1/principals/p1/unlock":
			reply(client.Principal{ID: "p1", State: "active"})
		default:
			problem(http.StatusNotFound, "no_such_endpoint")
		}
	})
}

// harness is a console in front of the fake API, with a clock.
type harness struct {
	t   *testing.T
	h   http.Handler
	now time.Time
	// revoked makes the API refuse every token from now on.
	revoked bool
}

func newHarness(t *testing.T, calls *[]string) *harness {
	hs := &harness{t: t, now: time.Unix(1_800_000_000, 0)}
	api := fakeAPI(t, calls)
	c, err := console.New(console.Options{API: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hs.revoked {
			r.Header.Del("Authorization")
		}
		api.ServeHTTP(w, r)
	}), Now: func() time.Time { return hs.now }, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs.h = c
	return hs
}

// do serves one request; hdr may set headers, cookie the session.
func (hs *harness) do(method, path string, form url.Values, cookie string, hdr map[string]string) *http.Response {
	hs.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "http://127.0.0.1:8700"+path, body)
	r.RemoteAddr = "192.0.2.7:5555"
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "domicile_console", Value: cookie})
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signIn signs in with token and returns the session cookie's value.
func (hs *harness) signIn(token string) string {
	hs.t.Helper()
	resp := hs.do("POST", "/console/signin", url.Values{"token": {token}}, "", map[string]string{"Origin": "http://127.0.0.1:8700", "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther {
		hs.t.Fatalf("sign in: HTTP %d: %s", resp.StatusCode, body(hs.t, resp))
	}
	for _, c := range resp.Cookies() {
		if c.Name == "domicile_console" {
			return c.Value
		}
	}
	hs.t.Fatal("sign-in set no cookie")
	return ""
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the form token that a page of the session carries.
func (hs *harness) csrf(cookie string) string {
	hs.t.Helper()
	resp := hs.do("GET", "/console/alerts", nil, cookie, nil)
	m := csrfField.FindStringSubmatch(body(hs.t, resp))
	if m == nil {
		hs.t.Fatal("the page has no CSRF field")
	}
	return m[1]
}

func TestHeaders(t *testing.T) {
	hs := newHarness(t, nil)
	cookie := hs.signIn(goodToken)
	for _, path := range []string{"/console/signin", "/console/regions", "/console/nope"} {
		resp := hs.do("GET", path, nil, cookie, nil)
		want := map[string]string{
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q allows script", path, csp)
		}
		if b := body(t, resp); strings.Contains(b, "<script") || strings.Contains(b, goodToken) {
			t.Errorf("%s: the page holds a script or the token", path)
		}
	}
	if resp := hs.do("GET", "/console/static/", nil, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the static folder: HTTP %d, want 404 (no listing)", resp.StatusCode)
	}
	resp := hs.do("GET", "/console/static/console.css", nil, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestSignIn(t *testing.T) {
	same := map[string]string{"Origin": "http://127.0.0.1:8700", "Sec-Fetch-Site": "same-origin"}
	tests := []struct {
		name   string
		token  string
		hdr    map[string]string
		status int
		code   string // shown on the page
	}{
		{"ok/admin", goodToken, same, http.StatusSeeOther, ""},
		{"ok/refused-elsewhere", limitedToken, same, http.StatusSeeOther, ""},
		{"ok/no-browser-headers", goodToken, nil, http.StatusSeeOther, ""},
		{"fail/unknown-token", "dmc_nobody", same, http.StatusUnauthorized, "unauthenticated"},
		{"fail/empty", "", same, http.StatusBadRequest, "invalid_token"},
		{"fail/spaces", "dmc_a b", same, http.StatusBadRequest, "invalid_token"},
		{"fail/cross-site", goodToken, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "cross_site_request"},
		{"fail/other-origin", goodToken, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, "cross_site_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			resp := hs.do("POST", "/console/signin", url.Values{"token": {tt.token}}, "", tt.hdr)
			b := body(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.code != "" && !strings.Contains(b, tt.code) {
				t.Errorf("the page does not show %s", tt.code)
			}
			if tt.token != "" && strings.Contains(b, tt.token) {
				t.Error("the page shows the token")
			}
			var ck *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "domicile_console" {
					ck = c
				}
			}
			if tt.status != http.StatusSeeOther {
				if ck != nil {
					t.Error("a refused sign-in set a cookie")
				}
				return
			}
			if loc := resp.Header.Get("Location"); loc != "/console/regions" {
				t.Errorf("Location %q", loc)
			}
			if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" {
				t.Fatalf("cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/console", ck)
			}
			if strings.Contains(ck.Value, tt.token) {
				t.Error("the cookie holds the token in clear")
			}
		})
	}
}

func TestSession(t *testing.T) {
	hs := newHarness(t, nil)
	cookie := hs.signIn(goodToken)
	tests := []struct {
		name     string
		cookie   string
		advance  time.Duration
		status   int
		location string
	}{
		{"ok/signed-in", cookie, 0, http.StatusOK, ""},
		{"fail/no-cookie", "", 0, http.StatusSeeOther, "/console/signin"},
		{"fail/garbage", "bm90IGEgc2Vzc2lvbg", 0, http.StatusSeeOther, "/console/signin?expired=1"},
		{"fail/expired", cookie, 2 * time.Hour, http.StatusSeeOther, "/console/signin?expired=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs.now = time.Unix(1_800_000_000, 0).Add(tt.advance)
			resp := hs.do("GET", "/console/regions", nil, tt.cookie, nil)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Fatalf("HTTP %d to %q, want %d to %q", resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
		})
	}
	// A token the API no longer takes ends the session.
	hs.now = time.Unix(1_800_000_000, 0)
	hs.revoked = true
	for _, path := range []string{"/console/regions", "/console/map", "/console/alerts", "/console/audit", "/console/records?id=rec_x"} {
		resp := hs.do("GET", path, nil, cookie, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin?expired=1" {
			t.Errorf("%s with a revoked token: HTTP %d to %q, want the sign-in page", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestCSRFAndUnlock(t *testing.T) {
	var calls []string
	hs := newHarness(t, &calls)
	cookie := hs.signIn(goodToken)
	token := hs.csrf(cookie)
	same := map[string]string{"Origin": "http://127.0.0.1:8700", "Sec-Fetch-Site": "same-origin"}
	tests := []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
		code   string
	}{
		{"fail/no-csrf", url.Values{"principal": {"p1"}}, same, http.StatusForbidden, "csrf_token_invalid"},
		{"fail/wrong-csrf", url.Values{"principal": {"p1"}, "csrf": {token + "x"}}, same, http.StatusForbidden, "csrf_token_invalid"},
		{"fail/cross-site", url.Values{"principal": {"p1"}, "csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "cross_site_request"},
		{"fail/no-principal", url.Values{"csrf": {token}}, same, http.StatusBadRequest, "invalid_principal"},
		{"ok/unlock", url.Values{"principal": {"p1"}, "csrf": {token}}, same, http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			resp := hs.do("POST", "/console/alerts/unlock", tt.form, cookie, tt.hdr)
			b := body(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.code != "" && !strings.Contains(b, tt.code) {
				t.Errorf("the page does not show %s", tt.code)
			}
			unlocked := false
			for _, c := range calls {
				if strings.HasPrefix(c, "POST /v1/principals/p1/unlock") {
					unlocked = true
					// The API sees the browser's address, for its limits.
					if !strings.HasSuffix(c, "from 192.0.2.7:5555") {
						t.Errorf("the API saw %q", c)
					}
				}
			}
			if unlocked != (tt.status == http.StatusSeeOther) {
				t.Errorf("unlock reached the API: %v", unlocked)
			}
		})
	}
	// Sign-out needs the form token too, and clears the cookie.
	if resp := hs.do("POST", "/console/signout", url.Values{}, cookie, same); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without CSRF: HTTP %d", resp.StatusCode)
	}
	resp := hs.do("POST", "/console/signout", url.Values{"csrf": {token}}, cookie, same)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin?out=1" {
		t.Fatalf("sign-out: HTTP %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("sign-out did not clear the cookie: %+v", cs)
	}
}

func TestRefusals(t *testing.T) {
	hs := newHarness(t, nil)
	limited := hs.signIn(limitedToken)
	tests := []struct {
		name, method, path string
		status             int
		show               string
		location           string
	}{
		{"refused/alerts", "GET", "/console/alerts", http.StatusForbidden, "permission_denied", ""},
		{"refused/unknown-page", "GET", "/console/nope", http.StatusNotFound, "no_such_page", ""},
		{"refused/method", "DELETE", "/console/regions", http.StatusMethodNotAllowed, "method_not_allowed", ""},
		{"refused/bad-year", "GET", "/console/transfers?year=abc", http.StatusBadRequest, "invalid_year", ""},
		{"ok/regions-without-keys", "GET", "/console/regions", http.StatusOK, "permission_denied", ""},
		{"ok/root", "GET", "/console", http.StatusSeeOther, "", "/console/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := hs.do(tt.method, tt.path, nil, limited, nil)
			b := body(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if !strings.Contains(b, tt.show) {
				t.Errorf("the page does not show %q", tt.show)
			}
			if tt.location != "" && resp.Header.Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), tt.location)
			}
			if strings.Contains(b, "goroutine") || strings.Contains(b, ".go:") {
				t.Error("the page shows a stack")
			}
		})
	}
}
