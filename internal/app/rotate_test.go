package app

import (
	"context"
	"testing"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
)

// TestRotateIsAudited checks that a key rotation through the API leaves,
// in the region's log, a key entry naming the new version and who asked.
// The entry commits with the new key (keyring.RotateWith), so a rotation
// is never stored without it.
func TestRotateIsAudited(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	out, err := s.admin.Rotate(ctx, "cn-north", "token")
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 2 {
		t.Fatalf("rotated to v%d, want v2", out.Version)
	}
	if err := s.region.Audit.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	es, _, err := s.region.Audit.List(ctx, audit.Filter{Action: entry.Key}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("%d key entries after one rotation, want 1: %+v", len(es), es)
	}
	e := es[0]
	if e.Rule != "rotate:token:v2" || e.Outcome != entry.OK || e.Principal != "admin-cn" || e.RequestID == "" {
		t.Fatalf("key entry = %+v; want rule rotate:token:v2, outcome ok, principal admin-cn and a request id", e)
	}
}
