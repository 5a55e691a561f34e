package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
)

// TestPrincipalsBreakGlassCLI: `principals unlock ID --region R --data
// DIR` unlocks a principal locked by the guard, offline, with the unseal
// secret; it refuses a running node (saying to stop it), a missing or a
// wrong secret, and `rescue` makes a new administrator whose token it
// prints once.
func TestPrincipalsBreakGlassCLI(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cn-north")
	kdf := keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	open := func() *app.Region {
		r, err := app.OpenRegion(ctx, app.RegionConfig{Policy: pol, Name: "cn-north", Dir: dir, Secret: []byte("cli-glass"), KDF: kdf})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open()
	admin := access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}
	if err := app.EnsurePrincipals(ctx, []*app.Region{r}, []app.Bootstrap{{Account: admin, Token: access.NewToken()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Directory.SetState(ctx, "admin", access.Locked); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DOMICILE_UNSEAL_CN_NORTH": "cli-glass"}
	args := []string{"principals", "unlock", "admin", "--region", "cn-north", "--data", dir}

	code, _, stderr := cliRun(ctx, vars, "", false, args...)
	if code != 1 || !strings.Contains(stderr, "stop the region's node") {
		t.Fatalf("with the node running: exit %d, stderr:\n%s", code, stderr)
	}
	r.Close()
	code, _, stderr = cliRun(ctx, nil, "", false, args...)
	if code != 1 || !strings.Contains(stderr, "DOMICILE_UNSEAL_CN_NORTH") {
		t.Fatalf("without a secret: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = cliRun(ctx, map[string]string{"DOMICILE_UNSEAL_CN_NORTH": "wrong"}, "", false, args...)
	if code != 1 || !strings.Contains(stderr, "hint:") {
		t.Fatalf("with a wrong secret: exit %d, stderr:\n%s", code, stderr)
	}
	code, stdout, stderr := cliRun(ctx, vars, "", false, args...)
	if code != 0 || !strings.Contains(stdout, "principal admin is active in region cn-north") {
		t.Fatalf("break-glass unlock: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = cliRun(ctx, vars, "", false, "principals", "rescue", "rescue-1", "--region", "cn-north", "--data", dir, "--location", "CN")
	if code != 0 || !access.WellFormed(strings.TrimSpace(stdout)) || !strings.Contains(stderr, "shown only this once") {
		t.Fatalf("rescue: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r = open()
	defer r.Close()
	for _, id := range []string{"admin", "rescue-1"} {
		a, err := r.Directory.Get(ctx, id)
		if err != nil || a.State != access.Active {
			t.Fatalf("%s after the break-glass: %+v %v", id, a, err)
		}
	}
	if a, err := r.Directory.Authenticate(ctx, strings.TrimSpace(stdout)); err != nil || a.ID != "rescue-1" {
		t.Fatalf("the rescue token: %v", err)
	}
}
