// Package storetest is the conformance suite that every store.Store backend
// passes unchanged.
//
// A backend's tests call Run with a function that opens a fresh, empty
// store for each subtest, and Benchmark with the same kind of function:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openEmpty(t) })
//	}
//
// The suite closes every store it opens; Close must therefore be safe to
// call more than once.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/store"
	"github.com/google/go-cmp/cmp"
)

// Run runs the conformance suite against the backend that open creates.
// open must return a new, empty store for each call; it may register
// cleanups on t.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	newStore := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	t.Run("get", func(t *testing.T) { testGet(t, newStore) })
	t.Run("get-many", func(t *testing.T) { testGetMany(t, newStore) })
	t.Run("apply", func(t *testing.T) { testApply(t, newStore) })
	t.Run("claim", func(t *testing.T) { testClaim(t, newStore) })
	t.Run("claim-concurrency", func(t *testing.T) { testClaimConcurrency(t, newStore) })
	t.Run("scan", func(t *testing.T) { testScan(t, newStore) })
	t.Run("ownership", func(t *testing.T) { testOwnership(t, newStore) })
	t.Run("counter", func(t *testing.T) { testCounter(t, newStore) })
	t.Run("context", func(t *testing.T) { testContext(t, newStore) })
	t.Run("concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("close", func(t *testing.T) { testClose(t, newStore) })
}

type opener = func(t *testing.T) store.Store

// testGetMany checks store.GetMany, which uses the backend's own GetMany
// when it has one, against Get.
func testGetMany(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, func(b *store.Batch) {
		b.Put([]byte("a"), []byte("1"))
		b.Put([]byte("b"), nil)
		b.Put([]byte("c"), []byte("3"))
		b.Put([]byte("c\x00"), []byte("longer key"))
		b.Put([]byte("gone"), []byte("x"))
		b.Add([]byte("n"), 5)
	})
	mustApply(t, s, func(b *store.Batch) { b.Delete([]byte("gone")) })
	keys := [][]byte{[]byte("c"), []byte("missing"), []byte("a"), []byte("b"), []byte("gone"), []byte("a"), []byte("n"), []byte("c\x00"), []byte("")}
	got, err := store.GetMany(ctx, s, keys)
	if err != nil {
		t.Fatalf("GetMany error = %v", err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetMany returned %d values for %d keys", len(got), len(keys))
	}
	for i, k := range keys {
		want, err := s.Get(ctx, k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if got[i] != nil {
				t.Errorf("key %q: GetMany = %q, want nil (Get says not found)", k, got[i])
			}
		case err != nil:
			t.Fatalf("Get(%q) error = %v", k, err)
		case got[i] == nil || !bytes.Equal(got[i], want):
			t.Errorf("key %q: GetMany = %q (nil %v), want %q", k, got[i], got[i] == nil, want)
		}
	}
	// The values are the caller's, even for a key asked twice.
	if len(got[2]) > 0 {
		got[2][0] = 'X'
		if got[5][0] != '1' {
			t.Error("GetMany returned one slice for a key asked twice")
		}
	}
	if v, _ := s.Get(ctx, []byte("a")); string(v) != "1" {
		t.Errorf("writing GetMany's result changed the store: a = %q", v)
	}
	if got, err := store.GetMany(ctx, s, nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(no keys) = %q, %v; want empty, nil", got, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := store.GetMany(cancelled, s, keys); !errors.Is(err, context.Canceled) {
		t.Errorf("GetMany with a cancelled context: error = %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetMany(ctx, s, keys); !errors.Is(err, store.ErrClosed) {
		t.Errorf("GetMany after Close: error = %v, want ErrClosed", err)
	}
}

func testGet(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("fail/missing", func(t *testing.T) {
		s := open(t)
		v, err := s.Get(ctx, []byte("missing"))
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(missing) error = %v, want ErrNotFound", err)
		}
		if v != nil {
			t.Errorf("Get(missing) value = %q, want nil", v)
		}
	})
	t.Run("fail/deleted", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, func(b *store.Batch) { b.Put([]byte("k"), []byte("v")) })
		mustApply(t, s, func(b *store.Batch) { b.Delete([]byte("k")) })
		if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(deleted) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("ok/empty-value", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, func(b *store.Batch) { b.Put([]byte("k"), nil) })
		v, err := s.Get(ctx, []byte("k"))
		if err != nil {
			t.Fatalf("Get(k) error = %v, want found with empty value", err)
		}
		if len(v) != 0 {
			t.Errorf("Get(k) = %q, want empty", v)
		}
	})
}

