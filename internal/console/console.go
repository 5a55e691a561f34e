// Package console is Domicile's browser console: server-rendered pages,
// served by the gateway under /console, for the people who answer for the
// data (compliance and security officers, operators). A person signs in
// with a principal's API token; every page is then made from the /v1 API's
// answers to that token, through the Go client whose transport hands each
// request to the gateway's own API handler in the same process.
//
// The console holds no state of its own and decides nothing: masking,
// refusals, the guard and transfer counting stay the API's, and a refusal
// is shown with the API's problem code. The token lives only in the
// browser, in an HttpOnly, Secure, SameSite=Strict cookie sealed with a
// key made at start-up (AES-256-GCM), so a restart signs everyone out; it
// never appears in a URL or a page. POST forms carry a CSRF token derived
// from the cookie, and cross-site POSTs are refused. Pages carry no script.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/domicile/domicile/client"
)

// Prefix is the path the console is served under.
const Prefix = "/console"

// DefaultSessionTTL is how long a sign-in lasts unless Options say
// otherwise.
const DefaultSessionTTL = 8 * time.Hour

// maxForm bounds a form body: a token, a CSRF token and an id.
const maxForm = 8 << 10

//go:embed assets
var assets embed.FS

// Options configure the console.
type Options struct {
	// API is the gateway's /v1 handler. Required.
	API http.Handler
	// Logger receives the console's own failures (never a token, value
	// or URL); nil discards them.
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Console serves the console's pages.
type Console struct {
	api     http.Handler
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	keys    *sessionKeys
	pages   map[string]*template.Template
	static  http.Handler
	origins *http.CrossOriginProtection
}

// New returns the console's handler, for the paths under Prefix.
//
// Errors: when o.API is nil, or the embedded templates do not parse.
func New(o Options) (*Console, error) {
	if o.API == nil {
		return nil, errors.New("console: no API handler")
	}
	c := &Console{api: o.API, log: o.Logger, now: o.Now, ttl: o.SessionTTL, origins: http.NewCrossOriginProtection()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.ttl <= 0 {
		c.ttl = DefaultSessionTTL
	}
	var err error
	if c.keys, err = newSessionKeys(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if c.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.static = http.StripPrefix(Prefix+"/static/", http.FileServerFS(static))
	return c, nil
}

// pageNames are the templates of assets/templates besides the layout.
var pageNames = []string{"signin", "regions", "map", "transfers", "alerts", "audit", "records", "problem"}

var funcs = template.FuncMap{
	"join": strings.Join,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"limit": func(n int64) string {
		if n < 0 {
			return "no limit"
		}
		return fmt.Sprintf("%d", n)
	},
	"hex": func(b []byte) string { return fmt.Sprintf("%x", b) },
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html", "assets/templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// ServeHTTP routes the console's paths.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.log.Error("console: panic in handler", "panic", fmt.Sprint(v))
			c.problem(w, r, nil, http.StatusBadGateway, client.Problem{Code: "internal", Title: "Internal error",
				Detail: "the console failed to render this page; the gateway's log says why"})
		}
	}()
	secureHeaders(w.Header())
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	path := strings.TrimPrefix(r.URL.Path, Prefix)
	if strings.HasPrefix(path, "/static/") && !strings.HasSuffix(path, "/") { // files, never a listing
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c.methodNotAllowed(w, r, "GET")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
		return
	}
	type route struct {
		method string
		serve  func(http.ResponseWriter, *http.Request)
	}
	routes := map[string]route{
		"":               {http.MethodGet, c.redirect(Prefix + "/")},
		"/":              {http.MethodGet, c.redirect(Prefix + "/regions")},
		"/signin":        {"", c.signin},
		"/signout":       {http.MethodPost, c.signout},
		"/regions":       {http.MethodGet, c.session(c.regions)},
		"/map":           {http.MethodGet, c.session(c.residencyMap)},
		"/transfers":     {http.MethodGet, c.session(c.transfers)},
		"/alerts":        {http.MethodGet, c.session(c.alerts)},
		"/alerts/unlock": {http.MethodPost, c.session(c.unlock)},
		"/audit":         {http.MethodGet, c.session(c.audit)},
		"/records":       {http.MethodGet, c.session(c.records)},
	}
	rt, ok := routes[path]
	if !ok {
		c.problem(w, r, nil, http.StatusNotFound, client.Problem{Code: "no_such_page", Title: "Not found",
			Detail: "the console has no page " + truncate(path, 60), Hint: "use the navigation bar"})
		return
	}
	switch {
	case rt.method == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
	case r.Method == rt.method, r.Method == http.MethodHead && rt.method == http.MethodGet:
	default:
		allow := rt.method
		if allow == "" {
			allow = "GET, POST"
		}
		c.methodNotAllowed(w, r, allow)
		return
	}
	if r.Method == http.MethodPost {
		if err := c.origins.Check(r); err != nil {
			c.problem(w, r, nil, http.StatusForbidden, client.Problem{Code: "cross_site_request", Title: "Forbidden",
				Detail: "the console refuses a form sent from another site", Hint: "open the console's own page and send the form from there"})
			return
		}
	}
	rt.serve(w, r)
}

func (c *Console) redirect(to string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusSeeOther) }
}

