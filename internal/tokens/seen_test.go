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