// want describes the whole visible state of a store after a test batch.
type want struct {
	data     map[string]string // every key and value Scan must return
	counters map[string]int64  // counters to check (absent ones must be 0)
}

// batchCase applies setup batches (which must succeed), then batch, and
// checks its error and the resulting state.
type batchCase struct {
	name     string
	setup    []func(b *store.Batch)
	batch    func(b *store.Batch)
	conflict bool // Apply must fail with ErrConflict
	invalid  bool // Apply must fail with an error that is no sentinel
	want     want
}

func testApply(t *testing.T, open opener) {
	k := func(s string) []byte { return []byte(s) }
	bigKey := bytes.Repeat([]byte("k"), store.MaxKeySize)
	bigValue := bytes.Repeat([]byte("v"), store.MaxValueSize)
	base := func(b *store.Batch) { b.Put(k("a"), k("1")); b.Add(k("n"), 5) }
	cases := []batchCase{
		{name: "ok/empty-batch", batch: func(*store.Batch) {}, want: want{data: map[string]string{}}},
		{
			name:  "ok/put",
			batch: func(b *store.Batch) { b.Put(k("a"), k("1")); b.Put(k("b"), k("2")) },
			want:  want{data: map[string]string{"a": "1", "b": "2"}},
		},
		{
			name:  "ok/overwrite",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Put(k("a"), k("2")) },
			want:  want{data: map[string]string{"a": "2"}, counters: map[string]int64{"n": 5}},
		},
		{
			name:  "ok/delete-present",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Delete(k("a")) },
			want:  want{data: map[string]string{}, counters: map[string]int64{"n": 5}},
		},
		{
			name:  "ok/delete-absent",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Delete(k("zz")) },
			want:  want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/insert-fresh",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Insert(k("b"), k("2")); b.Put(k("c"), k("3")) },
			want:  want{data: map[string]string{"a": "1", "b": "2", "c": "3"}},
		},
		{
			name:  "fail/insert-existing",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) {
				b.Put(k("b"), k("2"))
				b.Insert(k("a"), k("x"))
				b.Put(k("c"), k("3"))
				b.Add(k("n"), 1)
			},
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}, counters: map[string]int64{"n": 5}},
		},
		{
			name:     "fail/insert-twice-in-batch",
			batch:    func(b *store.Batch) { b.Insert(k("a"), k("1")); b.Insert(k("a"), k("2")) },
			conflict: true,
			want:     want{data: map[string]string{}},
		},
		{
			name:     "fail/insert-after-put-in-batch",
			batch:    func(b *store.Batch) { b.Put(k("a"), k("1")); b.Insert(k("a"), k("2")) },
			conflict: true,
			want:     want{data: map[string]string{}},
		},
		{
			name:  "fail/insert-existing-last-op",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) {
				b.Delete(k("a"))
				b.Add(k("m"), 1)
				b.Insert(k("b"), k("2"))
				b.Insert(k("b"), k("3"))
			},
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}, counters: map[string]int64{"n": 5, "m": 0}},
		},
		{
			name:  "ok/insert-after-delete-in-batch",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Delete(k("a")); b.Insert(k("a"), k("2")) },
			want:  want{data: map[string]string{"a": "2"}},
		},
		{
			name:  "ok/insert-then-delete-in-batch",
			batch: func(b *store.Batch) { b.Insert(k("a"), k("1")); b.Delete(k("a")) },
			want:  want{data: map[string]string{}},
		},
		{
			name: "ok/same-key-in-order",
			batch: func(b *store.Batch) {
				b.Put(k("a"), k("1"))
				b.Put(k("a"), k("2"))
				b.Put(k("b"), k("1"))
				b.Delete(k("b"))
			},
			want: want{data: map[string]string{"a": "2"}},
		},
		{
			name:  "ok/delete-then-put-in-batch",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Delete(k("a")); b.Put(k("a"), k("3")) },
			want:  want{data: map[string]string{"a": "3"}},
		},
		{
			name:  "ok/expect-match",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Expect(k("a"), k("1")); b.Put(k("b"), k("2")) },
			want:  want{data: map[string]string{"a": "1", "b": "2"}},
		},
		{
			name:  "ok/expect-only",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Expect(k("a"), k("1")) },
			want:  want{data: map[string]string{"a": "1"}, counters: map[string]int64{"n": 5}},
		},
		{
			name:  "fail/expect-mismatch",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) {
				b.Put(k("b"), k("2"))
				b.Expect(k("a"), k("2"))
				b.Put(k("a"), k("3"))
				b.Delete(k("c"))
				b.Add(k("n"), 1)
			},
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}, counters: map[string]int64{"n": 5}},
		},
		{
			name:     "fail/expect-prefix-of-value",
			setup:    []func(*store.Batch){func(b *store.Batch) { b.Put(k("a"), k("12")) }},
			batch:    func(b *store.Batch) { b.Expect(k("a"), k("1")); b.Put(k("b"), k("2")) },
			conflict: true,
			want:     want{data: map[string]string{"a": "12"}},
		},
		{
			name:     "fail/expect-missing-key",
			setup:    []func(*store.Batch){base},
			batch:    func(b *store.Batch) { b.Put(k("b"), k("2")); b.Expect(k("zz"), k("1")) },
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/expect-absent",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Expect(k("zz"), nil); b.Put(k("b"), k("2")); b.Add(k("n"), 1) },
			want:  want{data: map[string]string{"a": "1", "b": "2"}, counters: map[string]int64{"n": 6}},
		},
		{
			name:     "fail/expect-absent-but-present",
			setup:    []func(*store.Batch){base},
			batch:    func(b *store.Batch) { b.Put(k("b"), k("2")); b.Expect(k("a"), nil); b.Add(k("n"), 1) },
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}, counters: map[string]int64{"n": 5}},
		},
		{
			name:  "ok/expect-empty-value",
			setup: []func(*store.Batch){func(b *store.Batch) { b.Put(k("e"), nil) }},
			batch: func(b *store.Batch) { b.Expect(k("e"), []byte{}); b.Put(k("b"), k("2")) },
			want:  want{data: map[string]string{"e": "", "b": "2"}},
		},
		{
			name:     "fail/expect-absent-but-empty",
			setup:    []func(*store.Batch){func(b *store.Batch) { b.Put(k("e"), nil) }},
			batch:    func(b *store.Batch) { b.Expect(k("e"), nil); b.Put(k("b"), k("2")) },
			conflict: true,
			want:     want{data: map[string]string{"e": ""}},
		},
		{
			name:     "fail/expect-empty-but-absent",
			batch:    func(b *store.Batch) { b.Expect(k("e"), []byte{}); b.Put(k("b"), k("2")) },
			conflict: true,
			want:     want{data: map[string]string{}},
		},
		{
			name:  "ok/expect-then-put",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Expect(k("a"), k("1")); b.Put(k("a"), k("2")) },
			want:  want{data: map[string]string{"a": "2"}},
		},
		{
			name:  "ok/expect-absent-then-put",
			batch: func(b *store.Batch) { b.Expect(k("a"), nil); b.Put(k("a"), k("1")) },
			want:  want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/expect-then-delete",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Expect(k("a"), k("1")); b.Delete(k("a")) },
			want:  want{data: map[string]string{}},
		},
		{
			name:  "ok/expect-sees-earlier-put",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Put(k("a"), k("2")); b.Expect(k("a"), k("2")) },
			want:  want{data: map[string]string{"a": "2"}},
		},
		{
			name:     "fail/expect-old-value-after-put",
			setup:    []func(*store.Batch){base},
			batch:    func(b *store.Batch) { b.Put(k("a"), k("2")); b.Expect(k("a"), k("1")) },
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/expect-absent-after-delete",
			setup: []func(*store.Batch){base},
			batch: func(b *store.Batch) { b.Delete(k("a")); b.Expect(k("a"), nil); b.Put(k("b"), k("2")) },
			want:  want{data: map[string]string{"b": "2"}},
		},
		{
			name:     "fail/expect-after-delete",
			setup:    []func(*store.Batch){base},
			batch:    func(b *store.Batch) { b.Delete(k("a")); b.Expect(k("a"), k("1")) },
			conflict: true,
			want:     want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/expect-sees-earlier-insert",
			batch: func(b *store.Batch) { b.Insert(k("a"), k("1")); b.Expect(k("a"), k("1")) },
			want:  want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/expect-many-keys",
			setup: []func(*store.Batch){base, func(b *store.Batch) { b.Put(k("b"), k("2")) }},
			batch: func(b *store.Batch) {
				b.Expect(k("b"), k("2"))
				b.Expect(k("a"), k("1"))
				b.Expect(k("c"), nil)
				b.Put(k("c"), k("3"))
			},
			want: want{data: map[string]string{"a": "1", "b": "2", "c": "3"}},
		},
		{
			name:    "fail/expect-key-too-large",
			setup:   []func(*store.Batch){base},
			batch:   func(b *store.Batch) { b.Put(k("b"), k("2")); b.Expect(append(bigKey, 'x'), nil) },
			invalid: true,
			want:    want{data: map[string]string{"a": "1"}},
		},
		{
			name:  "ok/max-sizes",
			batch: func(b *store.Batch) { b.Put(bigKey, k("1")); b.Put(k("big"), bigValue) },
			want:  want{data: map[string]string{string(bigKey): "1", "big": string(bigValue)}},
		},
		{
			name:    "fail/key-too-large",
			setup:   []func(*store.Batch){base},
			batch:   func(b *store.Batch) { b.Put(k("b"), k("2")); b.Put(append(bigKey, 'x'), k("1")) },
			invalid: true,
			want:    want{data: map[string]string{"a": "1"}},
		},
		{
			name:    "fail/value-too-large",
			batch:   func(b *store.Batch) { b.Put(k("b"), k("2")); b.Insert(k("c"), append(bigValue, 'x')) },
			invalid: true,
			want:    want{data: map[string]string{}},
		},
		{
			name:    "fail/empty-key",
			batch:   func(b *store.Batch) { b.Put(k("b"), k("2")); b.Put(nil, k("1")) },
			invalid: true,
			want:    want{data: map[string]string{}},
		},
		{
			name:    "fail/empty-key-delete",
			setup:   []func(*store.Batch){base},
			batch:   func(b *store.Batch) { b.Delete(k("a")); b.Delete([]byte{}) },
			invalid: true,
			want:    want{data: map[string]string{"a": "1"}},
		},
		{
			name:    "fail/counter-key-too-large",
			setup:   []func(*store.Batch){base},
			batch:   func(b *store.Batch) { b.Add(k("n"), 1); b.Add(append(bigKey, 'x'), 1) },
			invalid: true,
			want:    want{data: map[string]string{"a": "1"}, counters: map[string]int64{"n": 5}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			for _, setup := range tc.setup {
				mustApply(t, s, setup)
			}
			var b store.Batch
			tc.batch(&b)
			err := s.Apply(context.Background(), &b)
			switch {
			case tc.conflict:
				if !errors.Is(err, store.ErrConflict) {
					t.Fatalf("Apply error = %v, want ErrConflict", err)
				}
			case tc.invalid:
				if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrClosed) || errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Apply error = %v, want a validation error", err)
				}
			default:
				if err != nil {
					t.Fatalf("Apply error = %v", err)
				}
			}
			checkState(t, s, tc.want)
		})
	}
}

