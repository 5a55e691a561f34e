package pebble

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/store"
)

// TestSyncInterval: the store keeps Options.SyncInterval between two syncs
// of its write-ahead log, so commits that follow one another closely wait
// for it (and, from many clients, share a sync); without one, a commit
// waits for nothing. Only a lower bound on time is checked: each commit
// still waits for its own sync, and n commits in a row take at least n-1
// intervals.
func TestSyncInterval(t *testing.T) {
	ctx := context.Background()
	const n, iv = 5, 40 * time.Millisecond
	apply := func(s *Store) time.Duration {
		start := time.Now()
		for i := range n {
			var b store.Batch
			b.Put(fmt.Appendf(nil, "k%d", i), []byte("v"))
			if err := s.Apply(ctx, &b); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	if took := apply(openTest(t, t.TempDir(), Options{SyncInterval: iv})); took < (n-1)*iv {
		t.Errorf("%d commits with a sync interval of %v took %v, want at least %v: the interval is not applied", n, iv, took, (n-1)*iv)
	}
	s := openTest(t, t.TempDir(), Options{})
	took := apply(s)
	t.Logf("%d commits without a sync interval: %v", n, took)
	if v, err := s.Get(ctx, []byte("k4")); err != nil || string(v) != "v" {
		t.Fatalf("get after the commits: %q, %v", v, err)
	}
}
