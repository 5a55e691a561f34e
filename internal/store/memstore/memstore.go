// Package memstore is an in-memory store.Store for tests of packages above
// the store (keyring, audit): atomic batches, counters, and hooks a real
// backend has not — a failing Apply, a raw image of every byte held, direct
// edits for tamper tests. It passes store/storetest like every backend. It
// keeps nothing durable and is not for production.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/domicile/domicile/internal/store"
)

// Store is an in-memory store. The zero value is not usable; use New.
type Store struct {
	mu        sync.Mutex
	kv        map[string][]byte
	ctr       map[string]int64
	closed    bool
	failApply func(*store.Batch) error
}

// New returns an empty store.
func New() *Store { return &Store{kv: map[string][]byte{}, ctr: map[string]int64{}} }

var _ store.Store = (*Store)(nil)

func (m *Store) open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if m.closed {
		return store.ErrClosed
	}
	return nil
}

// Get implements store.Store.
func (m *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.open(ctx); err != nil {
		return nil, err
	}
	v, ok := m.kv[string(key)]
	if !ok {
		return nil, fmt.Errorf("memstore: %w", store.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// Scan implements store.Store.
func (m *Store) Scan(ctx context.Context, start, end []byte, limit int) ([]store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.open(ctx); err != nil {
		return nil, err
	}
	var keys []string
	for k := range m.kv {
		if k >= string(start) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]store.KV, len(keys))
	for i, k := range keys {
		out[i] = store.KV{Key: []byte(k), Value: bytes.Clone(m.kv[k])}
	}
	return out, nil
}

// Apply implements store.Store: every operation is checked against the
// state the batch's earlier operations left, then all apply at once.
func (m *Store) Apply(ctx context.Context, b *store.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	fail := m.failApply
	m.mu.Unlock()
	if fail != nil {
		if err := fail(b); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.open(ctx); err != nil {
		return err
	}
	b.ResetClaims()
	type val struct {
		v   []byte
		del bool
	}
	over := map[string]val{}
	deltas := map[string]int64{}
	current := func(k string) ([]byte, bool) {
		if o, ok := over[k]; ok {
			return o.v, !o.del
		}
		v, ok := m.kv[k]
		return v, ok
	}
	for _, op := range b.Ops() {
		k := string(op.Key)
		switch op.Kind {
		case store.OpPut:
			over[k] = val{v: bytes.Clone(op.Value)}
		case store.OpInsert:
			if _, present := current(k); present {
				return fmt.Errorf("memstore: insert %q: %w", k, store.ErrConflict)
			}
			over[k] = val{v: bytes.Clone(op.Value)}
		case store.OpExpect:
			cur, present := current(k)
			if op.Value == nil && present || op.Value != nil && (!present || !bytes.Equal(cur, op.Value)) {
				return fmt.Errorf("memstore: expect %q: %w", k, store.ErrConflict)
			}
		case store.OpClaim:
			if cur, present := current(k); present {
				if cur == nil {
					cur = []byte{}
				}
				*op.Claim = store.Claim{Value: bytes.Clone(cur)}
				break
			}
			*op.Claim = store.Claim{Won: true}
			over[k] = val{v: bytes.Clone(op.Value)}
			for _, kv := range op.Then {
				over[string(kv.Key)] = val{v: bytes.Clone(kv.Value)}
			}
		case store.OpDelete:
			over[k] = val{del: true}
		case store.OpAdd:
			deltas[k] += op.Delta
		}
	}
	for k, o := range over {
		if o.del {
			delete(m.kv, k)
		} else {
			if o.v == nil {
				o.v = []byte{}
			}
			m.kv[k] = o.v
		}
	}
	for k, d := range deltas {
		m.ctr[k] += d
	}
	return nil
}

// Counter implements store.Store.
func (m *Store) Counter(ctx context.Context, key []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.open(ctx); err != nil {
		return 0, err
	}
	return m.ctr[string(key)], nil
}

// Close implements store.Store; closing twice is fine.
func (m *Store) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// SetFailApply makes every later Apply call f first (nil: none), before
// the store's lock, so f may itself use the store to stage a race; an error
// f returns fails that Apply, applying nothing.
func (m *Store) SetFailApply(f func(*store.Batch) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failApply = f
}

// Raw returns every byte the store holds — keys, values and counter keys —
// as a disk image would, for tests that scan for secrets.
func (m *Store) Raw() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b []byte
	for k, v := range m.kv {
		b = append(b, k...)
		b = append(b, v...)
	}
	for k := range m.ctr {
		b = append(b, k...)
	}
	return b
}

// Clone returns an independent copy, as a copy of a data directory would be.
func (m *Store) Clone() *Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := New()
	for k, v := range m.kv {
		c.kv[k] = bytes.Clone(v)
	}
	for k, v := range m.ctr {
		c.ctr[k] = v
	}
	return c
}

// Set overwrites a key outside any batch, for tamper tests.
func (m *Store) Set(key, v []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[string(key)] = v
}

// Delete removes a key outside any batch, for tamper tests.
func (m *Store) Delete(key []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kv, string(key))
}
