package storetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// Benchmark runs the standard benchmarks against the backend that open
// creates; open must return a new, empty store for each call. Every
// sub-benchmark reports ops/s, so durable-write throughput at 1 and 8
// goroutines shows how well a backend shares syncs between concurrent
// Applies.
func Benchmark(b *testing.B, open func(b *testing.B) store.Store) {
	newStore := func(b *testing.B) store.Store {
		b.Helper()
		s := open(b)
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	for _, g := range []int{1, 8} {
		b.Run("Apply/Put256/goroutines="+strconv.Itoa(g), func(b *testing.B) {
			s := newStore(b)
			value := make([]byte, 256)
			RunGoroutines(b, g, func(i int) error {
				var batch store.Batch
				batch.Put(BenchKey(i), value)
				return s.Apply(context.Background(), &batch)
			})
		})
	}
	const loaded = 10_000
	b.Run("Get", func(b *testing.B) {
		s := newStore(b)
		load(b, s, loaded)
		RunGoroutines(b, 1, func(i int) error {
			_, err := s.Get(context.Background(), BenchKey(i%loaded))
			return err
		})
	})
	// 100 keys, half of them present, read one Get at a time and with
	// store.GetMany (the backend's own when it has one): the lookups of
	// one tokenize batch. ops/s counts batches.
	keys := func(i int) [][]byte {
		ks := make([][]byte, 100)
		for j := range ks {
			ks[j] = BenchKey((i*100 + j*2) % (2 * loaded))
		}
		return ks
	}
	b.Run("Get100/one-by-one", func(b *testing.B) {
		s := newStore(b)
		load(b, s, loaded)
		RunGoroutines(b, 1, func(i int) error {
			for _, k := range keys(i) {
				if _, err := s.Get(context.Background(), k); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
	})
	b.Run("Get100/GetMany", func(b *testing.B) {
		s := newStore(b)
		load(b, s, loaded)
		RunGoroutines(b, 1, func(i int) error {
			_, err := store.GetMany(context.Background(), s, keys(i))
			return err
		})
	})
	b.Run("Scan100", func(b *testing.B) {
		s := newStore(b)
		load(b, s, loaded)
		RunGoroutines(b, 1, func(i int) error {
			kvs, err := s.Scan(context.Background(), BenchKey(i%(loaded-100)), nil, 100)
			if err == nil && len(kvs) != 100 {
				err = fmt.Errorf("scan returned %d pairs, want 100", len(kvs))
			}
			return err
		})
	})
}

// BenchKey returns the i-th benchmark key: 8 bytes of prefix and 8 bytes of
// big-endian i, so keys sort in order of i.
func BenchKey(i int) []byte {
	return binary.BigEndian.AppendUint64([]byte("benchkey"), uint64(i))
}

// RunGoroutines runs op(i) for i in [0, b.N) on exactly g goroutines, which
// share the iterations, and reports ops/s. Unlike b.RunParallel the number
// of goroutines does not depend on GOMAXPROCS. Backends use it for their
// own comparison benchmarks.
func RunGoroutines(b *testing.B, g int, op func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	b.ReportAllocs()
	b.ResetTimer()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N || failed.Load() != nil {
					return
				}
				if err := op(i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if errp := failed.Load(); errp != nil {
		b.Fatal(*errp)
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// load puts n benchmark keys with 256-byte values in batches of 1000.
func load(b *testing.B, s store.Store, n int) {
	b.Helper()
	value := make([]byte, 256)
	var batch store.Batch
	for i := range n {
		batch.Put(BenchKey(i), value)
		if batch.Len() == 1000 || i == n-1 {
			if err := s.Apply(context.Background(), &batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
}
