package app

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/vault"
)

// A drain that reads round-robin over the four regions through the gateway
// meets one budget: the example policy's bulk-read rule (300 records a
// minute, lock) stops it before 600 records in all, where each region on
// its own budget let ~1,200 through; and once one region locks the
// principal, every region refuses it.
func TestDrainAcrossRegionsIsStopped(t *testing.T) {
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := access.NewToken()
	drainer := access.Account{ID: "drainer", Kind: "service", Roles: []string{"admin"}, Location: "US"}
	backends := map[string]gateway.Backend{}
	var regions []*Region
	ids := map[string][]string{}
	g := seed.New(11)
	for _, pr := range pol.Regions {
		r, err := OpenRegion(ctx, RegionConfig{Policy: pol, Name: pr.Name, Dir: filepath.Join(t.TempDir(), pr.Name), Secret: []byte("drain"), KDF: benchKDF})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		regions = append(regions, r)
		backends[pr.Name] = gateway.Backend{URL: &url.URL{Scheme: "http", Host: pr.Name}, Transport: gateway.LocalTransport(r.Handler)}
		j := map[string]string{"cn-north": "CN", "ru-central": "RU", "eu-central": "DE", "us-east": "US"}[pr.Name]
		var batch []vault.NewRecord
		for range 250 {
			c := g.Customer(j)
			batch = append(batch, vault.NewRecord{Collection: "customers", Subject: c.SubjectID, Jurisdiction: j, Fields: c.Fields})
		}
		out, err := r.Vault.Create(ctx, batch, vault.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			ids[pr.Name] = append(ids[pr.Name], o.ID)
		}
	}
	adminTok := access.NewToken()
	admin := access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "US"}
	if err := EnsurePrincipals(ctx, regions, []Bootstrap{{Account: drainer, Token: tok}, {Account: admin, Token: adminTok}}); err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://gateway", tok, client.WithPurpose("support"),
		client.WithHTTPClient(&http.Client{Transport: gateway.LocalTransport(gw)}))
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	locked := map[string]bool{}
	for i := 0; i < 250 && len(locked) < len(regions); i++ {
		for _, r := range regions {
			_, err := c.Get(ctx, ids[r.Name][i])
			var ce *client.Error
			switch {
			case err == nil:
				if locked[r.Name] {
					t.Fatalf("region %s answered after locking the drainer", r.Name)
				}
				read++
			case errors.As(err, &ce) && ce.Problem.Code == "principal_locked":
				locked[r.Name] = true
			default:
				t.Fatal(err)
			}
		}
	}
	if len(locked) != len(regions) {
		t.Fatalf("locked in %d of %d regions after %d reads", len(locked), len(regions), read)
	}
	if read >= 600 {
		t.Errorf("the drain read %d records before every region locked it, want fewer than 600", read)
	}
	t.Logf("locked after %d records in all", read)

	// The drainer cannot clear its record by asking; an administrator's
	// unlock through the gateway clears it, and every region serves again.
	if _, err := c.SetPrincipalState(ctx, "drainer", "unlock"); err == nil {
		t.Fatal("a locked principal unlocked itself")
	}
	ac, err := client.New("http://gateway", adminTok, client.WithHTTPClient(&http.Client{Transport: gateway.LocalTransport(gw)}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.SetPrincipalState(ctx, "drainer", "unlock"); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	for _, r := range regions {
		if _, err := c.Get(ctx, ids[r.Name][249]); err != nil {
			t.Errorf("region %s after the unlock: %v", r.Name, err)
		}
	}
}
