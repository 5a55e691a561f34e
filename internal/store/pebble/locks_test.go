package pebble

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// Batches that insert overlapping keys, listed in opposite orders, from
// many goroutines: each key is inserted exactly once, no batch deadlocks,
// and the lock table is empty afterwards (locks are dropped, not leaked).
func TestKeyLocksOverlappingBatches(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	const goroutines, keys = 16, 40
	var wg sync.WaitGroup
	won := make([]int, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < keys; k++ {
				var b store.Batch
				// Each batch inserts key k and puts its neighbours, in an
				// order that depends on the goroutine.
				ks := []int{k, (k + 1) % keys, (k + keys - 1) % keys}
				if g%2 == 1 {
					ks[0], ks[2] = ks[2], ks[0]
				}
				for _, n := range ks {
					key := []byte(fmt.Sprintf("k%03d", n))
					if n == k {
						b.Insert(key, []byte{byte(g)})
					} else {
						b.Put(append(key, '/', 'n'), []byte{byte(g)})
					}
				}
				err := s.Apply(context.Background(), &b)
				switch {
				case err == nil:
					won[g]++
				case !errors.Is(err, store.ErrConflict):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range won {
		total += n
	}
	if total != keys {
		t.Errorf("%d inserts won, want exactly %d (one per key)", total, keys)
	}
	if n := len(s.locks.m); n != 0 {
		t.Errorf("the table still holds %d key locks after every batch finished", n)
	}
}
