package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// Sizes of the concurrency tests: large enough to interleave, small enough
// that a backend syncing every Apply finishes in seconds.
const (
	goroutines = 16
	perWorker  = 16
)

// parallel runs fn(g) on n goroutines and waits for all of them.
func parallel(n int, fn func(g int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(g)
		}()
	}
	close(start)
	wg.Wait()
}

func testConcurrency(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("ok/insert-one-winner", func(t *testing.T) {
		s := open(t)
		const rounds = 8
		for r := range rounds {
			k := fmt.Appendf(nil, "race/%d", r)
			errs := make([]error, goroutines)
			parallel(goroutines, func(g int) {
				var b store.Batch
				b.Insert(k, fmt.Appendf(nil, "winner-%d", g))
				b.Add([]byte("wins"), 1)
				errs[g] = s.Apply(ctx, &b)
			})
			winner := -1
			for g, err := range errs {
				switch {
				case err == nil:
					if winner >= 0 {
						t.Fatalf("round %d: goroutines %d and %d both inserted the key", r, winner, g)
					}
					winner = g
				case !errors.Is(err, store.ErrConflict):
					t.Fatalf("round %d: goroutine %d: Apply error = %v, want nil or ErrConflict", r, g, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no Insert succeeded", r)
			}
			if got, want := string(mustGet(t, s, string(k))), fmt.Sprintf("winner-%d", winner); got != want {
				t.Fatalf("round %d: Get = %q, want %q (the winner's value)", r, got, want)
			}
		}
		checkState(t, s, want{counters: map[string]int64{"wins": rounds}})
	})
	t.Run("ok/insert-vs-put", func(t *testing.T) {
		// Apply is linearizable: whichever of a Put and an Insert of one
		// fresh key goes first, the Put's value is the one left.
		s := open(t)
		const rounds = 512
		parallel(8, func(g int) {
			for r := g; r < rounds; r += 8 {
				k := fmt.Appendf(nil, "pi/%03d", r)
				parallel(2, func(w int) {
					var b store.Batch
					if w == 0 {
						b.Put(k, []byte("put"))
					} else {
						b.Insert(k, []byte("insert"))
					}
					if err := s.Apply(ctx, &b); err != nil && !errors.Is(err, store.ErrConflict) {
						t.Errorf("Apply error = %v", err)
					}
				})
				if v, err := s.Get(ctx, k); err != nil || string(v) != "put" {
					t.Errorf("round %d: after a concurrent Put and Insert, Get = %q, %v; want %q", r, v, err, "put")
				}
			}
		})
	})
	t.Run("ok/multi-key-inserts", func(t *testing.T) {
		// Batches insert overlapping key sets in different orders: no
		// deadlock, and the successful batches own disjoint key sets.
		s := open(t)
		const pool = 12
		owned := make([][]int, goroutines)
		errs := make([]error, goroutines)
		parallel(goroutines, func(g int) {
			var b store.Batch
			for j := range 4 {
				i := (g*5 + j*7) % pool
				if g%2 == 1 {
					i = pool - 1 - i
				}
				b.Insert(fmt.Appendf(nil, "pool/%02d", i), fmt.Appendf(nil, "g%d", g))
				owned[g] = append(owned[g], i)
			}
			errs[g] = s.Apply(ctx, &b)
		})
		claimed := map[int]int{}
		for g, err := range errs {
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				t.Fatalf("goroutine %d: Apply error = %v", g, err)
			}
			for _, i := range owned[g] {
				if other, ok := claimed[i]; ok && other != g {
					t.Fatalf("key pool/%02d inserted by both goroutine %d and %d", i, other, g)
				}
				claimed[i] = g
			}
		}
		if len(claimed) == 0 {
			t.Fatal("no batch succeeded")
		}
		want := want{data: map[string]string{}}
		for i, g := range claimed {
			want.data[fmt.Sprintf("pool/%02d", i)] = fmt.Sprintf("g%d", g)
		}
		checkState(t, s, want)
	})
	t.Run("ok/compare-and-set-increments", func(t *testing.T) {
		// Read, then Expect the value read and Put its successor, retrying
		// on conflict: concurrent increments, some on a key that does not
		// exist yet, must all count.
		s := open(t)
		const keys = 2
		parallel(goroutines, func(g int) {
			k := fmt.Appendf(nil, "cas/%d", g%keys)
			for range perWorker {
				for attempt := 0; ; attempt++ {
					old, err := s.Get(ctx, k)
					n := 0
					switch {
					case errors.Is(err, store.ErrNotFound):
						old = nil
					case err != nil:
						t.Errorf("goroutine %d: Get error = %v", g, err)
						return
					default:
						if n, err = strconv.Atoi(string(old)); err != nil {
							t.Errorf("goroutine %d: Get = %q, not a number", g, old)
							return
						}
					}
					var b store.Batch
					b.Expect(k, old)
					b.Put(k, strconv.AppendInt(nil, int64(n+1), 10))
					b.Add([]byte("applied"), 1)
					err = s.Apply(ctx, &b)
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrConflict) {
						t.Errorf("goroutine %d: Apply error = %v", g, err)
						return
					}
				}
			}
		})
		per := strconv.Itoa(goroutines * perWorker / keys)
		checkState(t, s, want{
			data:     map[string]string{"cas/0": per, "cas/1": per},
			counters: map[string]int64{"applied": goroutines * perWorker},
		})
	})
	t.Run("ok/expect-absent-one-winner", func(t *testing.T) {
		// Expect(k, nil) then Put(k) by many goroutines at once: exactly
		// one finds the key absent, and its value is the one left.
		s := open(t)
		const rounds = 8
		for r := range rounds {
			k := fmt.Appendf(nil, "absent/%d", r)
			errs := make([]error, goroutines)
			parallel(goroutines, func(g int) {
				var b store.Batch
				b.Expect(k, nil)
				b.Put(k, fmt.Appendf(nil, "winner-%d", g))
				b.Add([]byte("wins"), 1)
				errs[g] = s.Apply(ctx, &b)
			})
			winner := -1
			for g, err := range errs {
				if err != nil && !errors.Is(err, store.ErrConflict) {
					t.Fatalf("round %d: goroutine %d: Apply error = %v, want nil or ErrConflict", r, g, err)
				}
				if err == nil {
					if winner >= 0 {
						t.Fatalf("round %d: goroutines %d and %d both found the key absent", r, winner, g)
					}
					winner = g
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no goroutine found the key absent", r)
			}
			if got, want := string(mustGet(t, s, string(k))), fmt.Sprintf("winner-%d", winner); got != want {
				t.Fatalf("round %d: Get = %q, want %q (the winner's value)", r, got, want)
			}
		}
		checkState(t, s, want{counters: map[string]int64{"wins": rounds}})
	})
	t.Run("ok/adds-sum-exactly", func(t *testing.T) {
		s := open(t)
		parallel(goroutines, func(g int) {
			for i := range perWorker {
				var b store.Batch
				b.Add([]byte("up"), int64(g+1))
				b.Add([]byte("down"), -1)
				b.Add(fmt.Appendf(nil, "own/%d", g), int64(i))
				if err := s.Apply(ctx, &b); err != nil {
					t.Errorf("goroutine %d: Apply error = %v", g, err)
					return
				}
			}
		})
		counters := map[string]int64{
			"up":   perWorker * goroutines * (goroutines + 1) / 2,
			"down": -perWorker * goroutines,
		}
		for g := range goroutines {
			counters[fmt.Sprintf("own/%d", g)] = perWorker * (perWorker - 1) / 2
		}
		checkState(t, s, want{data: map[string]string{}, counters: counters})
	})
	t.Run("ok/disjoint-applies-all-land", func(t *testing.T) {
		s := open(t)
		parallel(goroutines, func(g int) {
			for i := range perWorker {
				var b store.Batch
				b.Put(key("put", g, i), key("v", g, i))
				b.Insert(key("ins", g, i), key("v", g, i))
				if err := s.Apply(ctx, &b); err != nil {
					t.Errorf("goroutine %d: Apply error = %v", g, err)
					return
				}
			}
		})
		want := want{data: map[string]string{}}
		for g := range goroutines {
			for i := range perWorker {
				want.data[string(key("put", g, i))] = string(key("v", g, i))
				want.data[string(key("ins", g, i))] = string(key("v", g, i))
			}
		}
		checkState(t, s, want)
	})
	t.Run("ok/readers-see-whole-batches", func(t *testing.T) {
		// Each batch moves one unit between two keys; concurrent readers
		// must never see half a batch through Scan.
		s := open(t)
		mustApply(t, s, func(b *store.Batch) { b.Put([]byte("x/a"), []byte{0}); b.Put([]byte("x/b"), []byte{0}) })
		parallel(4, func(g int) {
			for i := range perWorker * 2 {
				if g == 0 {
					var b store.Batch
					b.Put([]byte("x/a"), []byte{byte(i + 1)})
					b.Put([]byte("x/b"), []byte{byte(i + 1)})
					if err := s.Apply(ctx, &b); err != nil {
						t.Errorf("Apply error = %v", err)
						return
					}
					continue
				}
				kvs, err := s.Scan(ctx, []byte("x/"), store.PrefixEnd([]byte("x/")), 0)
				if err != nil {
					t.Errorf("Scan error = %v", err)
					return
				}
				if len(kvs) != 2 || !bytes.Equal(kvs[0].Value, kvs[1].Value) {
					t.Errorf("Scan saw a partial batch: %q", kvs)
					return
				}
			}
		})
	})
	t.Run("ok/close-during-use", func(t *testing.T) {
		// Close while other goroutines use the store: every call either
		// works or fails with ErrClosed; nothing panics or hangs.
		s := open(t)
		parallel(goroutines, func(g int) {
			if g == 0 {
				if err := s.Close(); err != nil {
					t.Errorf("Close error = %v", err)
				}
				return
			}
			for i := range perWorker {
				var b store.Batch
				b.Put(key("k", g, i), []byte("v"))
				err := s.Apply(ctx, &b)
				if err == nil {
					_, err = s.Get(ctx, key("k", g, i))
				}
				if err == nil {
					_, err = s.Scan(ctx, nil, nil, 10)
				}
				if err != nil && !errors.Is(err, store.ErrClosed) {
					t.Errorf("goroutine %d: error = %v, want nil or ErrClosed", g, err)
					return
				}
			}
		})
	})
}
