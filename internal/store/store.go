// Package store defines the storage interface of one region and its errors.
//
// A Store is an ordered key-value map with atomic, durable batches and
// additive counters. Backends live in sub-packages (store/pebble,
// store/postgres) and every backend passes the conformance suite in
// store/storetest. The vault writes only ciphertexts, blind indexes and
// sealed keys through it.
package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
)

// Errors callers branch on. Backends wrap them with context.
var (
	// ErrNotFound is returned by Get when the key does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned by Apply when an Insert finds its key
	// already present or an Expect finds its key not holding the expected
	// value; the whole batch is then not applied.
	ErrConflict = errors.New("store: conflict")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store: closed")
)

// Limits every backend accepts at least; larger keys or values are refused
// with an error (never truncated).
const (
	MaxKeySize   = 1 << 10
	MaxValueSize = 8 << 20
)

// KV is one key and its value.
type KV struct {
	Key, Value []byte
}

// Store is the storage of one region. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrNotFound. A cancelled ctx makes Get, Scan and Counter fail with an
	// error wrapping ctx.Err().
	Get(ctx context.Context, key []byte) ([]byte, error)
	// Scan returns up to limit pairs with start <= key < end in ascending
	// key order (limit <= 0 means no limit; a nil end means no upper
	// bound). The returned slices are the caller's. A nil or empty start
	// means from the first key; start >= end yields no pairs.
	Scan(ctx context.Context, start, end []byte, limit int) ([]KV, error)
	// Apply commits every operation of b atomically and durably: when it
	// returns nil the batch survives a crash of the process or machine;
	// when it returns an error nothing of b is visible. Concurrent Apply
	// calls may share one sync (group commit). Apply is linearizable with
	// respect to other Applies: an Insert or Expect holds from its check
	// until the batch commits, so no concurrent Apply changes the key in
	// between. Inserts and Expects see the earlier operations of their own
	// batch (after a Put of the same key an Insert conflicts, after a
	// Delete it does not; an Expect compares with the value the batch
	// left). A failed Insert or Expect makes Apply fail with an error
	// wrapping ErrConflict; a Claim never fails the batch (see
	// Batch.Claim). A cancelled ctx is checked before committing.
	Apply(ctx context.Context, b *Batch) error
	// Counter returns the sum of every delta added to key by Add (zero
	// when none). Counters live apart from keys: Get and Scan never see
	// them. Sums must stay within int64.
	Counter(ctx context.Context, key []byte) (int64, error)
	// Close releases the store after waiting for calls in flight. Calling
	// Close again returns nil; every other method then fails with
	// ErrClosed.
	Close() error
}

// Snapshotter is implemented by stores that copy themselves to files
// online: the embedded store. Callers type-assert a Store to it; a store
// without it (PostgreSQL) is backed up with its own tools.
type Snapshotter interface {
	// Checkpoint writes a consistent point-in-time copy of the whole store
	// into dir, which must not exist, while other calls go on: every batch
	// Apply acknowledged before Checkpoint was called is in the copy, and no
	// batch is in it in part. It then applies mark, if not nil, to the copy
	// only (never to the store), so that the copy can carry a marker the
	// live store does not. The copy is a store of the same backend.
	Checkpoint(ctx context.Context, dir string, mark *Batch) error
}

// OpKind is the kind of one batch operation.
type OpKind uint8

// Batch operation kinds.
const (
	OpPut    OpKind = iota + 1 // set key to value
	OpInsert                   // set key to value; the batch fails with ErrConflict if key exists
	OpDelete                   // remove key (no error if absent)
	OpAdd                      // add Delta to counter key
	OpExpect                   // write nothing; the batch fails with ErrConflict unless key holds Value (nil Value: key absent)
	OpClaim                    // if key is absent, set it to Value and put Then; else write nothing and report key's value (see Batch.Claim)
)

// Op is one operation of a Batch.
type Op struct {
	Kind OpKind
	Key  []byte
	// Value is the value of a Put or Insert, or the expected value of an
	// Expect, where nil (absent) and empty (present, empty) differ.
	Value []byte
	Delta int64
	// Then are the pairs a Claim puts when it wins, and Claim the
	// outcome that Apply reports for it.
	Then  []KV
	Claim *Claim
}

// Claim is the outcome of one Batch.Claim. Apply sets it when it returns
// nil; after an error it means nothing.
type Claim struct {
	// Won says the key was absent: the batch set it and put the claim's
	// pairs.
	Won bool
	// Value is what the key held when the claim lost (non-nil, possibly
	// empty); nil when it won.
	Value []byte
}

// Batch is an ordered list of operations applied atomically by
// Store.Apply. Operations on the same key apply in order. The zero value is
// an empty batch. A Batch is not safe for concurrent use.
type Batch struct {
	ops    []Op
	claims bool // some op is a Claim
}

// Put sets key to value.
func (b *Batch) Put(key, value []byte) {
	b.ops = append(b.ops, Op{Kind: OpPut, Key: key, Value: value})
}

