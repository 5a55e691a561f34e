package app

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
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

// A principal creation through the gateway while one region is down: the
// caller learns the token and what is missing, and repeating the same
// request with that token finishes it; no region keeps a token nobody got.
func TestPrincipalFanOutConverges(t *testing.T) {
	pol := benchPolicy(t)
	ctx := context.Background()
	adminTok := access.NewToken()
	backends := map[string]gateway.Backend{}
	var ru *switchable
	var regions []*Region
	for _, pr := range pol.Regions {
		r, err := OpenRegion(ctx, RegionConfig{Policy: pol, Name: pr.Name, Dir: filepath.Join(t.TempDir(), pr.Name), Secret: []byte("fan-out"), KDF: benchKDF})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		regions = append(regions, r)
		tr := &switchable{next: gateway.LocalTransport(r.Handler)}
		if pr.Name == "ru-central" {
			ru = tr
		}
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
	c, err := client.New("http://gateway", adminTok, client.WithHTTPClient(&http.Client{Transport: gateway.LocalTransport(gw)}))
	if err != nil {
		t.Fatal(err)
	}
	req := client.PrincipalRequest{ID: "agent-7", Kind: "person", Roles: []string{"support"}, Location: "DE"}

	ru.down.Store(true)
	_, err = c.CreatePrincipal(ctx, req)
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
