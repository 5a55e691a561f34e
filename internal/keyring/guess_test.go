package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/suite"
)

func TestNewGuess(t *testing.T) {
	news := func(n int) []bool { // n subjects found new
		out := make([]bool, n)
		for i := range out {
			out[i] = true
		}
		return out
	}
	stored := func(n int) []bool { return make([]bool, n) } // n found stored
	cat := func(seqs ...[]bool) []bool {
		var out []bool
		for _, s := range seqs {
			out = append(out, s...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		seen []bool
		want bool
	}{
		{"fresh", nil, false},
		{"31-new", news(31), false},
		{"32-new", news(32), true},
		{"32-new-1-stored", cat(news(32), stored(1)), false},
		{"many-new-1-stored", cat(news(1000), stored(1)), false},
		{"stored-then-31-new", cat(news(31), stored(1), news(31)), false},
		{"stored-then-32-new", cat(news(31), stored(1), news(32)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g newGuess
			for _, isNew := range tc.seen {
				if isNew {
					g.sawNew()
				} else {
					g.sawStored()
				}
			}
			if got := g.guessing(); got != tc.want {
				t.Fatalf("guessing = %v (streak %d), want %v", got, g.streak.Load(), tc.want)
			}
		})
	}
}

// readCounter counts the reads a keyring makes of its store.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (r *readCounter) Get(ctx context.Context, key []byte) ([]byte, error) {
	r.reads.Add(1)
	return r.Store.Get(ctx, key)
}

func (r *readCounter) Scan(ctx context.Context, start, end []byte, limit int) ([]store.KV, error) {
	r.reads.Add(1)
	return r.Store.Scan(ctx, start, end, limit)
}

// TestSubjectKeyGuess checks that once subjects have been new, a new one
// costs no read, and that a wrong guess, for a subject with a key or an
// erased one, only costs a conflict: the retry after Forget reads and gets
// the stored key or the next generation, and the keyring stops guessing.
func TestSubjectKeyGuess(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, mem *memstore.Store) {
		ctx := context.Background()
		st := &readCounter{Store: mem}
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		// Stored before, under another keyring: this one's cache has
		// neither.
		other := mustOpen(t, opts(mem, s))
		kept := bytes.Clone(subjectKey(t, other, mem, "kept").dek) // Close clears the key
		subjectKey(t, other, mem, "erased")
		destroy(t, other, mem, "erased")
		other.Close()

		imported := 0
		learn := func() {
			t.Helper()
			for range guessStreak {
				imported++
				subjectKey(t, k, st, fmt.Sprintf("import-%d", imported))
			}
			if !k.guess.guessing() {
				t.Fatalf("not guessing after %d new subjects", guessStreak)
			}
		}
		learn()
		before := st.reads.Load()
		sk := subjectKey(t, k, st, "new")
		if n := st.reads.Load() - before; n != 0 || sk.Version != 1 {
			t.Fatalf("a new subject while guessing: %d reads, generation %d; want 0 and 1", n, sk.Version)
		}

		for _, tc := range []struct {
			subject string
			want    uint32 // generation
			same    []byte // the stored DEK it must get, if any
		}{
			{"kept", 1, kept},
			{"erased", 2, nil},
		} {
			learn()
			var b store.Batch
			guessed, err := k.SubjectKey(ctx, tc.subject, &b)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Apply(ctx, &b); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("%s: a guessed key's Apply: err = %v, want ErrConflict", tc.subject, err)
			}
			k.Forget(guessed)
			if k.guess.guessing() {
				t.Fatalf("%s: still guessing after a wrong guess", tc.subject)
			}
			sk := subjectKey(t, k, st, tc.subject)
			if sk.Version != tc.want || (tc.same != nil && !bytes.Equal(sk.dek, tc.same)) {
				t.Fatalf("%s: after the wrong guess got generation %d (same key %v), want %d", tc.subject, sk.Version, bytes.Equal(sk.dek, tc.same), tc.want)
			}
		}
		// Live keys: kept, the imports, new and erased's generation 2.
		if c, _ := mem.Counter(ctx, dekCounter(1)); c != int64(1+3*guessStreak+1+1) {
			t.Errorf("DEK counter = %d: a wrong guess stored a key", c)
		}
	})
}
