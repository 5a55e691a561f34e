package pebble

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/storetest"
)

func openTest(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, t.TempDir(), Options{})
	})
}

func BenchmarkConformance(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		return openTest(b, b.TempDir(), Options{})
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	b.Put([]byte("k"), []byte("v"))
	b.Insert([]byte("i"), []byte("w"))
	b.Add([]byte("n"), 41)
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir, Options{})
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
		t.Errorf("after reopen Get(k) = %q, %v; want v", v, err)
	}
	b.Reset()
	b.Insert([]byte("i"), []byte("again"))
	if err := s.Apply(ctx, &b); !errors.Is(err, store.ErrConflict) {
		t.Errorf("after reopen Insert(i) error = %v, want ErrConflict", err)
	}
	b.Reset()
	b.Add([]byte("n"), 1)
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Counter(ctx, []byte("n")); err != nil || n != 42 {
		t.Errorf("after reopen Counter(n) = %d, %v; want 42", n, err)
	}
}

func TestCountersSurviveCompaction(t *testing.T) {
	// Counters are merged by Pebble during compaction as well as on read;
	// both must agree.
	ctx := context.Background()
	s := openTest(t, t.TempDir(), Options{})
	for i := range 10 {
		var b store.Batch
		b.Add([]byte("n"), int64(i))
		b.Add([]byte("m"), -1)
		b.Put([]byte("n"), []byte("key, not counter"))
		if err := s.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]int64{"n": 45, "m": -10} {
		if got, err := s.Counter(ctx, []byte(k)); err != nil || got != want {
			t.Errorf("Counter(%s) = %d, %v; want %d", k, got, err, want)
		}
	}
}

func TestOpenInUseInProcess(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, Options{})
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open error = %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), "is in use by another domicile process") {
		t.Errorf("error %q does not say the directory is in use", err)
	}
}

func TestOpenNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(file, Options{})
	if err == nil || errors.Is(err, ErrInUse) {
		t.Fatalf("Open(regular file) error = %v, want an error other than ErrInUse", err)
	}
}

func TestLoggerRedacts(t *testing.T) {
	var lines []string
	l := logger{logf: func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }}
	secret := []byte("4111-1111-1111-1111")
	l.Infof("possible API misuse: key=%q", secret)
	l.Errorf("background error: %s", errors.New("bad block at "+string(secret)))
	func() {
		defer func() {
			r := recover()
			if r == nil {
				t.Error("Fatalf did not panic")
			}
			if strings.Contains(fmt.Sprint(r), string(secret)) {
				t.Errorf("Fatalf panic leaks the key: %v", r)
			}
		}()
		l.Fatalf("upper bound violation: %s > %s", secret, "x")
	}()
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3: %q", len(lines), lines)
	}
	for _, line := range lines {
		if strings.Contains(line, string(secret)) {
			t.Errorf("log line leaks the key: %q", line)
		}
	}
	logger{}.Infof("silent %s", "x") // nil logf: must not panic
}