// checkState compares the whole visible state with w.
func checkState(t *testing.T, s store.Store, w want) {
	t.Helper()
	ctx := context.Background()
	got := map[string]string{}
	kvs, err := s.Scan(ctx, nil, nil, 0)
	if err != nil {
		t.Fatalf("Scan(all) error = %v", err)
	}
	for _, kv := range kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	if w.data != nil {
		if diff := cmp.Diff(w.data, got); diff != "" {
			t.Errorf("Scan(all) state mismatch (-want +got):\n%s", short(diff))
		}
		for key, value := range w.data {
			v, err := s.Get(ctx, []byte(key))
			if err != nil {
				t.Errorf("Get(%.20q) error = %v", key, err)
			} else if string(v) != value {
				t.Errorf("Get(%.20q) = %.20q, want %.20q", key, v, value)
			}
		}
	}
	for key, n := range w.counters {
		if _, ok := w.data[key]; w.data != nil && !ok {
			if _, err := s.Get(ctx, []byte(key)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%q) of a counter error = %v, want ErrNotFound", key, err)
			}
		}
		got, err := s.Counter(ctx, []byte(key))
		if err != nil {
			t.Errorf("Counter(%q) error = %v", key, err)
		} else if got != n {
			t.Errorf("Counter(%q) = %d, want %d", key, got, n)
		}
	}
}

