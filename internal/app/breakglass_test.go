package app

import (
	"context"
	"crypto"
	"errors"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/suite"
)

// glassRegion opens cn-north at loc (a directory or a postgres:// URL)
// with its bootstrap administrator holding tok, and serves its API.
func glassRegion(t *testing.T, pol *policy.Policy, loc, tok string) (*Region, *client.Client) {
	t.Helper()
	rc := RegionConfig{Policy: pol, Name: "cn-north", Secret: []byte("glass"), KDF: benchKDF}
	if IsPostgresURL(loc) {
		rc.Store = loc
	} else {
		rc.Dir = loc
	}
	r, err := OpenRegion(context.Background(), rc)
	if err != nil {
		t.Fatal(err)
	}
	admin := access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}
	if err := EnsurePrincipals(context.Background(), []*Region{r}, []Bootstrap{{Account: admin, Token: tok}}); err != nil {
		r.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, tok)
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Problem.Code != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

// TestBreakGlassUnlock: the only administrator, locked by the guard,
// cannot help itself over the API (unlock itself, create a rescue admin,
// read /v1/regions), and stays locked across a restart. The offline
// break-glass refuses a running node and a wrong secret, then unlocks it
// with the unseal secret: after a restart the administrator works again,
// the region's audit log holds the break-glass entry and verifies, and the
// guard gave it a fresh budget.
func TestBreakGlassUnlock(t *testing.T) {
	ctx := context.Background()
	pol := examplePolicy(t)
	dir := filepath.Join(t.TempDir(), "cn-north")
	tok := access.NewToken()
	r, c := glassRegion(t, pol, dir, tok)
	// What the guard's Locker does when the admin reads too much.
	if _, err := r.Directory.SetState(ctx, "admin", access.Locked); err != nil {
		t.Fatal(err)
	}
	_, err := c.Regions(ctx)
	wantCode(t, "regions while locked", err, "principal_locked")
	_, err = c.SetPrincipalState(ctx, "admin", "unlock")
	wantCode(t, "self-unlock", err, "principal_locked")
	_, err = c.CreatePrincipal(ctx, client.PrincipalRequest{ID: "rescue", Kind: "person", Roles: []string{"admin"}, Location: "CN"})
	wantCode(t, "rescue admin over the API", err, "principal_locked")

	cfg := BreakGlassConfig{Policy: pol, Region: "cn-north", Location: dir, Secret: []byte("glass"), KDF: benchKDF}
	if _, err := BreakGlassUnlock(ctx, cfg, "admin"); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("break-glass with the node running: %v, want ErrNodeRunning", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart keeps the lock.
	r, c = glassRegion(t, pol, dir, tok)
	_, err = c.Regions(ctx)
	wantCode(t, "regions after a restart", err, "principal_locked")
	pub := r.Keyring.AuditPublicKey()
	sig, hash := r.Keyring.Suite().Signature(), r.Keyring.Suite().Hash()
	r.Close()

	bad := cfg
	bad.Secret = []byte("not the secret")
	if _, err := BreakGlassUnlock(ctx, bad, "admin"); !errors.Is(err, keyring.ErrWrongSecret) {
		t.Fatalf("break-glass with a wrong secret: %v", err)
	}
	if _, err := BreakGlassUnlock(ctx, cfg, "nobody"); !errors.Is(err, access.ErrNoPrincipal) && err == nil {
		t.Fatal("break-glass unlocked a principal that does not exist")
	}
	a, err := BreakGlassUnlock(ctx, cfg, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != access.Active {
		t.Fatalf("state after break-glass: %s", a.State)
	}

	// After a restart the administrator works again, and can act.
	r, c = glassRegion(t, pol, dir, tok)
	if _, err := c.Regions(ctx); err != nil {
		t.Fatalf("regions after break-glass: %v", err)
	}
	if _, err := c.CreatePrincipal(ctx, client.PrincipalRequest{ID: "second-admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}); err != nil {
		t.Fatalf("create a second admin after break-glass: %v", err)
	}
	found := false
	for q := (url.Values{}); ; {
		page, err := c.AuditEntries(ctx, "cn-north", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if e.Rule == "break-glass:unlock" && e.Principal == "admin" && e.Action == "admin" {
				found = true
			}
		}
		if page.Next == "" {
			break
		}
		q = url.Values{"cursor": {page.Next}}
	}
	if !found {
		t.Fatal("the audit log has no break-glass:unlock entry for admin")
	}
	r.Close()
	st, err := OpenRegionStore(ctx, pol, "cn-north", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := audit.Verify(ctx, audit.StoreReader(st, hash), audit.VerifyOptions{Keys: auditKeys(t, sig, hash, pub)})
	if err != nil {
		t.Fatalf("audit verify after break-glass: %v", err)
	}
	if rep.Signed != rep.Entries {
		t.Fatalf("audit: %d entries, signed through %d", rep.Entries, rep.Signed)
	}
}

// TestBreakGlassRescue: a new administrator is made offline with the
// unseal secret, recorded in the audit log; its token works at once.
func TestBreakGlassRescue(t *testing.T) {
	ctx := context.Background()
	pol := examplePolicy(t)
	dir := filepath.Join(t.TempDir(), "cn-north")
	r, _ := glassRegion(t, pol, dir, access.NewToken())
	r.Close()
	cfg := BreakGlassConfig{Policy: pol, Region: "cn-north", Location: dir, Secret: []byte("glass"), KDF: benchKDF}
	if _, _, err := BreakGlassRescue(ctx, cfg, access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}, time.Time{}); err == nil {
		t.Fatal("rescue replaced an existing principal")
	}
	if _, _, err := BreakGlassRescue(ctx, cfg, access.Account{ID: "weak", Kind: "person", Roles: []string{"support"}, Location: "CN"}, time.Time{}); err == nil {
		t.Fatal("rescue made a principal that is no administrator")
	}
	a, tok, err := BreakGlassRescue(ctx, cfg, access.Account{ID: "rescue", Kind: "person", Roles: []string{"admin"}, Location: "CN"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "rescue" || !access.WellFormed(tok) {
		t.Fatalf("rescue: %+v %q", a, tok)
	}
	r, _ = glassRegion(t, pol, dir, access.NewToken())
	defer r.Close()
	srv := httptest.NewServer(r.Handler)
	defer srv.Close()
	c, _ := client.New(srv.URL, tok)
	if _, err := c.Regions(ctx); err != nil {
		t.Fatalf("the rescue token: %v", err)
	}
	list, err := c.AuditEntries(ctx, "cn-north", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range list.Entries {
		found = found || (e.Rule == "break-glass:rescue" && e.Principal == "rescue")
	}
	if !found {
		t.Fatal("no break-glass:rescue entry")
	}
}

// auditKeys is the audit key set of pubs.
func auditKeys(t testing.TB, sig suite.Signature, h suite.Hash, pubs ...crypto.PublicKey) *checkpoint.KeySet {
	t.Helper()
	ks, err := checkpoint.NewKeySet(sig, h, pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}
