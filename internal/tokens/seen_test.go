package tokens

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/domicile/domicile/internal/tokens/tokfmt"
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
	keys := detKeys(1 << 17)
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

// The set is exact: keys that differ only in trailing zero bytes are
// distinct, and a key too long for a seenKey is never remembered (a miss
// costs a read, a false hit a token without its entry).
func TestSeenSetExact(t *testing.T) {
	s := newSeenSet(seenShards * 4)
	long := make([]byte, seenKeyMax+1)
	for _, tc := range []struct {
		add, has []byte
		want     bool
	}{
		{[]byte("x/d/ab"), []byte("x/d/ab"), true},
		{[]byte("x/d/ab"), []byte("x/d/ab\x00"), false},
		{[]byte("x/d/ab\x00"), []byte("x/d/ab"), true}, // "x/d/ab" added above
		{[]byte("x/d/cd\x00"), []byte("x/d/cd"), false},
		{long, long, false},
		{long[:seenKeyMax], long[:seenKeyMax], true},
	} {
		s.add(tc.add)
		if got := s.has(tc.has); got != tc.want {
			t.Errorf("after add(%q): has(%q) = %v, want %v", tc.add, tc.has, got, tc.want)
		}
	}
}

// BenchmarkSeenSetGC: a garbage collection with one region's set full (65,536
// keys), what each collection pays for the set on top of the rest of the
// heap. In one run: 2.5 ms a collection when keyed by strings, 1.4 ms now.
func BenchmarkSeenSetGC(b *testing.B) {
	s := newSeenSet(1 << 16)
	s.addAll(detKeys(1 << 16))
	for b.Loop() {
		runtime.GC()
	}
	runtime.KeepAlive(s)
}

// detKeys returns n distinct keys of deterministic entries.
func detKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		var mac [tokfmt.IDSize]byte
		binary.BigEndian.PutUint64(mac[:], uint64(i))
		binary.BigEndian.PutUint64(mac[8:], uint64(i*7919))
		keys[i] = detPrefix(1, mac[:])
	}
	return keys
}