// Insert sets key to value if key does not exist yet; otherwise the whole
// batch fails with ErrConflict.
func (b *Batch) Insert(key, value []byte) {
	b.ops = append(b.ops, Op{Kind: OpInsert, Key: key, Value: value})
}

// Expect makes the whole batch fail with an error wrapping ErrConflict,
// applying nothing, unless key holds exactly value at that point of the
// batch: after the batch's earlier operations on key, and with no
// concurrent Apply changing key until the batch commits. A nil value
// means key must be absent; a non-nil empty value means key must be
// present with an empty value (Get returns non-nil slices, so a value read
// with Get can be passed back as is). Expect writes nothing.
//
// Compare-and-set is a Get, then a batch of Expect(key, old) and
// Put(key, new), retried from the Get on ErrConflict.
func (b *Batch) Expect(key, value []byte) {
	b.ops = append(b.ops, Op{Kind: OpExpect, Key: key, Value: value})
}

// Claim is an Insert that does not fail the batch, for callers who want a
// key's value if it has one and to create it otherwise, with one read: if
// key is absent at that point of the batch, the batch sets it to value and
// puts then, each pair as a Put; if key is present, neither is written and
// the returned Claim holds key's value, while the rest of the batch applies
// as usual. Like an Insert's, the check holds until the batch commits (no
// concurrent Apply changes key in between), it sees the earlier operations
// of the batch, and the later ones see its outcome. The keys of then must
// not be key or be touched by any other operation of the batch (Validate
// refuses the batch). The returned Claim is set when Apply returns nil.
//
// A deterministic token is a Claim of its anchor with its entry in then: a
// new value costs one read, and a value stored before reports its anchor.
func (b *Batch) Claim(key, value []byte, then ...KV) *Claim {
	c := &Claim{}
	b.ops = append(b.ops, Op{Kind: OpClaim, Key: key, Value: value, Then: then, Claim: c})
	b.claims = true
	return c
}

// Delete removes key.
func (b *Batch) Delete(key []byte) { b.ops = append(b.ops, Op{Kind: OpDelete, Key: key}) }

// Add adds delta to the counter key.
func (b *Batch) Add(key []byte, delta int64) {
	b.ops = append(b.ops, Op{Kind: OpAdd, Key: key, Delta: delta})
}

// Len returns the number of operations.
func (b *Batch) Len() int { return len(b.ops) }

// Grow makes room for n more operations, so that a caller that knows
// about how many it adds (a batch of tokens) does not regrow the list.
func (b *Batch) Grow(n int) { b.ops = slices.Grow(b.ops, n) }

// Ops returns the operations in order; backends read them, nobody may
// modify them.
func (b *Batch) Ops() []Op { return b.ops }

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.ops, b.claims = b.ops[:0], false }

// Truncate keeps the first n operations and drops the rest (n <= Len).
func (b *Batch) Truncate(n int) { b.ops = b.ops[:n] }

// Validate checks the sizes of every operation against MaxKeySize and
// MaxValueSize, and that no key of a Claim's pairs is the key of another
// operation; backends call it before applying.
func (b *Batch) Validate() error {
	for _, op := range b.ops {
		if err := validKV(op.Key, op.Value); err != nil {
			return err
		}
		for _, kv := range op.Then {
			if err := validKV(kv.Key, kv.Value); err != nil {
				return err
			}
		}
	}
	if !b.claims {
		return nil
	}
	// Backends that order a batch's operations by key (PostgreSQL) write
	// a claim's pairs with the claim, so no other operation may touch
	// them. Sorted, a key of a pair lies beside any other op of its key.
	type named struct {
		key  []byte
		pair bool
	}
	keys := make([]named, 0, 2*len(b.ops)) // a claim has a pair or two
	for _, op := range b.ops {
		if op.Kind != OpAdd {
			keys = append(keys, named{key: op.Key})
		}
		for _, kv := range op.Then {
			keys = append(keys, named{key: kv.Key, pair: true})
		}
	}
	slices.SortFunc(keys, func(a, b named) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		switch {
		case !bytes.Equal(a.key, b.key) || !a.pair && !b.pair:
		case a.pair && b.pair:
			return errors.New("store: a key of a claim's pairs is written twice in the batch")
		default:
			return errors.New("store: a key of a claim's pairs is also the key of an operation of the batch")
		}
	}
	return nil
}

func validKV(key, value []byte) error {
	if len(key) == 0 {
		return errors.New("store: empty key")
	}
	if len(key) > MaxKeySize {
		return errors.New("store: key too large")
	}
	if len(value) > MaxValueSize {
		return errors.New("store: value too large")
	}
	return nil
}

// ResetClaims clears the outcome of every Claim of the batch; backends
// call it when an Apply starts.
func (b *Batch) ResetClaims() {
	if !b.claims {
		return
	}
	for _, op := range b.ops {
		if op.Claim != nil {
			*op.Claim = Claim{}
		}
	}
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, for use as Scan's end; nil if there is none.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