// short keeps diffs of megabyte values readable.
func short(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

func testScan(t *testing.T, open opener) {
	keys := [][]byte{
		{0x00}, {0x00, 0x00}, {0x00, 0xff}, {0x01},
		[]byte("a"), []byte("a\x00"), []byte("ab"), []byte("b"),
		{0xff}, {0xff, 0x00}, {0xff, 0xff}, {0xff, 0xff, 0xff},
	}
	value := func(k []byte) []byte { return append([]byte("v:"), k...) }
	s := open(t)
	mustApply(t, s, func(b *store.Batch) {
		for i := len(keys) - 1; i >= 0; i-- { // insertion order must not matter
			b.Put(keys[i], value(keys[i]))
		}
		b.Add([]byte("a"), 1) // counters never show up in Scan
		b.Add([]byte("c"), 1)
	})
	cases := []struct {
		name       string
		start, end []byte
		limit      int
		want       [][]byte // keys[i:j] expressed as keys
	}{
		{name: "ok/all", want: keys},
		{name: "ok/empty-start", start: []byte{}, want: keys},
		{name: "ok/bounds", start: []byte("a"), end: []byte("b"), want: keys[4:7]},
		{name: "ok/start-inclusive", start: []byte("ab"), end: []byte("b\x00"), want: keys[6:8]},
		{name: "ok/end-exclusive", start: []byte{0x00}, end: []byte{0x00, 0xff}, want: keys[0:2]},
		{name: "ok/nil-end", start: []byte("b"), want: keys[7:]},
		{name: "ok/prefix", start: []byte("a"), end: store.PrefixEnd([]byte("a")), want: keys[4:7]},
		{name: "ok/prefix-0x00", start: []byte{0x00}, end: store.PrefixEnd([]byte{0x00}), want: keys[0:3]},
		{name: "ok/prefix-0xff", start: []byte{0xff}, end: store.PrefixEnd([]byte{0xff}), want: keys[8:]},
		{name: "ok/prefix-0xff-0xff", start: []byte{0xff, 0xff}, end: store.PrefixEnd([]byte{0xff, 0xff}), want: keys[10:]},
		{name: "ok/limit", limit: 3, want: keys[:3]},
		{name: "ok/limit-in-range", start: []byte{0x01}, end: []byte{0xff}, limit: 2, want: keys[3:5]},
		{name: "ok/limit-larger-than-range", start: []byte("b"), limit: 100, want: keys[7:]},
		{name: "ok/negative-limit", limit: -1, want: keys},
		{name: "ok/empty-range", start: []byte("a"), end: []byte("a"), want: nil},
		{name: "ok/inverted-range", start: []byte("b"), end: []byte("a"), want: nil},
		{name: "ok/gap", start: []byte("c"), end: []byte{0xfe}, want: nil},
		{name: "ok/past-end", start: []byte{0xff, 0xff, 0xff, 0x00}, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kvs, err := s.Scan(context.Background(), tc.start, tc.end, tc.limit)
			if err != nil {
				t.Fatalf("Scan error = %v", err)
			}
			var want, got []store.KV
			for _, k := range tc.want {
				want = append(want, store.KV{Key: k, Value: value(k)})
			}
			got = append(got, kvs...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Scan(%q, %q, %d) mismatch (-want +got):\n%s", tc.start, tc.end, tc.limit, diff)
			}
		})
	}
}

