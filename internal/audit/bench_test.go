package audit

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/store/storetest"
	"github.com/domicile/domicile/internal/suite"
)

// The benchmarks of issue 6, in one run:
//
//	go test ./internal/audit -run '^$' -bench . -benchtime 4000x
//
// Create/audit=off is a create-like batch (record Insert of 1 KiB, subject
// index and two blind-index Puts, a counter Add) applied with fsync to
// Pebble; Create/audit=on adds one audit entry with Append/Commit and the
// background integrator. Verify reads a Pebble store of 200,000 entries.

func openPebble(b *testing.B) store.Store {
	b.Helper()
	st, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func benchLog(b *testing.B, st store.Store, s suite.Suite) *Log {
	b.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	l, err := Open(context.Background(), Options{Store: st, Region: "cn-north", Origin: "domicile.example/cn-north",
		Hash: s.Hash(), Signature: s.Signature(), Signer: func() (crypto.Signer, error) { return priv, nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func createBatch(b *store.Batch, i int, value []byte) {
	id := strconv.Itoa(i)
	b.Insert([]byte("r/cn-north_"+id), value)
	b.Put([]byte("s/0123456789abcdef0123456789abcdef/"+id), nil)
	b.Put([]byte("i/customers/email/\x00\x00\x00\x01/0123456789abcdef0123456789abcdef/"+id), nil)
	b.Put([]byte("i/customers/phone/\x00\x00\x00\x01/0123456789abcdef0123456789abcdef/"+id), nil)
	b.Add([]byte("n/customers"), 1)
}

// createOps returns the two operations the create benchmarks compare: the
// create-like batch alone on stOff, and the same batch with one audit
// entry on stOn, whose log is l.
func createOps(stOff, stOn store.Store, l *Log) (off, on func(i int) error) {
	value := make([]byte, 1024)
	ctx := context.Background()
	off = func(i int) error {
		var batch store.Batch
		createBatch(&batch, i, value)
		return stOff.Apply(ctx, &batch)
	}
	on = func(i int) error {
		var batch store.Batch
		createBatch(&batch, i, value)
		e := sampleEntry(i)
		e.Action = entry.Create
		p, err := l.Append(ctx, &batch, e)
		if err != nil {
			return err
		}
		if err := stOn.Apply(ctx, &batch); err != nil {
			l.Abort(p)
			return err
		}
		l.Commit(p)
		return nil
	}
	return off, on
}

func BenchmarkCreate(b *testing.B) {
	for _, g := range []int{1, 8} {
		for _, s := range []suite.Suite{suite.IntlSuite(), suite.CNSuite()} {
			b.Run(fmt.Sprintf("audit=off/suite=%s/goroutines=%d", s.ID(), g), func(b *testing.B) {
				off, _ := createOps(openPebble(b), nil, nil)
				storetest.RunGoroutines(b, g, off)
			})
			b.Run(fmt.Sprintf("audit=on/suite=%s/goroutines=%d", s.ID(), g), func(b *testing.B) {
				st := openPebble(b)
				_, on := createOps(nil, st, benchLog(b, st, s))
				storetest.RunGoroutines(b, g, on)
			})
		}
	}
}

// BenchmarkCreateInterleaved measures the audit log's cost on creates as
// an A/B test within one benchmark: slices of interleaved operations go
// to a store without and a store with the log, in alternating order, each
// side timed on its own, so that the machine's minute-to-minute drift hits
// both alike. Every slice with the log ends with a Sync of the log, so its
// integration and tile writes are charged to it and none spill into the
// other side's time (this slightly overstates the log's cost: a pass runs
// at least once per slice rather than once per IntegrateBatch entries).
// It reports both rates and overhead-%, the extra time per create.
//
//	go test ./internal/audit -run '^$' -bench CreateInterleaved -benchtime 20000x
func BenchmarkCreateInterleaved(b *testing.B) {
	const slice = 500
	for _, s := range []suite.Suite{suite.IntlSuite(), suite.CNSuite()} {
		b.Run(fmt.Sprintf("suite=%s/goroutines=8", s.ID()), func(b *testing.B) {
			stOn := openPebble(b)
			l := benchLog(b, stOn, s)
			off, on := createOps(openPebble(b), stOn, l)
			ctx := context.Background()
			var tOff, tOn time.Duration
			b.ResetTimer()
			for k, from := 0, 0; from < b.N; k, from = k+1, from+slice {
				to := min(from+slice, b.N)
				sides := []func() error{
					func() error {
						t := time.Now()
						err := runRange(8, from, to, off)
						tOff += time.Since(t)
						return err
					},
					func() error {
						t := time.Now()
						err := runRange(8, from, to, on)
						if err == nil {
							err = l.Sync(ctx)
						}
						tOn += time.Since(t)
						return err
					},
				}
				if k%2 == 1 {
					sides[0], sides[1] = sides[1], sides[0]
				}
				for _, side := range sides {
					if err := side(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/tOff.Seconds(), "off-ops/s")
			b.ReportMetric(float64(b.N)/tOn.Seconds(), "on-ops/s")
			b.ReportMetric(100*(tOn.Seconds()/tOff.Seconds()-1), "overhead-%")
		})
	}
}

// runRange runs op(i) for i in [from, to) on g goroutines.
func runRange(g, from, to int, op func(i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for range g {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if err := op(i); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return nil
}

func BenchmarkVerify(b *testing.B) {
	const n = 200_000
	for _, s := range []suite.Suite{suite.IntlSuite(), suite.CNSuite()} {
		b.Run("suite="+string(s.ID()), func(b *testing.B) {
			st := openPebble(b)
			priv, _ := s.Signature().GenerateKey(rand.Reader)
			l, err := Open(context.Background(), Options{Store: st, Region: "cn-north", Origin: "domicile.example/cn-north",
				Hash: s.Hash(), Signature: s.Signature(), Signer: func() (crypto.Signer, error) { return priv, nil }, Manual: true,
				CheckpointEvery: 10_000, MaxBacklog: n})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := 0; i < n; i += 1000 {
				var batch store.Batch
				es := make([]entry.Entry, 1000)
				for j := range es {
					es[j] = sampleEntry(i + j)
				}
				p, err := l.Append(ctx, &batch, es...)
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Apply(ctx, &batch); err != nil {
					b.Fatal(err)
				}
				l.Commit(p)
				if err := l.Sync(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
			l.Close()
			b.ResetTimer()
			for b.Loop() {
				rep, err := Verify(ctx, StoreReader(st, s.Hash()), VerifyOptions{Keys: testKeys(b, s.Signature(), s.Hash(), priv.Public())})
				if err != nil || rep.Entries != n {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
