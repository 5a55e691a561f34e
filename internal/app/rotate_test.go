package app

import (
	"context"
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
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

// TestAuditKeyHistory checks the audit key's rotation end to end through
// the API: each new key is introduced by an entry naming its fingerprint,
// the outgoing key signs a checkpoint over that entry, the key history
// says which checkpoints each key signed, and the log exported over the
// API verifies with the whole history but not without its newest key.
func TestAuditKeyHistory(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	for want := uint32(2); want <= 3; want++ {
		out, err := s.admin.Rotate(ctx, "cn-north", "audit")
		if err != nil || out.Version != want {
			t.Fatalf("rotate audit: v%d, %v; want v%d", out.Version, err, want)
		}
	}
	if _, err := s.admin.AuditCheckpoint(ctx, "cn-north"); err != nil { // signed by v3
		t.Fatal(err)
	}
	hist, err := s.admin.AuditKeys(ctx, "cn-north")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Keys) != 3 || !hist.Keys[2].Current || hist.Keys[0].Current {
		t.Fatalf("key history %+v, want v1..v3 with v3 current", hist.Keys)
	}
	su := s.region.Keyring.Suite()
	var pubs []crypto.PublicKey
	for i, k := range hist.Keys {
		blk, _ := pem.Decode([]byte(k.PublicKey))
		if blk == nil {
			t.Fatalf("key v%d: no PEM", k.Version)
		}
		pub, err := su.Signature().ParsePublicKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, pub)
		if k.Checkpoints == 0 || k.Version != uint32(i+1) || !strings.HasPrefix(k.Fingerprint, k.KeyHash) {
			t.Errorf("key v%d: %+v; want signed checkpoints and a fingerprint starting with its key hash", k.Version, k)
		}
		if i > 0 && k.FirstSize <= hist.Keys[i-1].LastSize {
			t.Errorf("key v%d signed from size %d, before v%d's last (%d)", k.Version, k.FirstSize, i, hist.Keys[i-1].LastSize)
		}
	}
	es, _, err := s.region.Audit.List(ctx, audit.Filter{Action: entry.Key}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		k := hist.Keys[i+1]
		if want := fmt.Sprintf("rotate:audit:v%d:key:%s", k.Version, k.Fingerprint); e.Rule != want {
			t.Errorf("rotation entry %d: rule %q, want %q", e.Index, e.Rule, want)
		}
		// The outgoing key's last checkpoint covers the introduction.
		if prev := hist.Keys[i]; prev.LastSize <= e.Index {
			t.Errorf("v%d's last checkpoint (size %d) does not cover entry %d introducing v%d", prev.Version, prev.LastSize, e.Index, k.Version)
		}
	}
	verify := func(pubs ...crypto.PublicKey) (*audit.Report, error) {
		rc, err := s.admin.AuditExport(ctx, "cn-north")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		return audit.Verify(ctx, audit.NewExportReader(rc), audit.VerifyOptions{Keys: auditKeys(t, su.Signature(), su.Hash(), pubs...)})
	}
	rep, err := verify(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys[1].Introduced != int64(es[0].Index) || rep.Keys[2].Introduced != int64(es[1].Index) {
		t.Errorf("verify found introductions at %d, %d; want %d, %d", rep.Keys[1].Introduced, rep.Keys[2].Introduced, es[0].Index, es[1].Index)
	}
	var ve *audit.VerifyError
	if _, err := verify(pubs[:2]...); !errors.As(err, &ve) || ve.Checkpoint != int64(hist.Keys[2].FirstSize) {
		t.Fatalf("verify without v3: %v; want a failure at checkpoint %d", err, hist.Keys[2].FirstSize)
	}
}
