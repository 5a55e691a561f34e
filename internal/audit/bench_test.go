package audit

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"strconv"
	"testing"

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

func BenchmarkCreate(b *testing.B) {
	value := make([]byte, 1024)
	for _, g := range []int{1, 8} {
		for _, s := range []suite.Suite{suite.IntlSuite(), suite.CNSuite()} {
			b.Run(fmt.Sprintf("audit=off/suite=%s/goroutines=%d", s.ID(), g), func(b *testing.B) {
				st := openPebble(b)
				storetest.RunGoroutines(b, g, func(i int) error {
					var batch store.Batch
					createBatch(&batch, i, value)
					return st.Apply(context.Background(), &batch)
				})
			})
			b.Run(fmt.Sprintf("audit=on/suite=%s/goroutines=%d", s.ID(), g), func(b *testing.B) {
				st := openPebble(b)
				l := benchLog(b, st, s)
				ctx := context.Background()
				storetest.RunGoroutines(b, g, func(i int) error {
					var batch store.Batch
					createBatch(&batch, i, value)
					e := sampleEntry(i)
					e.Action = entry.Create
					p, err := l.Append(ctx, &batch, e)
					if err != nil {
						return err
					}
					if err := st.Apply(ctx, &batch); err != nil {
						l.Abort(p)
						return err
					}
					l.Commit(p)
					return nil
				})
			})
		}
	}
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
				rep, err := Verify(ctx, StoreReader(st, s.Hash()), priv.Public(), s.Signature(), s.Hash(), nil)
				if err != nil || rep.Entries != n {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