func testOwnership(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("ok/get-result", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, func(b *store.Batch) { b.Put([]byte("k"), []byte("value")) })
		v := mustGet(t, s, "k")
		clear(v)
		if got := mustGet(t, s, "k"); string(got) != "value" {
			t.Errorf("after mutating a Get result, Get(k) = %q, want %q", got, "value")
		}
	})
	t.Run("ok/scan-result", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, func(b *store.Batch) {
			b.Put([]byte("k1"), []byte("value1"))
			b.Put([]byte("k2"), []byte("value2"))
		})
		kvs, err := s.Scan(ctx, nil, nil, 0)
		if err != nil || len(kvs) != 2 {
			t.Fatalf("Scan = %d pairs, %v; want 2", len(kvs), err)
		}
		for _, kv := range kvs {
			clear(kv.Key)
			clear(kv.Value)
		}
		checkState(t, s, want{data: map[string]string{"k1": "value1", "k2": "value2"}})
	})
	t.Run("ok/batch-input", func(t *testing.T) {
		s := open(t)
		key, value := []byte("k"), []byte("value")
		var b store.Batch
		b.Put(key, value)
		if err := s.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		key[0], value[0] = 'x', 'x'
		checkState(t, s, want{data: map[string]string{"k": "value"}})
	})
	t.Run("ok/batch-reuse", func(t *testing.T) {
		s := open(t)
		var b store.Batch
		b.Put([]byte("a"), []byte("1"))
		if err := s.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		b.Put([]byte("b"), []byte("2"))
		if err := s.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		checkState(t, s, want{data: map[string]string{"a": "1", "b": "2"}})
	})
}

