package app

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/gateway"
)

// switchable is a region's transport that can be taken down: it then
// refuses every request as a dead node would.
type switchable struct {
	next http.RoundTripper
	down atomic.Bool
}

func (s *switchable) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp: connection refused")
	}
	return s.next.RoundTrip(r)
}

// newFanOutEnv opens every region of the bench policy behind a gateway,
// each through a transport that can be taken down, with an administrator
// in the US; c is the administrator's client of the gateway.
func newFanOutEnv(t *testing.T) (regions []*Region, transports map[string]*switchable, c *client.Client) {
	t.Helper()
	pol := benchPolicy(t)
	ctx := context.Background()
	adminTok := access.NewToken()
	backends := map[string]gateway.Backend{}
	transports = map[string]*switchable{}
	for _, pr := range pol.Regions {
		r, err := OpenRegion(ctx, RegionConfig{Policy: pol, Name: pr.Name, Dir: filepath.Join(t.TempDir(), pr.Name), Secret: []byte("fan-out"), KDF: benchKDF})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		regions = append(regions, r)
		tr := &switchable{next: gateway.LocalTransport(r.Handler)}
		transports[pr.Name] = tr
		backends[pr.Name] = gateway.Backend{URL: &url.URL{Scheme: "http", Host: pr.Name}, Transport: tr}
	}
	admin := access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "US"}
	if err := EnsurePrincipals(ctx, regions, []Bootstrap{{Account: admin, Token: adminTok}}); err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	c, err = client.New("http://gateway", adminTok, client.WithHTTPClient(&http.Client{Transport: gateway.LocalTransport(gw)}))
	if err != nil {
		t.Fatal(err)
	}
	return regions, transports, c
}

// A principal creation through the gateway while one region is down: the
// caller learns the token and what is missing, and repeating the same
// request with that token finishes it; no region keeps a token nobody got.
func TestPrincipalFanOutConverges(t *testing.T) {
	ctx := context.Background()
	regions, transports, c := newFanOutEnv(t)
	ru := transports["ru-central"]
	req := client.PrincipalRequest{ID: "agent-7", Kind: "person", Roles: []string{"support"}, Location: "DE"}

	ru.down.Store(true)
	_, err := c.CreatePrincipal(ctx, req)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Problem.Code != "region_unavailable" || ce.Problem.Token == "" {
		t.Fatalf("create with ru-central down: %v, want region_unavailable with the token", err)
	}

	// A retry while the region is still down says the same; then it is up.
	req.Token = ce.Problem.Token
	if _, err := c.CreatePrincipal(ctx, req); !errors.As(err, &ce) || ce.Problem.Token != req.Token {
		t.Fatalf("retry while down: %v", err)
	}
	ru.down.Store(false)
	out, err := c.CreatePrincipal(ctx, req)
	if err != nil {
		t.Fatalf("retry with the token: %v", err)
	}
	if out.Token != req.Token {
		t.Errorf("token %q, want the one the first answer gave", out.Token)
	}
	// The token works in every region, and only it.
	for _, r := range regions {
		a, err := r.Directory.Authenticate(ctx, req.Token)
		if err != nil || a.ID != "agent-7" {
			t.Errorf("region %s: the token does not authenticate agent-7: %v", r.Name, err)
		}
	}
	// Another creation of the same id is still refused.
	other := req
	other.Roles, other.Token = []string{"admin"}, ""
	if _, err := c.CreatePrincipal(ctx, other); !errors.As(err, &ce) || ce.Problem.Code != "principal_exists" {
		t.Errorf("create the same id with other roles: %v, want principal_exists", err)
	}
}

// Principals live: through the gateway a principal's roles, location and
// organisation change in every region, listings filter, an administrator
// cannot demote or delete itself, and a deleted principal's token stops
// working everywhere; each change is in every region's audit log.
func TestPrincipalUpdateAndDelete(t *testing.T) {
	ctx := context.Background()
	regions, _, c := newFanOutEnv(t)
	agentTok := access.NewToken()
	if _, err := c.CreatePrincipal(ctx, client.PrincipalRequest{ID: "agent-7", Kind: "person", Roles: []string{"support"}, Location: "DE", Token: agentTok}); err != nil {
		t.Fatal(err)
	}

	loc, org := "FR", "acme-fr"
	p, err := c.UpdatePrincipal(ctx, "agent-7", client.PrincipalChange{Location: &loc, Organisation: &org})
	if err != nil || p.Location != "FR" || p.Organisation != "acme-fr" || len(p.Roles) != 1 || p.Roles[0] != "support" {
		t.Fatalf("update: %+v, %v; want location FR, organisation acme-fr, roles kept", p, err)
	}
	for _, r := range regions {
		if a, err := r.Directory.Get(ctx, "agent-7"); err != nil || a.Location != "FR" || a.Organisation != "acme-fr" {
			t.Errorf("region %s: %+v, %v; want the change", r.Name, a, err)
		}
	}
	for _, f := range []struct {
		f    client.PrincipalFilter
		want int
	}{{client.PrincipalFilter{}, 2}, {client.PrincipalFilter{Role: "support"}, 1}, {client.PrincipalFilter{Location: "fr"}, 1},
		{client.PrincipalFilter{Organisation: "acme-fr"}, 1}, {client.PrincipalFilter{State: "disabled"}, 0}} {
		l, err := c.ListPrincipals(ctx, f.f)
		if err != nil || len(l.Principals) != f.want {
			t.Errorf("list %+v: %d principals, %v; want %d", f.f, len(l.Principals), err, f.want)
		}
	}

	var ce *client.Error
	for _, bad := range []struct {
		name string
		err  error
		code string
	}{
		{"unknown role", func() error {
			_, err := c.UpdatePrincipal(ctx, "agent-7", client.PrincipalChange{Roles: []string{"overlord"}})
			return err
		}(), "invalid_principal"},
		{"nothing", func() error { _, err := c.UpdatePrincipal(ctx, "agent-7", client.PrincipalChange{}); return err }(), "invalid_request"},
		{"self demotion", func() error {
			_, err := c.UpdatePrincipal(ctx, "admin", client.PrincipalChange{Roles: []string{"support"}})
			return err
		}(), "invalid_principal"},
		{"self deletion", c.DeletePrincipal(ctx, "admin"), "invalid_principal"},
		{"unknown", c.DeletePrincipal(ctx, "nobody"), "no_such_principal"},
		{"bad state", func() error { _, err := c.ListPrincipals(ctx, client.PrincipalFilter{State: "asleep"}); return err }(), "invalid_request"},
	} {
		if !errors.As(bad.err, &ce) || ce.Problem.Code != bad.code {
			t.Errorf("%s: %v, want %s", bad.name, bad.err, bad.code)
		}
	}
	if a, _ := regions[0].Directory.Get(ctx, "agent-7"); a.Roles[0] != "support" {
		t.Errorf("a refused change changed the roles: %v", a.Roles)
	}

	if err := c.DeletePrincipal(ctx, "agent-7"); err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		if _, err := r.Directory.Authenticate(ctx, agentTok); err == nil {
			t.Errorf("region %s: a deleted principal's token still authenticates", r.Name)
		}
		if err := r.Audit.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		es, _, err := r.Audit.List(ctx, audit.Filter{Action: entry.Admin}, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, e := range es {
			rules = append(rules, e.Rule)
		}
		for _, want := range []string{"principal-update:agent-7:location,organisation", "principal-delete:agent-7"} {
			if !slices.Contains(rules, want) {
				t.Errorf("region %s: no audit entry %s among %v", r.Name, want, rules)
			}
		}
	}
}
