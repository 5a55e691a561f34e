package keyring

import (
	"fmt"
	"sync"
	"testing"
)

func TestCacheLRU(t *testing.T) {
	c := newDEKCache(cacheShards * 2)                       // two per shard
	ref := func(i int) []byte { return []byte{0, byte(i)} } // all in shard 0
	for i := range 3 {
		_, e := c.get(ref(i))
		c.add(&SubjectKey{ref: string(ref(i)), Version: 1}, e)
	}
	if sk, _ := c.get(ref(0)); sk != nil {
		t.Error("oldest entry not evicted")
	}
	if sk, _ := c.get(ref(1)); sk == nil {
		t.Error("entry 1 missing")
	}
	_, e := c.get(ref(3))
	c.add(&SubjectKey{ref: string(ref(3))}, e)
	if sk, _ := c.get(ref(1)); sk == nil {
		t.Error("recently used entry evicted")
	}
	if sk, _ := c.get(ref(2)); sk != nil {
		t.Error("least recently used entry kept")
	}
}

// TestCacheEpoch: a fill that started before an erasure's eviction is
// dropped, so an erased key cannot be cached after the erasure.
func TestCacheEpoch(t *testing.T) {
	c := newDEKCache(16)
	r := []byte("ref-of-subject")
	_, e := c.get(r) // a reader misses and goes to the store
	c.evict(r)       // an erasure evicts
	c.add(&SubjectKey{ref: string(r)}, e)
	if sk, _ := c.get(r); sk != nil {
		t.Fatal("stale fill was cached")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := newDEKCache(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r := fmt.Appendf(nil, "%d-%d", i%97, g%2)
				if sk, e := c.get(r); sk == nil {
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
