package tokens

import (
	"fmt"
	"testing"
)

// addAll remembers every key it is given, a shard at a time, and a shard
// stays within its bound.
func TestSeenSetAddAll(t *testing.T) {
	var keys [][]byte
	for i := range 3 * seenShards {
		keys = append(keys, []byte(fmt.Sprintf("x/d/key-%d", i)))
	}
	// Room for every key: each added key is seen.
	s := newSeenSet(seenShards * len(keys))
	s.addAll(keys)
	for _, k := range keys {
		if !s.has(k) {
			t.Fatalf("%s added but not seen", k)
		}
	}
	// Room for two keys a shard: a shard is emptied when full, never more.
	small := newSeenSet(seenShards * 2)
	small.addAll(keys)
	for i := range small.shards {
		if n := len(small.shards[i].m); n > small.max {
			t.Errorf("shard %d holds %d keys, bound %d", i, n, small.max)
		}
	}
	var nilSet *seenSet
	nilSet.addAll(keys) // a disabled cache takes nothing and does not panic
}

// BenchmarkSeenSet: a batch's work on the set, for 100 new keys of the
// shape of deterministic entries' keys (look up, then add them all), with
// the set full.
func BenchmarkSeenSet(b *testing.B) {
	s := newSeenSet(1 << 16)
	keys := make([][]byte, 1<<17)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "x/d/\x00\x00\x00\x01%016x%016x/r/cn-north", i, i*7919)
	}
	s.addAll(keys[:1<<16])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		batch := keys[i%len(keys) : i%len(keys)+100]
		for _, k := range batch {
			s.has(k)
		}
		s.addAll(batch)
		i = (i + 100) % (len(keys) - 100)
	}
}
