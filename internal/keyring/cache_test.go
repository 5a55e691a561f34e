package keyring

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCacheLRU(t *testing.T) {
	c := newDEKCache(cacheShards*2, -1)                     // two per shard
	ref := func(i int) []byte { return []byte{0, byte(i)} } // all in shard 0
	for i := range 3 {
		_, e := c.get(ref(i), t0)
		c.add(&SubjectKey{ref: string(ref(i)), Version: 1}, e)
	}
	if sk, _ := c.get(ref(0), t0); sk != nil {
		t.Error("oldest entry not evicted")
	}
	if sk, _ := c.get(ref(1), t0); sk == nil {
		t.Error("entry 1 missing")
	}
	_, e := c.get(ref(3), t0)
	c.add(&SubjectKey{ref: string(ref(3))}, e)
	if sk, _ := c.get(ref(1), t0); sk == nil {
		t.Error("recently used entry evicted")
	}
	if sk, _ := c.get(ref(2), t0); sk != nil {
		t.Error("least recently used entry kept")
	}
}

// TestCacheEpoch: a fill that started before an erasure's eviction is
// dropped, so an erased key cannot be cached after the erasure.
func TestCacheEpoch(t *testing.T) {
	c := newDEKCache(16, -1)
	r := []byte("ref-of-subject")
	_, e := c.get(r, t0) // a reader misses and goes to the store
	c.evict(r)           // an erasure evicts
	c.add(&SubjectKey{ref: string(r)}, e)
	if sk, _ := c.get(r, t0); sk != nil {
		t.Fatal("stale fill was cached")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := newDEKCache(64, -1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r := fmt.Appendf(nil, "%d-%d", i%97, g%2)
				if sk, e := c.get(r, t0); sk == nil {
					c.add(&SubjectKey{ref: string(r)}, e)
				}
				if i%50 == 0 {
					c.evict(r)
				}
			}
		})
	}
	wg.Wait()
	for i := range c.shards {
		if s := &c.shards[i]; s.ll.Len() > s.max || len(s.m) != s.ll.Len() {
			t.Fatalf("shard %d: %d entries, map %d, max %d", i, s.ll.Len(), len(s.m), s.max)
		}
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestCacheTTL: an entry expires ttl after the read that filled it began,
// and a fresh fill replaces it.
func TestCacheTTL(t *testing.T) {
	c := newDEKCache(16, 30*time.Second)
	r := []byte("ref-of-subject")
	_, fill := c.get(r, t0)
	c.add(&SubjectKey{ref: string(r), Version: 1}, fill)
	if sk, _ := c.get(r, t0.Add(30*time.Second-1)); sk == nil {
		t.Fatal("entry expired before its ttl")
	}
	sk, fill := c.get(r, t0.Add(30*time.Second))
	if sk != nil {
		t.Fatal("entry served at its expiry")
	}
	c.add(&SubjectKey{ref: string(r), Version: 2}, fill)
	if sk, _ := c.get(r, t0.Add(59*time.Second)); sk == nil || sk.version != 2 {
		t.Fatalf("after a refill got %v, want version 2", sk)
	}
}
