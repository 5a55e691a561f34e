package console_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
)

// devBrowser is a cookie-keeping HTTP client of a dev vault's console
// (net/http's cookie jar keeps Secure cookies to https only).
type devBrowser struct {
	t      *testing.T
	base   string
	cookie string
	hc     *http.Client
}

func (b *devBrowser) get(path string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.send(req)
}

func (b *devBrowser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.send(req)
}

func (b *devBrowser) send(req *http.Request) (int, string) {
	b.t.Helper()
	req.Header.Set("Accept", "text/html")
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "domicile_console", Value: b.cookie})
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "domicile_console" {
			b.cookie = c.Value
		}
	}
	return resp.StatusCode, body(b.t, resp)
}

// TestPagesAgainstDev renders every page from a real in-process dev vault,
// reached through the gateway as a browser reaches it.
func TestPagesAgainstDev(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := app.StartDev(ctx, app.DevConfig{DataDir: dir, Listen: "127.0.0.1:0", Policy: pol, KDF: keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	tok, err := os.ReadFile(d.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	adminToken := strings.TrimSpace(string(tok))
	admin, err := client.New(d.URL, adminToken, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	const email = "grace.console@example.com"
	created, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "console-dev-1", Jurisdiction: "US",
		Fields: map[string]string{"name": "Grace Console", "email": email}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := created.Records[0].ID
	agent, err := admin.CreatePrincipal(ctx, client.PrincipalRequest{ID: "console-dev-agent", Kind: "person", Roles: []string{"support"}, Location: "US"})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// API clients see the API as before; a browser asking for / goes to
	// the console.
	resp, err := http.Get(d.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET / for an API client: HTTP %d %s, want the API's 404", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp.Body.Close()
	b := &devBrowser{t: t, base: d.URL, hc: noRedirect}
	if st, _ := b.get("/"); st != http.StatusSeeOther {
		t.Errorf("GET / for a browser: HTTP %d, want 303 to the console", st)
	}

	if st, page := b.post("/console/signin", url.Values{"token": {adminToken}}); st != http.StatusSeeOther {
		t.Fatalf("sign in: HTTP %d: %s", st, page)
	}
	pages := []struct {
		path  string
		wants []string
	}{
		{"/console/regions", []string{"cn-north", "eu-central", "us-east", "SM4-GCM", "SM2", "AES-256-GCM", "customers", "unsealed · ready", "current"}},
		{"/console/map", []string{"<svg", "cn-north", "suite cn", "suite intl", "every other", "customers"}},
		{"/console/transfers", []string{"cn-north", "Thresholds", "exempt", "eu-gb-adequacy"}},
		{"/console/transfers?region=eu-central&year=2026", []string{"eu-central · 2026"}},
		{"/console/alerts", []string{"Locked principals", "no principal is locked"}},
		{"/console/audit?region=eu-central&index=0&verify=1", []string{"signature verified", "domicile/eu-central", "included in the signed tree", "matches the entry", "the log verifies"}},
		{"/console/records?purpose=support&id=" + id, []string{id, email, "Grace Console", "clear"}},
	}
	for _, p := range pages {
		st, page := b.get(p.path)
		if st != http.StatusOK {
			t.Errorf("%s: HTTP %d: %s", p.path, st, page)
			continue
		}
		for _, w := range p.wants {
			if !strings.Contains(page, w) {
				t.Errorf("%s does not show %q", p.path, w)
			}
		}
		if strings.Contains(page, adminToken) {
			t.Errorf("%s shows the token", p.path)
		}
	}
	if st, page := b.get("/console/audit?region=eu-central&index=999999"); st != http.StatusNotFound || !strings.Contains(page, "not_in_checkpoint") {
		t.Errorf("an index past the checkpoint: HTTP %d", st)
	}

	// The support agent: masked stays masked, the admin pages are refused.
	a := &devBrowser{t: t, base: d.URL, hc: noRedirect}
	if st, page := a.post("/console/signin", url.Values{"token": {agent.Token}}); st != http.StatusSeeOther {
		t.Fatalf("sign in (agent): HTTP %d: %s", st, page)
	}
	st, page := a.get("/console/records?purpose=support&id=" + id)
	if st != http.StatusOK || !strings.Contains(page, "masked") || !strings.Contains(page, "Grace Console") || strings.Contains(page, email) {
		t.Errorf("record for the agent: HTTP %d, want the e-mail masked and the name clear:\n%s", st, page)
	}
	for _, path := range []string{"/console/alerts", "/console/audit"} {
		if st, page := a.get(path); st != http.StatusForbidden || !strings.Contains(page, "permission_denied") {
			t.Errorf("%s for the agent: HTTP %d, want 403 permission_denied", path, st)
		}
	}
	// For a purpose its role lacks, the API masks even the name, and so
	// does the page, with the API's reason.
	st, page = a.get("/console/records?purpose=fraud-investigation&id=" + id)
	if st != http.StatusOK || strings.Contains(page, "Grace Console") || !strings.Contains(page, "clear access needs purpose support") {
		t.Errorf("a read for a purpose the agent lacks: HTTP %d, want every field masked and the API's reason", st)
	}
}