func (c *Console) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	c.problem(w, r, nil, http.StatusMethodNotAllowed, client.Problem{Code: "method_not_allowed", Title: "Method not allowed",
		Detail: r.Method + " is not allowed here; use " + allow})
}

// csp allows the console's own stylesheet and nothing else: no script, no
// frame, forms only to the console.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// nav is an entry of the navigation bar.
type nav struct {
	Path, Label string
}

var navItems = []nav{{"/regions", "Regions"}, {"/map", "Residency map"}, {"/transfers", "Transfers"},
	{"/alerts", "Alerts & locks"}, {"/audit", "Audit"}, {"/records", "Record lookup"}}

// view is what every page template gets.
type view struct {
	Title    string
	Active   string // the nav path of the page
	Nav      []nav
	SignedIn bool
	CSRF     string // the form token of the session
	Problem  *client.Problem
	Notice   string
	Data     any
}

// render writes page name with status.
func (c *Console) render(w http.ResponseWriter, s *session, status int, name string, v view) {
	v.Nav = navItems
	if s != nil {
		v.SignedIn = true
		v.CSRF = c.keys.csrf(s.cookie)
	}
	t := c.pages[name]
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		c.log.Error("console: rendering a page failed", "page", name, "err", err)
		status = http.StatusBadGateway
		b.Reset()
		b.WriteString("<!doctype html><title>Domicile console</title><p>The console failed to render this page; the gateway's log says why.</p>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// problem renders the problem page: the API's refusal or the console's.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, s *session, status int, p client.Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	c.render(w, s, status, "problem", view{Title: p.Title, Active: strings.TrimPrefix(r.URL.Path, Prefix), Problem: &p})
}

// apiStatus is the status a page shows for an API failure: the API's,
// but never a bare 500 (a failure behind the console is a bad gateway).
func apiStatus(p client.Problem) int {
	switch {
	case p.Status >= 400 && p.Status < 500, p.Status == http.StatusServiceUnavailable, p.Status == http.StatusBadGateway, p.Status == http.StatusGatewayTimeout:
		return p.Status
	default:
		return http.StatusBadGateway
	}
}

// problemOf returns the API's problem for err, or a console problem for an
// error that never reached the API (a cancelled request, a bad input the
// client refused before sending).
func problemOf(err error) client.Problem {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Problem
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return client.Problem{Status: http.StatusGatewayTimeout, Code: "request_cancelled", Title: "Gateway timeout",
			Detail: "the request ended before the API answered; reload the page"}
	}
	return client.Problem{Status: http.StatusBadRequest, Code: "invalid_input", Title: "Bad request",
		Detail: strings.TrimPrefix(err.Error(), "domicile: ")}
}

// fail answers a page whose API call failed with err: back to sign-in when
// the API no longer accepts the token, else the API's problem.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	p := problemOf(err)
	if p.Status == http.StatusUnauthorized {
		c.expire(w, r)
		return
	}
	c.problem(w, r, s, apiStatus(p), p)
}
