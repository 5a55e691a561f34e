package pebble

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/domicile/domicile/internal/store"
)

// keyLocks are reader/writer locks per key, made on first use and dropped
// when their last holder lets go. A batch holds the locks of its Insert,
// Expect and Claim keys exclusively and of its Put and Delete keys (and a
// Claim's pairs) shared, from the
// check of its conditions until its commit is durable and visible.
//
// Locks are per key, not per stripe of a hash of the key: a batch of 100
// new keys (a tokenize request) would hold a tenth of 1,024 stripes, so any
// two such batches almost surely shared one and waited for each other's
// fsync, and throughput fell as clients grew. Per key, only batches that
// touch the same key wait, and the others share Pebble's group commit. A
// key is named in the table by a 64-bit hash under a seed of the table's
// own, not by a copy of its bytes: no allocation per key, nothing for the
// garbage collector to visit. Two keys share a lock only if their hashes
// collide (about 2^-64 for a pair), which costs waiting, never safety.
//
// The table's mutex is taken once to register every key of a batch and
// once to drop them, never while waiting for a key: one short critical
// section per batch contends less than one per key over sharded mutexes.
type keyLocks struct {
	seed maphash.Seed
	mu   sync.Mutex
	m    map[uint64]*keyLock
	free []*keyLock // unlocked, unreferenced, for reuse; guarded by mu
}

// keyLock is one key's lock; refs counts its holders and waiters and is
// guarded by the table's mu.
type keyLock struct {
	sync.RWMutex
	refs int
}

// heldKey is one key lock a batch holds.
type heldKey struct {
	hash      uint64 // of the key, under the table's seed
	exclusive bool
	lock      *keyLock
}

func newKeyLocks() *keyLocks {
	return &keyLocks{seed: maphash.MakeSeed(), m: map[uint64]*keyLock{}}
}

// acquire locks the data keys of ops (counters commute and need none),
// appending them to buf, and returns what release needs. Locks are taken
// in ascending order of their hashes, once each, so batches cannot
// deadlock.
func (l *keyLocks) acquire(ops []store.Op, buf []heldKey) []heldKey {
	n := 0
	for _, op := range ops {
		n += 1 + len(op.Then)
	}
	buf = slices.Grow(buf, n)
	for _, op := range ops {
		if op.Kind == store.OpAdd {
			continue
		}
		buf = append(buf, heldKey{hash: maphash.Bytes(l.seed, op.Key), exclusive: op.Kind == store.OpInsert || op.Kind == store.OpExpect || op.Kind == store.OpClaim})
		for _, kv := range op.Then {
			buf = append(buf, heldKey{hash: maphash.Bytes(l.seed, kv.Key)})
		}
	}
	if len(buf) > 1 {
		slices.SortFunc(buf, func(a, b heldKey) int { return cmp.Compare(a.hash, b.hash) })
		out := buf[:1]
		for _, h := range buf[1:] {
			last := &out[len(out)-1]
			if h.hash == last.hash {
				last.exclusive = last.exclusive || h.exclusive
				continue
			}
			out = append(out, h)
		}
		buf = out
	}
	l.mu.Lock()
	for i := range buf {
		h := &buf[i]
		kl := l.m[h.hash]
		if kl == nil {
			if n := len(l.free); n > 0 {
				kl, l.free = l.free[n-1], l.free[:n-1]
			} else {
				kl = new(keyLock)
			}
			l.m[h.hash] = kl
		}
		kl.refs++
		h.lock = kl
	}
	l.mu.Unlock()
	for _, h := range buf {
		if h.exclusive {
			h.lock.Lock()
		} else {
			h.lock.RLock()
		}
	}
	return buf
}

// maxFree bounds the unused locks kept for reuse.
const maxFree = 4096

// release unlocks what acquire locked and drops the locks nobody else holds
// or waits for.
func (l *keyLocks) release(held []heldKey) {
	for _, h := range held {
		if h.exclusive {
			h.lock.Unlock()
		} else {
			h.lock.RUnlock()
		}
	}
	l.mu.Lock()
	for _, h := range held {
		h.lock.refs--
		if h.lock.refs == 0 {
			delete(l.m, h.hash)
			if len(l.free) < maxFree {
				l.free = append(l.free, h.lock)
			}
		}
	}
	l.mu.Unlock()
}
