package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/domicile/domicile/internal/store"
)

// memStore is an in-memory store.Store for tests. Apply is atomic and checks
// Inserts in batch order; failApply, when set, can make Apply fail.
type memStore struct {
	mu        sync.Mutex
	kv        map[string][]byte
	ctr       map[string]int64
	closed    bool
	failApply func(*store.Batch) error
}

func newMemStore() *memStore {
	return &memStore{kv: map[string][]byte{}, ctr: map[string]int64{}}
}

func (m *memStore) Get(_ context.Context, key []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, store.ErrClosed
	}
	v, ok := m.kv[string(key)]
	if !ok {
		return nil, fmt.Errorf("memstore: %w", store.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

func (m *memStore) Scan(_ context.Context, start, end []byte, limit int) ([]store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, store.ErrClosed
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

func (m *memStore) Apply(_ context.Context, b *store.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return store.ErrClosed
	}
	if m.failApply != nil {
		if err := m.failApply(b); err != nil {
			return err
		}
	}
	type val struct {
		v   []byte
		del bool
	}
	over := map[string]val{}
	deltas := map[string]int64{}
	for _, op := range b.Ops() {
		k := string(op.Key)
		switch op.Kind {
		case store.OpPut:
			over[k] = val{v: bytes.Clone(op.Value)}
		case store.OpInsert:
			o, inOver := over[k]
			_, inBase := m.kv[k]
			if (inOver && !o.del) || (!inOver && inBase) {
				return fmt.Errorf("memstore: insert %q: %w", k, store.ErrConflict)
			}
			over[k] = val{v: bytes.Clone(op.Value)}
		case store.OpExpect:
			o, inOver := over[k]
			cur, present := m.kv[k]
			if inOver {
				cur, present = o.v, !o.del
			}
			if op.Value == nil && present || op.Value != nil && (!present || !bytes.Equal(cur, op.Value)) {
				return fmt.Errorf("memstore: expect %q: %w", k, store.ErrConflict)
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
			m.kv[k] = o.v
		}
	}
	for k, d := range deltas {
		m.ctr[k] += d
	}
	return nil
}

func (m *memStore) Counter(_ context.Context, key []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, store.ErrClosed
	}
	return m.ctr[string(key)], nil
}

func (m *memStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// raw returns every byte the store holds, as a disk image would.
func (m *memStore) raw() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b []byte
	for k, v := range m.kv {
		b = append(b, k...)
		b = append(b, v...)
	}
	return b
}

// clone returns an independent copy (a copy of the data directory).
func (m *memStore) clone() *memStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemStore()
	for k, v := range m.kv {
		c.kv[k] = bytes.Clone(v)
	}
	return c
}

func (m *memStore) set(key []byte, v []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[string(key)] = v
}

func (m *memStore) del(key []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.kv, string(key))
}

func (m *memStore) get(key []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kv[string(key)]
}

func (m *memStore) setFail(f func(*store.Batch) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failApply = f
}

var _ store.Store = (*memStore)(nil)
