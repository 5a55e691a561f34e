package keyring

import "sync/atomic"

// newGuess decides whether SubjectKey, when its cache misses, creates the
// subject's first key without reading the store first: it guesses that
// the subject is new, and the batch's Insert of the key and Expect that
// its tombstone is absent make Apply fail with store.ErrConflict when the
// guess was wrong (the subject had a key, or an erased one). The caller
// then calls Forget and SubjectKey again, as after any lost race.
//
// A right guess saves the two point reads of firstEntries, about 4.5% of
// a create's server CPU on Pebble (perf, 8 clients) and a round trip on
// PostgreSQL. A wrong one costs a whole attempt in vain: the DEK and every
// field sealed, the tokens made, the conditions read, several times what
// a guess saves. So it guesses only after guessStreak subjects in a row,
// found by reads or by guesses, were new, and a subject found stored
// starts the count again: the retry after a wrong guess reads, a stream
// of imports guesses after its first guessStreak subjects, and a stream in
// which one subject in ten is stored guesses for 3% of its misses.
type newGuess struct {
	streak atomic.Int32 // new subjects in a row, up to guessStreak
}

// guessStreak is how many new subjects in a row make SubjectKey guess.
const guessStreak = 32

// guessing reports whether SubjectKey should guess that a subject its
// cache misses is new.
func (g *newGuess) guessing() bool { return g.streak.Load() >= guessStreak }

// sawNew records a subject found new: by a read, or a guess committed.
func (g *newGuess) sawNew() {
	if g.streak.Load() < guessStreak {
		g.streak.Add(1)
	}
}

// sawStored records a subject found stored, by a read, or a guess whose
// batch conflicted (perhaps for another reason: then the read of the retry
// finds the subject new).
func (g *newGuess) sawStored() { g.streak.Store(0) }
