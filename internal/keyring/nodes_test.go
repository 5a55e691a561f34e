package keyring

import (
	"context"
	"errors"
	"github.com/domicile/domicile/internal/store/memstore"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Tests of several processes (nodes) of one region sharing one store: each
// node is a Keyring of its own over the same memStore, with its own cache.

// clock is a controlled clock for Options.Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// twoNodes opens two keyrings of one region over st, sharing clk.
func twoNodes(t *testing.T, s suite.Suite, st store.Store, clk *clock) (a, b *Keyring) {
	t.Helper()
	o := opts(st, s)
	o.Now = clk.now
	a = mustOpen(t, o)
	t.Cleanup(a.Close)
	b = mustOpen(t, o)
	t.Cleanup(b.Close)
	return a, b
}

func destroy(t *testing.T, k *Keyring, st store.Store, subject string) {
	t.Helper()
	ctx := context.Background()
	var b store.Batch
	done, err := k.DestroySubjectKey(ctx, subject, &b)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Apply(ctx, &b)
	done()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEraseOnOtherNodeBlocksWrites: after node A erases a subject, node B,
// which has the old key cached, cannot write under it: the batch conflicts,
// and after Forget the next SubjectKey makes a new generation.
func TestEraseOnOtherNodeBlocksWrites(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		a, b := twoNodes(t, s, st, newClock())
		old := subjectKey(t, b, st, "alice") // cached on B
		destroy(t, a, st, "alice")

		var batch store.Batch
		sk, err := b.SubjectKey(ctx, "alice", &batch)
		if err != nil {
			t.Fatal(err)
		}
		if &sk.dek[0] != &old.dek[0] { // a hit shares the cached secret; a read unwraps a new one
			t.Fatal("B did not serve the cached key; the test does not exercise the cache")
		}
		batch.Put([]byte("r/record"), sealField(t, sk, s, "new data"))
		if err := st.Apply(ctx, &batch); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Apply of a record under the erased key: error = %v, want ErrConflict", err)
		}
		if _, err := st.Get(ctx, []byte("r/record")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the record under the erased key was stored (Get error = %v)", err)
		}

		b.Forget(sk)
		fresh := subjectKey(t, b, st, "alice")
		if fresh.Version != old.Version+1 {
			t.Fatalf("after the erasure B created generation %d, want %d", fresh.Version, old.Version+1)
		}
		env := sealField(t, fresh, s, "new data")
		if got, err := openField(a, "alice", env); err != nil || got != "new data" {
			t.Fatalf("A reading B's new generation: %q, %v", got, err)
		}

		// LiveSubjectKey (for updates) never creates: on A, which erased,
		// and for a subject without a key.
		batch.Reset()
		if sk, err := a.LiveSubjectKey(ctx, "alice", &batch); err != nil || sk.Version != fresh.Version || batch.Len() != 1 {
			t.Fatalf("LiveSubjectKey(alice) = %v, %v with %d ops; want generation %d and one Expect", sk, err, batch.Len(), fresh.Version)
		}
		batch.Reset()
		if _, err := a.LiveSubjectKey(ctx, "nobody", &batch); !errors.Is(err, ErrNoSubjectKey) || batch.Len() != 0 {
			t.Fatalf("LiveSubjectKey(nobody): error = %v with %d ops, want ErrNoSubjectKey and none", err, batch.Len())
		}
	})
}

// TestEraseOnOtherNodeStopsReadsAfterTTL: node B reads a backup copy of a
// field; after node A erases the subject, B's cached key serves reads at
// most until CacheTTL has passed on B's clock.
func TestEraseOnOtherNodeStopsReadsAfterTTL(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		clk := newClock()
		a, b := twoNodes(t, s, st, clk)
		env := sealField(t, subjectKey(t, a, st, "alice"), s, "backup copy")
		if got, err := openField(b, "alice", env); err != nil || got != "backup copy" {
			t.Fatalf("B's read before the erasure: %q, %v", got, err)
		}
		destroy(t, a, st, "alice")
		if _, err := openField(a, "alice", env); !errors.Is(err, ErrNoSubjectKey) {
			t.Fatalf("A's read after its erasure: error = %v, want ErrNoSubjectKey", err)
		}
		clk.advance(defaultCacheTTL - time.Nanosecond)
		if _, err := openField(b, "alice", env); err != nil {
			// Allowed by the contract, but then the test below proves less.
			t.Fatalf("B's read within the TTL: error = %v, want the cached key", err)
		}
		clk.advance(time.Nanosecond)
		if got, err := openField(b, "alice", env); !errors.Is(err, ErrNoSubjectKey) {
			t.Fatalf("B's read after the TTL: %q, %v; want ErrNoSubjectKey", got, err)
		}
	})
}

// TestRotationOnOtherNodeReachesNewWrites: after node A rotates the data
// KEK, node B wraps new DEKs under the new version once RefreshEvery has
// passed on its clock.
func TestRotationOnOtherNodeReachesNewWrites(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		clk := newClock()
		a, b := twoNodes(t, s, st, clk)
		v, err := a.Rotate(context.Background(), Data)
		if err != nil {
			t.Fatal(err)
		}
		if got := storedKEKVersion(t, st, subjectKey(t, b, st, "before")); got != 1 {
			t.Fatalf("B's DEK before its refresh is under data KEK v%d, want v1 (B has not looked yet)", got)
		}
		clk.advance(defaultRefreshEvery)
		if got := storedKEKVersion(t, st, subjectKey(t, b, st, "after")); got != v {
			t.Fatalf("B's DEK after RefreshEvery is under data KEK v%d, want v%d", got, v)
		}
		if got := b.CurrentVersion(Data); got != v {
			t.Fatalf("B's current data version = %d, want %d", got, v)
		}
	})
}
