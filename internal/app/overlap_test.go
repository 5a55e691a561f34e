package app

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// overlapWindow is short, so that the test sees the old token stop.
const overlapWindow = 2 * time.Second

// checkOverlap: a rotation with an overlap leaves the old token working on
// every node (a and b share the store) until the window ends, lists both
// tokens with their expiries, and then the old one fails everywhere.
func checkOverlap(t *testing.T, a, b *Region) {
	t.Helper()
	ctx := context.Background()
	admin := access.NewToken()
	bs := []Bootstrap{{Account: access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}, Token: admin}}
	if err := EnsurePrincipals(ctx, []*Region{a}, bs); err != nil {
		t.Fatal(err)
	}
	clientOf := func(r *Region, tok string) *client.Client {
		srv := httptest.NewServer(r.Handler)
		t.Cleanup(srv.Close)
		c, err := client.New(srv.URL, tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := clientOf(a, admin)
	created, err := ca.CreatePrincipal(ctx, client.PrincipalRequest{ID: "crm-sync", Kind: "service", Roles: []string{"admin"}, Location: "CN"})
	if err != nil {
		t.Fatal(err)
	}
	old := created.Token
	if _, err := ca.RotateToken(ctx, "crm-sync", client.TokenRequest{Overlap: "721h"}); err == nil {
		t.Fatal("an overlap over 720h was accepted")
	}
	rot, err := ca.RotateToken(ctx, "crm-sync", client.TokenRequest{Overlap: overlapWindow.String()})
	if err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	for _, r := range []*Region{a, b} {
		for _, tok := range []string{old, rot.Token} {
			if _, err := clientOf(r, tok).Regions(ctx); err != nil {
				t.Fatalf("within the overlap, a token fails on a node: %v", err)
			}
		}
	}
	p, err := clientOf(b, admin).Principal(ctx, "crm-sync")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tokens) != 2 || !p.Tokens[0].Expires.IsZero() || p.Tokens[1].Expires.IsZero() {
		t.Fatalf("tokens listed after the rotation: %+v, want the new one without expiry and the old one expiring", p.Tokens)
	}
	if d := p.Tokens[1].Expires.Sub(rotated); d > overlapWindow || d < overlapWindow-time.Second {
		t.Fatalf("the old token expires %v after the rotation, want %v", d, overlapWindow)
	}
	time.Sleep(time.Until(rotated.Add(overlapWindow + 100*time.Millisecond)))
	for _, r := range []*Region{a, b} {
		_, err := clientOf(r, old).Regions(ctx)
		wantCode(t, "the old token after the overlap", err, "unauthenticated")
		if _, err := clientOf(r, rot.Token).Regions(ctx); err != nil {
			t.Fatalf("the new token after the overlap: %v", err)
		}
	}
	// Without an overlap the old token stops at once (as before).
	again, err := ca.RotateToken(ctx, "crm-sync", client.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = clientOf(a, rot.Token).Regions(ctx)
	wantCode(t, "the previous token after a plain rotation", err, "unauthenticated")
	if _, err := clientOf(a, again.Token).Regions(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRotateTokenOverlap(t *testing.T) {
	pol := examplePolicy(t)
	r, err := OpenRegion(context.Background(), RegionConfig{Policy: pol, Name: "cn-north", Dir: filepath.Join(t.TempDir(), "cn-north"),
		Secret: []byte("glass"), KDF: benchKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checkOverlap(t, r, r)
}

// TestPostgresTwoNodesOverlapAndBreakGlass: two nodes of cn-north on one
// PostgreSQL database. A token rotated with an overlap on one node works
// on the other until the window ends; the administrator locked through
// one node is refused by both, and the break-glass, run against the
// database while both nodes run, unlocks it on both, with its audit entry.
func TestPostgresTwoNodesOverlapAndBreakGlass(t *testing.T) {
	ctx := context.Background()
	pol := examplePolicy(t)
	db := pgtest.NewDatabase(t)
	open := func() *Region {
		r, err := OpenRegion(ctx, RegionConfig{Policy: pol, Name: "cn-north", Store: db, Secret: []byte("glass"), KDF: benchKDF})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	a := open()
	b := open()
	checkOverlap(t, a, b)

	tok := access.NewToken()
	bs := []Bootstrap{{Account: access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}, Token: tok}}
	if err := EnsurePrincipals(ctx, []*Region{a}, bs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler)
	defer srv.Close()
	cb, _ := client.New(srv.URL, tok)
	if _, err := a.Directory.SetState(ctx, "admin", access.Locked); err != nil {
		t.Fatal(err)
	}
	waitCode := func(what, code string) {
		t.Helper()
		deadline := time.Now().Add(3 * access.AuthCacheTTL)
		for {
			_, err := cb.Regions(ctx)
			got := ""
			if err != nil {
				got = "error"
				if ce, ok := err.(*client.Error); ok {
					got = ce.Problem.Code
				}
			}
			if got == code {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the other node answers %v, want %q", what, err, code)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitCode("locked through node a", "principal_locked")
	if _, err := BreakGlassUnlock(ctx, BreakGlassConfig{Policy: pol, Region: "cn-north", Location: db, Secret: []byte("glass"), KDF: benchKDF}, "admin"); err != nil {
		t.Fatal(err)
	}
	waitCode("after the break-glass", "")
	// The other node integrates entries another process wrote within a
	// moment.
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var cursor []string
		for {
			q, err := cb.AuditEntries(ctx, "cn-north", map[string][]string{"cursor": cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range q.Entries {
				found = found || (e.Rule == "break-glass:unlock" && e.Principal == "admin")
			}
			if q.Next == "" {
				break
			}
			cursor = []string{q.Next}
		}
	}
	if !found {
		t.Fatal("no break-glass:unlock entry in the shared audit log")
	}
}
