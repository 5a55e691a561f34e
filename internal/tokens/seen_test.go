package tokens

import (
	"fmt"
	"testing"
)

// addAll remembers every key it is given, a shard at a time, and a shard
// stays within its bound.
func TestSeenSetAddAll(t *testing.T) {
	s := newSeenSet(seenShards * 4)
	var keys [][]byte
	for i := range 3 * seenShards {
		keys = append(keys, []byte(fmt.Sprintf("x/d/key-%d", i)))
	}
	s.addAll(keys[:seenShards])
	for _, k := range keys[:seenShards] {
		if !s.has(k) {
			t.Fatalf("%s added but not seen", k)
		}
	}
	s.addAll(keys)
	for i := range s.shards {
		if n := len(s.shards[i].m); n > s.max {
			t.Errorf("shard %d holds %d keys, bound %d", i, n, s.max)
		}
	}
	var nilSet *seenSet
	nilSet.addAll(keys) // a disabled cache takes nothing and does not panic
}
