package pebble

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/domicile/domicile/internal/store"
)

// lockShards is the number of shards of the key lock table. A shard's
// mutex is held only to find or drop a key's lock, never while waiting.
const lockShards = 64

// keyLocks are reader/writer locks per key, made on first use and dropped
// when their last holder lets go. A batch holds the locks of its Insert and
// Expect keys exclusively and of its Put and Delete keys shared, from the
// check of its conditions until its commit is durable and visible.
//
// Locks are per key, not per stripe of a hash of the key: a batch of 100
// new keys (a tokenize request) would hold a tenth of 1,024 stripes, so any
// two such batches almost surely shared one and waited for each other's
// fsync, and throughput fell as clients grew. Per key, only batches that
// touch the same key wait, and the others share Pebble's group commit.
type keyLocks struct {
	seed   maphash.Seed
	shards [lockShards]lockShard
	free   sync.Pool // of *keyLock, unlocked and unreferenced
}

type lockShard struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

// keyLock is one key's lock; refs counts its holders and waiters and is
// guarded by its shard's mu.
type keyLock struct {
	sync.RWMutex
	refs int
}

// heldKey is one key lock a batch holds.
type heldKey struct {
	key       []byte
	exclusive bool
	lock      *keyLock
}

func newKeyLocks() *keyLocks {
	l := &keyLocks{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = map[string]*keyLock{}
	}
	l.free.New = func() any { return new(keyLock) }
	return l
}

// acquire locks the data keys of ops (counters commute and need none),
// appending them to buf, and returns what release needs. Keys are locked in
// ascending byte order, so batches cannot deadlock.
func (l *keyLocks) acquire(ops []store.Op, buf []heldKey) []heldKey {
	for _, op := range ops {
		if op.Kind == store.OpAdd {
			continue
		}
		buf = append(buf, heldKey{key: op.Key, exclusive: op.Kind == store.OpInsert || op.Kind == store.OpExpect})
	}
	if len(buf) > 1 {
		slices.SortFunc(buf, func(a, b heldKey) int { return bytes.Compare(a.key, b.key) })
		out := buf[:1]
		for _, h := range buf[1:] {
			last := &out[len(out)-1]
			if bytes.Equal(h.key, last.key) {
				last.exclusive = last.exclusive || h.exclusive
				continue
			}
			out = append(out, h)
		}
		buf = out
	}
	for i := range buf {
		h := &buf[i]
		sh := &l.shards[maphash.Bytes(l.seed, h.key)%lockShards]
		sh.mu.Lock()
		kl := sh.m[string(h.key)]
		if kl == nil {
			kl = l.free.Get().(*keyLock)
			sh.m[string(h.key)] = kl
		}
		kl.refs++
		sh.mu.Unlock()
		h.lock = kl
		if h.exclusive {
			kl.Lock()
		} else {
			kl.RLock()
		}
	}
	return buf
}

// release unlocks what acquire locked and drops the locks nobody else holds
// or waits for.
func (l *keyLocks) release(held []heldKey) {
	for _, h := range held {
		if h.exclusive {
			h.lock.Unlock()
		} else {
			h.lock.RUnlock()
		}
		sh := &l.shards[maphash.Bytes(l.seed, h.key)%lockShards]
		sh.mu.Lock()
		h.lock.refs--
		if h.lock.refs == 0 {
			delete(sh.m, string(h.key))
			l.free.Put(h.lock)
		}
		sh.mu.Unlock()
	}
}