func TestLoggerNeverSeesKeys(t *testing.T) {
	// Drive Pebble through flushes and compactions with a logger on.
	ctx := context.Background()
	var lines []string
	s := openTest(t, t.TempDir(), Options{Logger: func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	const marker = "SECRETKEY"
	for i := range 3 {
		var b store.Batch
		for j := range 100 {
			b.Put([]byte(marker+strconv.Itoa(i*100+j)), []byte("SECRETVALUE"))
		}
		if err := s.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		if strings.Contains(line, "SECRET") {
			t.Errorf("log line leaks data: %q", line)
		}
	}
}

// Raw Pebble against the Store, side by side on the same kind of database,
// so the wrapper's overhead shows as a ratio of the ns/op columns.
func BenchmarkOverhead(b *testing.B) {
	value := make([]byte, 256)
	for _, g := range []int{1, 8} {
		name := "goroutines=" + strconv.Itoa(g)
		b.Run("Set/raw/"+name, func(b *testing.B) {
			s := openTest(b, b.TempDir(), Options{})
			storetest.RunGoroutines(b, g, func(i int) error {
				return s.db.Set(prefixed(prefixData, storetest.BenchKey(i)), value, pebbledb.Sync)
			})
		})
		b.Run("Set/store/"+name, func(b *testing.B) {
			s := openTest(b, b.TempDir(), Options{})
			storetest.RunGoroutines(b, g, func(i int) error {
				var batch store.Batch
				batch.Put(storetest.BenchKey(i), value)
				return s.Apply(context.Background(), &batch)
			})
		})
		b.Run("Insert/store/"+name, func(b *testing.B) {
			s := openTest(b, b.TempDir(), Options{})
			storetest.RunGoroutines(b, g, func(i int) error {
				var batch store.Batch
				batch.Insert(storetest.BenchKey(i), value)
				return s.Apply(context.Background(), &batch)
			})
		})
	}
	// Batches of 100 inserts of distinct keys, as a tokenize request of new
	// values writes: a store whose conditional writes serialise on
	// unrelated keys falls behind raw Pebble as goroutines grow (issue 19,
	// the tokenize collapse between 8 and 64 clients).
	for _, g := range []int{8, 64} {
		name := "goroutines=" + strconv.Itoa(g)
		const perBatch = 100
		b.Run("InsertBatch100/raw/"+name, func(b *testing.B) {
			s := openTest(b, b.TempDir(), Options{})
			storetest.RunGoroutines(b, g, func(i int) error {
				batch := s.db.NewBatch()
				defer batch.Close()
				for j := range perBatch {
					if err := batch.Set(prefixed(prefixData, storetest.BenchKey(i*perBatch+j)), value, nil); err != nil {
						return err
					}
				}
				return batch.Commit(pebbledb.Sync)
			})
		})
		b.Run("InsertBatch100/store/"+name, func(b *testing.B) {
			s := openTest(b, b.TempDir(), Options{})
			storetest.RunGoroutines(b, g, func(i int) error {
				var batch store.Batch
				for j := range perBatch {
					batch.Insert(storetest.BenchKey(i*perBatch+j), value)
				}
				return s.Apply(context.Background(), &batch)
			})
		})
	}
	const loaded = 10_000
	load := func(b *testing.B) *Store {
		s := openTest(b, b.TempDir(), Options{})
		var batch store.Batch
		for i := range loaded {
			batch.Put(storetest.BenchKey(i), value)
		}
		if err := s.Apply(context.Background(), &batch); err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("Get/raw", func(b *testing.B) {
		s := load(b)
		storetest.RunGoroutines(b, 1, func(i int) error {
			v, closer, err := s.db.Get(prefixed(prefixData, storetest.BenchKey(i%loaded)))
			if err != nil {
				return err
			}
			_ = append([]byte(nil), v...) // the Store copies too
			return closer.Close()
		})
	})
	b.Run("Get/store", func(b *testing.B) {
		s := load(b)
		storetest.RunGoroutines(b, 1, func(i int) error {
			_, err := s.Get(context.Background(), storetest.BenchKey(i%loaded))
			return err
		})
	})
}

// BenchmarkGet reads one key of a store shaped as a region's is after a
// while (random keys, most in the last level, some in L0 tables and the
// memtable), present and absent, with Pebble's DB.Get (raw) and with the
// Store's Get, which seeks an iterator that consults every level's bloom
// filters: most Gets are of absent keys (token anchors, tombstones, the key
// of a new subject), which raw Pebble answers by reading the last level's
// blocks.
func BenchmarkGet(b *testing.B) {
	const stored = 200_000
	s := openTest(b, b.TempDir(), Options{})
	rnd := mathrand.NewChaCha8([32]byte{1})
	key := func() []byte {
		k := make([]byte, 40)
		_, _ = rnd.Read(k)
		return k
	}
	var present [][]byte
	value := make([]byte, 150)
	for n := 0; n < stored; n += 1000 {
		batch := s.db.NewBatch()
		for range 1000 {
			k := key()
			present = append(present, k)
			if err := batch.Set(prefixed(prefixData, k), value, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(pebbledb.NoSync); err != nil {
			b.Fatal(err)
		}
		if n == stored*3/4 { // the older three quarters in the last level
			if err := s.db.Compact(context.Background(), []byte{prefixData}, []byte{prefixData + 1}, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	raw := func(k []byte) error {
		v, closer, err := s.db.Get(prefixed(prefixData, k))
		if errors.Is(err, pebbledb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		_ = append([]byte(nil), v...) // the Store copies too
		return closer.Close()
	}
	viaStore := func(k []byte) error {
		_, err := s.Get(context.Background(), k)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	for _, c := range []struct {
		name string
		get  func([]byte) error
	}{{"raw", raw}, {"store", viaStore}} {
		b.Run("present/"+c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if err := c.get(present[(i*7919)%len(present)]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("absent/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.get(key()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
