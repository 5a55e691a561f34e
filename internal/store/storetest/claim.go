package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// claimOutcome is what a test expects of one Batch.Claim.
type claimOutcome struct {
	won   bool
	value string // when lost
}

// testClaim checks Batch.Claim: an insert that does not fail the batch, and
// reports the key's value when the key is present.
func testClaim(t *testing.T, open opener) {
	k := func(s string) []byte { return []byte(s) }
	kv := func(key, value string) store.KV { return store.KV{Key: k(key), Value: k(value)} }
	base := func(b *store.Batch) { b.Put(k("a"), k("1")); b.Put(k("e"), []byte{}) }
	cases := []struct {
		name     string
		setup    func(*store.Batch)
		batch    func(b *store.Batch) []*store.Claim
		want     []claimOutcome
		conflict bool
		invalid  bool
		data     map[string]string
	}{
		{
			name:  "ok/absent-wins-with-its-pairs",
			setup: base,
			batch: func(b *store.Batch) []*store.Claim {
				c := b.Claim(k("b"), k("2"), kv("b/1", "x"), kv("b/2", ""))
				b.Put(k("c"), k("3"))
				return []*store.Claim{c}
			},
			want: []claimOutcome{{won: true}},
			data: map[string]string{"a": "1", "e": "", "b": "2", "b/1": "x", "b/2": "", "c": "3"},
		},
		{
			name:  "ok/present-loses-and-the-rest-applies",
			setup: base,
			batch: func(b *store.Batch) []*store.Claim {
				c1 := b.Claim(k("a"), k("9"), kv("a/1", "x"))
				c2 := b.Claim(k("e"), k("9"))
				c3 := b.Claim(k("f"), k("6"), kv("f/1", "y"))
				b.Put(k("c"), k("3"))
				b.Add(k("n"), 1)
				return []*store.Claim{c1, c2, c3}
			},
			want: []claimOutcome{{value: "1"}, {value: ""}, {won: true}},
			data: map[string]string{"a": "1", "e": "", "f": "6", "f/1": "y", "c": "3"},
		},
		{
			name: "ok/sees-the-batch-before-it",
			batch: func(b *store.Batch) []*store.Claim {
				b.Put(k("a"), k("put"))
				c1 := b.Claim(k("a"), k("claimed"), kv("a/1", "x"))
				b.Put(k("d"), k("put"))
				b.Delete(k("d"))
				c2 := b.Claim(k("d"), k("claimed"))
				c3 := b.Claim(k("d"), k("again"), kv("d/1", "z"))
				return []*store.Claim{c1, c2, c3}
			},
			want: []claimOutcome{{value: "put"}, {won: true}, {value: "claimed"}},
			data: map[string]string{"a": "put", "d": "claimed"},
		},
		{
			name: "ok/later-ops-see-it",
			batch: func(b *store.Batch) []*store.Claim {
				c := b.Claim(k("a"), k("claimed"))
				b.Expect(k("a"), k("claimed"))
				b.Put(k("a"), k("after"))
				return []*store.Claim{c}
			},
			want: []claimOutcome{{won: true}},
			data: map[string]string{"a": "after"},
		},
		{
			name:  "fail/a-won-claim-then-an-insert-of-its-key",
			setup: base,
			batch: func(b *store.Batch) []*store.Claim {
				b.Claim(k("b"), k("2"), kv("b/1", "x"))
				b.Insert(k("b"), k("3"))
				return nil
			},
			conflict: true,
			data:     map[string]string{"a": "1", "e": ""},
		},
		{
			name:  "fail/another-op-conflicts",
			setup: base,
			batch: func(b *store.Batch) []*store.Claim {
				b.Claim(k("b"), k("2"), kv("b/1", "x"))
				b.Insert(k("a"), k("3"))
				return nil
			},
			conflict: true,
			data:     map[string]string{"a": "1", "e": ""},
		},
		{
			name:  "fail/pair-key-is-another-ops-key",
			setup: base,
			batch: func(b *store.Batch) []*store.Claim {
				b.Claim(k("b"), k("2"), kv("c", "x"))
				b.Put(k("c"), k("3"))
				return nil
			},
			invalid: true,
			data:    map[string]string{"a": "1", "e": ""},
		},
		{
			name:  "fail/pair-key-of-two-claims",
			setup: base,
			batch: func(b *store.Batch) []*store.Claim {
				b.Claim(k("b"), k("2"), kv("c", "x"))
				b.Claim(k("d"), k("2"), kv("c", "y"))
				return nil
			},
			invalid: true,
			data:    map[string]string{"a": "1", "e": ""},
		},
		{
			name: "ok/pair-keys-beside-counters",
			batch: func(b *store.Batch) []*store.Claim {
				b.Add(k("c"), 1) // counters live apart from keys
				return []*store.Claim{b.Claim(k("b"), k("2"), kv("c", "x"))}
			},
			want: []claimOutcome{{won: true}},
			data: map[string]string{"b": "2", "c": "x"},
		},
		{
			name: "fail/pair-key-is-the-claims-key",
			batch: func(b *store.Batch) []*store.Claim {
				b.Claim(k("b"), k("2"), kv("b", "x"))
				return nil
			},
			invalid: true,
			data:    map[string]string{},
		},
		{
			name: "fail/pair-key-empty",
			batch: func(b *store.Batch) []*store.Claim {
				b.Claim(k("b"), k("2"), kv("", "x"))
				return nil
			},
			invalid: true,
			data:    map[string]string{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if tc.setup != nil {
				mustApply(t, s, tc.setup)
			}
			var b store.Batch
			claims := tc.batch(&b)
			err := s.Apply(context.Background(), &b)
			switch {
			case tc.conflict:
				if !errors.Is(err, store.ErrConflict) {
					t.Fatalf("Apply error = %v, want ErrConflict", err)
				}
			case tc.invalid:
				if err == nil || errors.Is(err, store.ErrConflict) {
					t.Fatalf("Apply error = %v, want a validation error", err)
				}
			case err != nil:
				t.Fatalf("Apply error = %v", err)
			default:
				for i, c := range claims {
					w := tc.want[i]
					if c.Won != w.won {
						t.Errorf("claim %d: Won = %v, want %v", i, c.Won, w.won)
					}
					switch {
					case w.won && c.Value != nil:
						t.Errorf("claim %d won with Value %q, want nil", i, c.Value)
					case !w.won && (c.Value == nil || string(c.Value) != w.value):
						t.Errorf("claim %d: Value = %q (nil: %v), want %q, non-nil", i, c.Value, c.Value == nil, w.value)
					}
				}
			}
			checkState(t, s, want{data: tc.data})
		})
	}
	t.Run("ok/reported-value-is-the-callers", func(t *testing.T) {
		s := open(t)
		mustApply(t, s, func(b *store.Batch) { b.Put(k("a"), k("stored")) })
		var b store.Batch
		c := b.Claim(k("a"), k("x"))
		if err := s.Apply(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		c.Value[0] = 'X'
		if got := mustGet(t, s, "a"); string(got) != "stored" {
			t.Fatalf("after changing a claim's reported value, Get = %q", got)
		}
	})
}

// testClaimConcurrency has goroutines claim the same fresh keys at once:
// exactly one claim of each key wins, with its pairs, and every other
// reports the winner's value.
func testClaimConcurrency(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	const rounds = 8
	for r := range rounds {
		k := fmt.Appendf(nil, "claim/%d", r)
		claims := make([]*store.Claim, goroutines)
		errs := make([]error, goroutines)
		parallel(goroutines, func(g int) {
			var b store.Batch
			claims[g] = b.Claim(k, fmt.Appendf(nil, "winner-%d", g), store.KV{Key: fmt.Appendf(nil, "claim/%d/entry", r), Value: fmt.Appendf(nil, "entry-%d", g)})
			b.Put(fmt.Appendf(nil, "own/%d/%d", r, g), []byte("x"))
			errs[g] = s.Apply(ctx, &b)
		})
		winner := -1
		for g, err := range errs {
			if err != nil {
				t.Fatalf("round %d: goroutine %d: Apply error = %v", r, g, err)
			}
			if claims[g].Won {
				if winner >= 0 {
					t.Fatalf("round %d: goroutines %d and %d both won the claim", r, winner, g)
				}
				winner = g
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no claim won", r)
		}
		want := fmt.Sprintf("winner-%d", winner)
		for g, c := range claims {
			if g != winner && string(c.Value) != want {
				t.Fatalf("round %d: goroutine %d lost with Value %q, want the winner's %q", r, g, c.Value, want)
			}
			if got := mustGet(t, s, fmt.Sprintf("own/%d/%d", r, g)); string(got) != "x" {
				t.Fatalf("round %d: goroutine %d's other write is %q", r, g, got)
			}
		}
		if got := mustGet(t, s, string(k)); string(got) != want {
			t.Fatalf("round %d: Get = %q, want %q", r, got, want)
		}
		if got, want := mustGet(t, s, fmt.Sprintf("claim/%d/entry", r)), fmt.Sprintf("entry-%d", winner); string(got) != want {
			t.Fatalf("round %d: the claim's pair is %q, want the winner's %q", r, got, want)
		}
	}
}
