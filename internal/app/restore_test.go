package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
)

// TestRestorePendingRefused: a store with the restore-pending mark (a
// backup copied into place by hand) does not open, sealed or not, and
// says to run domicile restore; Restore refuses without a journal.
func TestRestorePendingRefused(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "eu-central")
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	b.Put(backup.PendingKey, []byte("2025-06-01T00:00:00Z"))
	if err := st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"", "a secret"} {
		r, err := OpenRegion(ctx, RegionConfig{Policy: pol, Name: "eu-central", Dir: dir, Secret: []byte(secret)})
		if !errors.Is(err, ErrRestorePending) {
			if r != nil {
				r.Close()
			}
			t.Fatalf("OpenRegion of a store pending restore (secret %q): %v, want ErrRestorePending", secret, err)
		}
	}
	_, err = Restore(ctx, RestoreConfig{Policy: pol, Region: "eu-central", From: t.TempDir(), Data: filepath.Join(t.TempDir(), "new"), Secret: []byte("s")})
	if err == nil {
		t.Fatal("a restore without a journal ran")
	}
	_, err = Restore(ctx, RestoreConfig{Policy: pol, Region: "eu-central", From: t.TempDir(), Data: filepath.Join(t.TempDir(), "new"), Secret: []byte("s"), NoErasuresSinceBackup: true})
	if !errors.Is(err, backup.ErrInvalid) {
		t.Fatalf("a restore from a directory without a backup: %v, want backup.ErrInvalid", err)
	}
}
