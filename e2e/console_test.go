package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/domicile/domicile/client"
)

// chromiumPath finds Debian's chromium. Without it the browser tests fail
// when CI is set, and skip otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: the console's browser tests need it (scripts/deps.sh installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the console's browser tests")
	return ""
}

// artifactsDir is where the console's screenshots go: $DOMICILE_ARTIFACTS/console,
// else e2e/artifacts/console.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DOMICILE_ARTIFACTS")
	if base == "" {
		base = "artifacts"
	}
	dir := filepath.Join(base, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser drives one headless chromium for a test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the gateway's URL
	dir  string // screenshots
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	// Every step below runs under this bound: a hung browser fails the
	// test instead of hanging it (not a performance limit).
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	b := &browser{t: t, ctx: bctx, base: base, dir: artifactsDir(t)}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// open loads a console page and returns its HTTP status.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// submit clicks a button that sends a form and returns the status of the
// page it leads to.
func (b *browser) submit(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

// text returns the visible text of the page's main element.
func (b *browser) text() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		b.t.Fatalf("read the page: %v", err)
	}
	return s
}

// location returns the page's URL path.
func (b *browser) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(s, b.base)
}

// shot saves a full-page PNG screenshot as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs in with token from the sign-in page.
func (b *browser) signIn(token string) {
	b.t.Helper()
	if st := b.open("/console/signin"); st != http.StatusOK {
		b.t.Fatalf("sign-in page: HTTP %d", st)
	}
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.ID("token"), token)); err != nil {
		b.t.Fatal(err)
	}
	if st := b.submit("#signin"); st != http.StatusOK {
		b.t.Fatalf("sign in: HTTP %d: %s", st, b.text())
	}
	if loc := b.location(); loc != "/console/regions" {
		b.t.Fatalf("after sign-in the browser is at %s, want /console/regions: %s", loc, b.text())
	}
}

// sessionCookie returns the console's cookie as the browser holds it.
func (b *browser) sessionCookie() *network.Cookie {
	b.t.Helper()
	cookies, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/console/"}})
		return r.Cookies, err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range cookies {
		if c.Name == "domicile_console" {
			return c
		}
	}
	return nil
}

// mustContain checks that text holds each of wants, in any case (the
// stylesheet upper-cases table captions).
func mustContain(t *testing.T, page, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
			t.Errorf("%s page does not show %q; it shows:\n%s", page, w, text)
		}
	}
}

// TestConsoleBrowser drives the console in headless chromium against a
// real `domicile dev`: an administrator and a support agent sign in, every
// page shows the vault's real data as the API gives it to them, a masked
// value stays masked, and a page the agent may not see is refused.
func TestConsoleBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startDev(t, t.TempDir(), nil)
	ctx := context.Background()
	admin, err := client.New(srv.URL, srv.Token, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	const email = "ada.console@example.com"
	created, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "console-subject-1", Jurisdiction: "US",
		Fields: map[string]string{"name": "Ada Console", "email": email, "phone": "+12025550143"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := created.Records[0].ID
	agent, err := admin.CreatePrincipal(ctx, client.PrincipalRequest{ID: "console-agent", Kind: "person", Roles: []string{"support"}, Location: "US"})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, srv.URL)

	// A browser that asks for / is sent to the console, and to sign-in.
	b.open("/")
	if loc := b.location(); loc != "/console/signin" {
		t.Fatalf("/ led to %s, want /console/signin", loc)
	}
	b.shot("signin")

	b.signIn(srv.Token)
	ck := b.sessionCookie()
	if ck == nil {
		t.Fatal("no session cookie after sign-in")
	}
	if !ck.HTTPOnly || !ck.Secure || ck.SameSite != network.CookieSameSiteStrict || ck.Path != "/console" {
		t.Errorf("session cookie: httpOnly=%v secure=%v sameSite=%s path=%s; want HttpOnly, Secure, Strict, /console", ck.HTTPOnly, ck.Secure, ck.SameSite, ck.Path)
	}
	if strings.Contains(ck.Value, srv.Token) {
		t.Error("the session cookie holds the token in clear")
	}

	text := b.text()
	mustContain(t, "regions", text, "cn-north", "eu-central", "us-east", "suite cn", "SM4-GCM", "SM2", "AES-256-GCM", "customers", "unsealed · ready", "current")
	b.shot("regions")

	if st := b.open("/console/map"); st != http.StatusOK {
		t.Fatalf("map: HTTP %d", st)
	}
	svg, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("svg.resmap")))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "map", svg, "cn-north", "every other", "suite cn", "suite intl", ">CN<")
	mustContain(t, "map", b.text(), "customers")
	b.shot("map")

	if st := b.open("/console/transfers"); st != http.StatusOK {
		t.Fatalf("transfers: HTTP %d", st)
	}
	mustContain(t, "transfers", b.text(), "cn-north", "Thresholds", "Distinct individuals", "Mechanisms", "exempt", "eu-gb-adequacy")
	b.shot("transfers")

	if st := b.open("/console/alerts"); st != http.StatusOK {
		t.Fatalf("alerts: HTTP %d", st)
	}
	mustContain(t, "alerts", b.text(), "Locked principals", "Alerts")
	b.shot("alerts")

	if st := b.open("/console/audit?region=cn-north&index=0"); st != http.StatusOK {
		t.Fatalf("audit: HTTP %d: %s", st, b.text())
	}
	if st := b.submit("#verify"); st != http.StatusOK {
		t.Fatalf("audit verify: HTTP %d: %s", st, b.text())
	}
	mustContain(t, "audit", b.text(), "signature verified", "domicile/cn-north", "Entry 0", "included in the signed tree", "the log verifies")
	b.shot("audit")

	if st := b.open("/console/records?purpose=support&id=" + id); st != http.StatusOK {
		t.Fatalf("record: HTTP %d: %s", st, b.text())
	}
	mustContain(t, "record (admin)", b.text(), id, email, "Ada Console", "clear")
	b.shot("records-admin")

	if st := b.submit("form.signout button"); st != http.StatusOK {
		t.Fatalf("sign out: HTTP %d", st)
	}
	mustContain(t, "sign-out", b.text(), "Signed out")
	if ck := b.sessionCookie(); ck != nil {
		t.Errorf("the session cookie outlived sign-out")
	}
	if st := b.open("/console/regions"); st != http.StatusOK || b.location() != "/console/signin" {
		t.Errorf("after sign-out /console/regions led to %s (HTTP %d), want the sign-in page", b.location(), st)
	}

	// The support agent sees the e-mail masked: the API's decision.
	b.signIn(agent.Token)
	if st := b.open("/console/records?purpose=support&id=" + id); st != http.StatusOK {
		t.Fatalf("record (agent): HTTP %d: %s", st, b.text())
	}
	text = b.text()
	mustContain(t, "record (agent)", text, id, "Ada Console", "masked")
	if strings.Contains(text, email) {
		t.Errorf("the support agent sees the e-mail in clear:\n%s", text)
	}
	b.shot("records-masked")

	// Alerts and locks are the administrators': the API refuses, and so
	// does the page, with its code and HTTP 403.
	if st := b.open("/console/alerts"); st != http.StatusForbidden {
		t.Errorf("alerts for the agent: HTTP %d, want 403", st)
	}
	mustContain(t, "forbidden", b.text(), "permission_denied", "Forbidden")
	b.shot("forbidden")
}