func testCounter(t *testing.T, open opener) {
	k := func(s string) []byte { return []byte(s) }
	cases := []batchCase{
		{name: "ok/unknown-is-zero", setup: []func(*store.Batch){func(b *store.Batch) { b.Put(k("x"), k("1")) }},
			batch: func(*store.Batch) {}, want: want{counters: map[string]int64{"x": 0, "y": 0}}},
		{name: "ok/add-positive", batch: func(b *store.Batch) { b.Add(k("n"), 7) },
			want: want{data: map[string]string{}, counters: map[string]int64{"n": 7}}},
		{name: "ok/add-negative", batch: func(b *store.Batch) { b.Add(k("n"), -7) },
			want: want{data: map[string]string{}, counters: map[string]int64{"n": -7}}},
		{name: "ok/add-zero", batch: func(b *store.Batch) { b.Add(k("n"), 0) },
			want: want{data: map[string]string{}, counters: map[string]int64{"n": 0}}},
		{name: "ok/many-adds-in-batch", batch: func(b *store.Batch) {
			b.Add(k("n"), 10)
			b.Add(k("m"), 1)
			b.Add(k("n"), -3)
			b.Add(k("n"), 100)
		}, want: want{counters: map[string]int64{"n": 107, "m": 1}}},
		{name: "ok/adds-across-batches", setup: []func(*store.Batch){
			func(b *store.Batch) { b.Add(k("n"), 1<<40) },
			func(b *store.Batch) { b.Add(k("n"), -(1 << 41)) },
		}, batch: func(b *store.Batch) { b.Add(k("n"), 5) },
			want: want{counters: map[string]int64{"n": 5 - (1 << 40)}}},
		{name: "ok/extremes", batch: func(b *store.Batch) {
			b.Add(k("max"), 1<<63-1)
			b.Add(k("min"), -1<<63)
		}, want: want{counters: map[string]int64{"max": 1<<63 - 1, "min": -1 << 63}}},
		{name: "ok/invisible-to-get-and-scan", batch: func(b *store.Batch) { b.Add(k("n"), 1); b.Add([]byte{0x00}, 1); b.Add([]byte{0xff}, 1) },
			want: want{data: map[string]string{}, counters: map[string]int64{"n": 1}}},
		{name: "ok/same-bytes-as-key", batch: func(b *store.Batch) {
			b.Put(k("x"), k("value"))
			b.Add(k("x"), 3)
			b.Add(k("y"), 4)
			b.Put(k("y"), k("other"))
		}, want: want{data: map[string]string{"x": "value", "y": "other"}, counters: map[string]int64{"x": 3, "y": 4}}},
		{name: "ok/delete-key-keeps-counter", setup: []func(*store.Batch){func(b *store.Batch) { b.Put(k("x"), k("v")); b.Add(k("x"), 2) }},
			batch: func(b *store.Batch) { b.Delete(k("x")) },
			want:  want{data: map[string]string{}, counters: map[string]int64{"x": 2}}},
		{name: "ok/put-key-keeps-counter", setup: []func(*store.Batch){func(b *store.Batch) { b.Add(k("x"), 2) }},
			batch: func(b *store.Batch) { b.Insert(k("x"), k("v")) },
			want:  want{data: map[string]string{"x": "v"}, counters: map[string]int64{"x": 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			for _, setup := range tc.setup {
				mustApply(t, s, setup)
			}
			mustApply(t, s, tc.batch)
			checkState(t, s, tc.want)
		})
	}
}

func testContext(t *testing.T, open opener) {
	s := open(t)
	mustApply(t, s, func(b *store.Batch) { b.Put([]byte("k"), []byte("v")); b.Add([]byte("n"), 1) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(t *testing.T, method string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want context.Canceled", method, err)
		}
	}
	t.Run("fail/get", func(t *testing.T) {
		_, err := s.Get(ctx, []byte("k"))
		check(t, "Get", err)
	})
	t.Run("fail/scan", func(t *testing.T) {
		_, err := s.Scan(ctx, nil, nil, 0)
		check(t, "Scan", err)
	})
	t.Run("fail/counter", func(t *testing.T) {
		_, err := s.Counter(ctx, []byte("n"))
		check(t, "Counter", err)
	})
	t.Run("fail/apply", func(t *testing.T) {
		var b store.Batch
		b.Put([]byte("k"), []byte("changed"))
		b.Insert([]byte("new"), []byte("v"))
		b.Add([]byte("n"), 1)
		check(t, "Apply", s.Apply(ctx, &b))
		checkState(t, s, want{data: map[string]string{"k": "v"}, counters: map[string]int64{"n": 1}})
	})
}

func testClose(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, func(b *store.Batch) { b.Put([]byte("k"), []byte("v")) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close error = %v", err)
	}
	var b store.Batch
	b.Put([]byte("k"), []byte("v2"))
	_, getErr := s.Get(ctx, []byte("k"))
	_, scanErr := s.Scan(ctx, nil, nil, 0)
	_, counterErr := s.Counter(ctx, []byte("n"))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"fail/get", getErr},
		{"fail/scan", scanErr},
		{"fail/counter", counterErr},
		{"fail/apply", s.Apply(ctx, &b)},
		{"fail/apply-empty", s.Apply(ctx, &store.Batch{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, store.ErrClosed) {
				t.Errorf("error after Close = %v, want ErrClosed", tc.err)
			}
		})
	}
	t.Run("ok/close-twice", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Errorf("second Close error = %v, want nil", err)
		}
	})
}

func mustApply(t testing.TB, s store.Store, fill func(b *store.Batch)) {
	t.Helper()
	var b store.Batch
	fill(&b)
	if err := s.Apply(context.Background(), &b); err != nil {
		t.Fatalf("Apply error = %v", err)
	}
}

func mustGet(t testing.TB, s store.Store, key string) []byte {
	t.Helper()
	v, err := s.Get(context.Background(), []byte(key))
	if err != nil {
		t.Fatalf("Get(%q) error = %v", key, err)
	}
	return v
}

// key returns a distinct key for goroutine g and iteration i.
func key(prefix string, g, i int) []byte {
	return fmt.Appendf(nil, "%s/%03d/%05d", prefix, g, i)
}
