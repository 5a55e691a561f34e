package keyring

import (
	"container/list"
	"sync"
)

// dekCache is a bounded LRU of unwrapped subject keys, keyed by subject ref.
// It is split into shards by the ref's first byte (refs are MAC outputs, so
// uniform) to keep lock contention low.
//
// Each shard has an epoch, bumped by every eviction for erasure. A reader
// that missed notes the epoch before reading the store and only fills the
// cache if the epoch is unchanged, so a DEK read before an erasure committed
// can never be cached after it.
type dekCache struct {
	shards [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu    sync.Mutex
	ll    list.List // of *SubjectKey, most recent first
	m     map[string]*list.Element
	max   int
	epoch uint64
}

func newDEKCache(size int) *dekCache {
	c := &dekCache{}
	per := max(1, (size+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i].m = make(map[string]*list.Element)
		c.shards[i].max = per
	}
	return c
}

func (c *dekCache) shard(ref []byte) *cacheShard { return &c.shards[ref[0]%cacheShards] }

// get returns the cached key for ref and the shard's epoch.
func (c *dekCache) get(ref []byte) (*SubjectKey, uint64) {
	s := c.shard(ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[string(ref)]; ok {
		s.ll.MoveToFront(e)
		return e.Value.(*SubjectKey), s.epoch
	}
	return nil, s.epoch
}

// add caches sk unless ref's shard epoch moved past epoch.
func (c *dekCache) add(sk *SubjectKey, epoch uint64) {
	s := c.shard([]byte(sk.ref))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch || s.m == nil {
		return
	}
	if e, ok := s.m[sk.ref]; ok {
		// Another reader filled it first with the same key.
		s.ll.MoveToFront(e)
		return
	}
	s.m[sk.ref] = s.ll.PushFront(sk)
	for s.ll.Len() > s.max {
		old := s.ll.Back()
		s.ll.Remove(old)
		delete(s.m, old.Value.(*SubjectKey).ref)
	}
}

// evict drops ref and bumps its shard's epoch.
func (c *dekCache) evict(ref []byte) {
	s := c.shard(ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if e, ok := s.m[string(ref)]; ok {
		s.ll.Remove(e)
		delete(s.m, string(ref))
	}
}

// zero drops every entry and zeroes the DEK bytes.
func (c *dekCache) zero() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for e := s.ll.Front(); e != nil; e = e.Next() {
			clear(e.Value.(*SubjectKey).dek)
		}
		s.ll.Init()
		s.m = nil
		s.epoch++
		s.mu.Unlock()
	}
}
