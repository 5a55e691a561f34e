package pebble

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/domicile/domicile/internal/store"
)

// Apply implements store.Store.
//
// Insert, Expect and Claim are atomic against every concurrent write of the
// same key: a batch holds the locks of their keys exclusively, and of its
// Put and Delete keys and its claims' pairs shared, from the check until its
// commit is
// durable and visible (see keyLocks). Batches that touch no common key do
// not wait for each other, so their syncs are shared by Pebble's group
// commit.
func (s *Store) Apply(ctx context.Context, b *store.Batch) error {
	if err := s.acquire(ctx, "apply"); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if b == nil || b.Len() == 0 {
		return nil
	}
	if err := b.Validate(); err != nil {
		return fmt.Errorf("pebble: apply: %w", err)
	}
	ops := b.Ops()
	size := 0
	for i, op := range ops {
		if op.Kind < store.OpPut || op.Kind > store.OpClaim {
			return fmt.Errorf("pebble: apply: op %d: unknown kind %d", i, op.Kind)
		}
		size += len(op.Key) + len(op.Value) + 16
		for _, kv := range op.Then {
			size += len(kv.Key) + len(kv.Value) + 16
		}
	}
	b.ResetClaims()

	var buf [8]heldKey
	held := s.locks.acquire(ops, buf[:0])
	defer s.locks.release(held)
	// Waiting for the locks may have taken a while.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: apply: %w", err)
	}
	if err := s.checkConditions(ops); err != nil {
		return err
	}

	batch := s.db.NewBatchWithSize(size)
	defer batch.Close()
	var delta [8]byte
	for i, op := range ops {
		var err error
		switch op.Kind {
		case store.OpPut, store.OpInsert:
			err = batch.Set(prefixed(prefixData, op.Key), op.Value, nil)
		case store.OpDelete:
			err = batch.Delete(prefixed(prefixData, op.Key), nil)
		case store.OpAdd:
			err = batch.Merge(prefixed(prefixCounter, op.Key), encodeCounter(delta[:0], op.Delta), nil)
		case store.OpExpect:
			// checked above; writes nothing
		case store.OpClaim:
			if !op.Claim.Won {
				break
			}
			err = batch.Set(prefixed(prefixData, op.Key), op.Value, nil)
			for _, kv := range op.Then {
				if err == nil {
					err = batch.Set(prefixed(prefixData, kv.Key), kv.Value, nil)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("pebble: apply: op %d: %w", i, err)
		}
	}
	if batch.Empty() {
		return nil // only Expects: nothing to make durable
	}
	if err := batch.Commit(pebbledb.Sync); err != nil {
		return fmt.Errorf("pebble: apply: commit: %w", err)
	}
	return nil
}

// keyState is what an earlier operation of a batch left under a key.
type keyState struct {
	exists bool
	value  []byte
}

// checkConditions fails with ErrConflict if an Insert of ops finds its key
// present or an Expect finds its key not holding the expected value, and
// decides every Claim, taking into account the earlier operations of the
// same batch. The caller holds the locks of every Insert, Expect and Claim
// key exclusively.
func (s *Store) checkConditions(ops []store.Op) (err error) {
	r := condReader{s: s}
	defer func() {
		if cerr := r.close(); err == nil && cerr != nil {
			err = fmt.Errorf("pebble: apply: %w", cerr)
		}
	}()
	stored, err := r.states(ops)
	if err != nil {
		return err
	}
	// state is what the store holds under the key of condition op i.
	state := func(i int, value bool) (keyState, error) {
		if stored != nil {
			return stored[i], nil
		}
		st, err := r.state(ops[i].Key, value)
		if err != nil {
			return keyState{}, fmt.Errorf("pebble: apply: op %d: %w", i, err)
		}
		return st, nil
	}
	// written holds, for keys an earlier op of this batch wrote, what
	// the key holds after that op: only for keys that more than one op
	// names, so most batches never make it.
	var written map[string]keyState
	rep := repeated(ops)
	record := func(i int, st keyState) {
		if rep == nil || !rep[i] {
			return
		}
		if written == nil {
			written = map[string]keyState{}
		}
		written[string(ops[i].Key)] = st
	}
	for i, op := range ops {
		switch op.Kind {
		case store.OpInsert:
			st, seen := written[string(op.Key)]
			if !seen {
				var err error
				if st, err = state(i, false); err != nil {
					return err
				}
			}
			if st.exists {
				return fmt.Errorf("pebble: apply: insert (op %d): %w", i, store.ErrConflict)
			}
			record(i, keyState{exists: true, value: op.Value})
		case store.OpExpect:
			st, seen := written[string(op.Key)]
			if !seen {
				var err error
				if st, err = state(i, true); err != nil {
					return err
				}
			}
			if st.exists != (op.Value != nil) || !bytes.Equal(st.value, op.Value) {
				return fmt.Errorf("pebble: apply: expect (op %d): %w", i, store.ErrConflict)
			}
		case store.OpClaim:
			st, seen := written[string(op.Key)]
			if !seen {
				var err error
				if st, err = state(i, true); err != nil {
					return err
				}
			}
			if st.exists {
				// A copy: the value may be the caller's or another
				// claim's of the same key.
				*op.Claim = store.Claim{Value: append([]byte{}, st.value...)}
				break
			}
			*op.Claim = store.Claim{Won: true}
			record(i, keyState{exists: true, value: op.Value})
			// The claim's pairs are no other op's keys (Validate).
		case store.OpPut:
			record(i, keyState{exists: true, value: op.Value})
		case store.OpDelete:
			record(i, keyState{})
		}
	}
	return nil
}

// repeated reports, for each op of ops, whether another op names the same
// key (counters aside, which live apart); nil when no two do.
func repeated(ops []store.Op) []bool {
	if len(ops) < 2 {
		return nil
	}
	idx := make([]int, 0, len(ops))
	for i, op := range ops {
		if op.Kind != store.OpAdd {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(ops[a].Key, ops[b].Key) })
	var rep []bool
	for n := 1; n < len(idx); n++ {
		if bytes.Equal(ops[idx[n-1]].Key, ops[idx[n]].Key) {
			if rep == nil {
				rep = make([]bool, len(ops))
			}
			rep[idx[n-1]], rep[idx[n]] = true, true
		}
	}
	return rep
}

// condReader reads the keys of a batch's conditions through one iterator,
// opened on first use: a seek costs about half of a Get, which opens an
// iterator of its own, and a batch of tokens holds one condition per new
// token. The caller holds the keys' locks, so no write to them races the
// iterator's view.
type condReader struct {
	s  *Store
	it *pebbledb.Iterator
	pk []byte
}

// state returns what data key k holds; the value (a copy) only with
// value.
func (r *condReader) state(k []byte, value bool) (keyState, error) {
	if r.it == nil {
		it, err := r.s.pointIter()
		if err != nil {
			return keyState{}, err
		}
		r.it = it
	}
	r.pk = append(append(r.pk[:0], prefixData), k...)
	v, ok, err := seek(r.it, r.pk, value)
	return keyState{exists: ok, value: v}, err
}

// states reads, in ascending key order, what the store holds under the
// key of every Insert, Expect and Claim of ops, indexed like ops; nil when
// there are fewer than two, which are read when checked. Seeking in key
// order lets the iterator stay in a table from one key to the next rather
// than open another at each seek. The caller holds the keys' locks, so
// what it reads holds until the batch commits.
func (r *condReader) states(ops []store.Op) ([]keyState, error) {
	var idx []int
	for i, op := range ops {
		if op.Kind == store.OpInsert || op.Kind == store.OpExpect || op.Kind == store.OpClaim {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return nil, nil
	}
	slices.SortStableFunc(idx, func(a, b int) int { return bytes.Compare(ops[a].Key, ops[b].Key) })
	out := make([]keyState, len(ops))
	for g := 0; g < len(idx); {
		// ops[idx[g:e]] share one key; read it once, with its value if
		// any of them compares or reports it.
		e, value := g, false
		for ; e < len(idx) && bytes.Equal(ops[idx[e]].Key, ops[idx[g]].Key); e++ {
			value = value || ops[idx[e]].Kind != store.OpInsert
		}
		st, err := r.state(ops[idx[g]].Key, value)
		if err != nil {
			return nil, fmt.Errorf("pebble: apply: op %d: %w", idx[g], err)
		}
		for _, i := range idx[g:e] {
			out[i] = st
		}
		g = e
	}
	return out, nil
}

// close closes the iterator, if one was opened.
func (r *condReader) close() error {
	if r.it == nil {
		return nil
	}
	return r.it.Close()
}
