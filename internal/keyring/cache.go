package keyring

import (
	"container/list"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/suite"
)

// dekCache is a bounded LRU of unwrapped subject keys, keyed by subject ref.
// It keeps each key's secret, not its cipher (see dekSecret).
// It is split into shards by the ref's first byte (refs are MAC outputs, so
// uniform) to keep lock contention low.
//
// Each shard has an epoch, bumped by every eviction for erasure. A reader
// that missed notes the epoch before reading the store and only fills the
// cache if the epoch is unchanged, so a DEK read before an erasure committed
// can never be cached after it.
//
// Entries expire ttl after the store read that filled them began (never,
// when ttl is negative): another process may have erased the subject, and
// only a fresh read of the store shows it.
type dekCache struct {
	ttl    time.Duration
	shards [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu    sync.Mutex
	ll    list.List // of *cacheEntry, most recent first
	m     map[string]*list.Element
	max   int
	epoch uint64
}

type cacheEntry struct {
	d       *dekSecret
	expires time.Time // zero: never
}

// dekSecret is what the cache keeps of a subject key: its secret and what
// names it, not its cipher. A cipher's expanded key and tables were about
// 0.8 KiB of a cached key's 1.1 KiB (most of dev's live heap after a run of
// creates), and a hit makes its own in about a microsecond (dekSecret.key).
type dekSecret struct {
	ref     string
	dek     []byte
	native  suite.Suite
	version uint32
}

// fillTicket is what a reader that missed must hand to add: the shard's
// epoch and the time before it read the store.
type fillTicket struct {
	epoch uint64
	at    time.Time
}

func newDEKCache(size int, ttl time.Duration) *dekCache {
	c := &dekCache{ttl: ttl}
	per := max(1, (size+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i].m = make(map[string]*list.Element)
		c.shards[i].max = per
	}
	return c
}

func (c *dekCache) shard(ref []byte) *cacheShard { return &c.shards[ref[0]%cacheShards] }

// get returns the cached key for ref unless it expired at now (an expired
// entry is dropped), and the ticket for filling the cache after a miss.
func (c *dekCache) get(ref []byte, now time.Time) (*dekSecret, fillTicket) {
	s := c.shard(ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[string(ref)]; ok {
		ce := e.Value.(*cacheEntry)
		if ce.expires.IsZero() || now.Before(ce.expires) {
			s.ll.MoveToFront(e)
			return ce.d, fillTicket{epoch: s.epoch, at: now}
		}
		s.ll.Remove(e)
		delete(s.m, string(ref))
	}
	return nil, fillTicket{epoch: s.epoch, at: now}
}

// add caches sk, valid until ttl after t.at, unless ref's shard epoch
// moved past t.epoch.
func (c *dekCache) add(sk *SubjectKey, t fillTicket) {
	s := c.shard([]byte(sk.ref))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != t.epoch || s.m == nil {
		return
	}
	var expires time.Time
	if c.ttl >= 0 {
		expires = t.at.Add(c.ttl)
	}
	d := &dekSecret{ref: sk.ref, dek: sk.dek, native: sk.native, version: sk.Version}
	if e, ok := s.m[sk.ref]; ok {
		// Another reader filled it first: keep the later read.
		if ce := e.Value.(*cacheEntry); !expires.Before(ce.expires) {
			ce.d, ce.expires = d, expires
		}
		s.ll.MoveToFront(e)
		return
	}
	s.m[sk.ref] = s.ll.PushFront(&cacheEntry{d: d, expires: expires})
	for s.ll.Len() > s.max {
		old := s.ll.Back()
		s.ll.Remove(old)
		delete(s.m, old.Value.(*cacheEntry).d.ref)
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
			clear(e.Value.(*cacheEntry).d.dek)
		}
		s.ll.Init()
		s.m = nil
		s.epoch++
		s.mu.Unlock()
	}
}
