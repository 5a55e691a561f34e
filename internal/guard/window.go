package guard

import (
	"encoding/binary"
	"time"

	"github.com/domicile/domicile/internal/policy"
)

// Counted signals (sums) and distinct signals (sketches), by index.
const (
	cReads = iota
	cClear
	cSearches
	cDetok
	cExports
	cErrors
	cDenials
	nCounts
)

const (
	sRecords = iota
	sProbes
	nSketches
)

// signalRef locates a policy signal in a bucket.
type signalRef struct {
	distinct bool
	idx      int
}

var signals = map[string]signalRef{
	policy.SignalRecords:         {true, sRecords},
	policy.SignalProbes:          {true, sProbes},
	policy.SignalReads:           {false, cReads},
	policy.SignalClearFields:     {false, cClear},
	policy.SignalSearches:        {false, cSearches},
	policy.SignalDetokenizations: {false, cDetok},
	policy.SignalExports:         {false, cExports},
	policy.SignalErrors:          {false, cErrors},
	policy.SignalDenials:         {false, cDenials},
}

// gran is a bucket granularity: a window of n buckets of size.
type gran struct {
	id     byte
	window string
	size   time.Duration
	n      int
}

// The three windows. A sliding window at t spans the n buckets ending with
// t's bucket plus the part of the bucket before them that still falls in
// the window: sums weigh that bucket by its overlap, distinct counts take
// it whole (overcounting by at most 1/n of a window, never under).
var grans = [3]gran{
	{'m', policy.WindowMinute, 10 * time.Second, 6},
	{'h', policy.WindowHour, 5 * time.Minute, 12},
	{'d', policy.WindowDay, time.Hour, 24},
}

func granOf(window string) int {
	for i, g := range grans {
		if g.window == window {
			return i
		}
	}
	return -1
}

// bucket holds one time bucket of one principal: this node's totals (own),
// the other nodes' as last read (remote), and sketches of this node's
// values (ownSk) and of every node's (allSk).
type bucket struct {
	b      int64 // bucket number; the slot is valid for this bucket only
	own    [nCounts]int64
	remote [nCounts]int64
	ownSk  [nSketches]*sketch
	allSk  [nSketches]*sketch
	dirty  bool // own changed since the last flush
}

// series is one principal's buckets of one granularity, as a ring of n+1
// slots, with the union of the window's sketches kept up to date.
type series struct {
	g     *gran
	slots []bucket
	head  int64 // the newest bucket the union covers
	win   [nSketches]sketch
	est   [nSketches]estimator
}

func newSeries(g *gran) *series {
	s := &series{g: g, slots: make([]bucket, g.n+1), head: -1}
	for i := range s.slots {
		s.slots[i].b = -1
	}
	for i := range s.est {
		s.est[i].reset()
	}
	return s
}

func (s *series) bucketOf(t time.Time) int64 { return t.UnixNano() / int64(s.g.size) }

// slot returns the slot of bucket b, reset if it held an older bucket; nil
// if b is outside the window ending at head.
func (s *series) slot(b int64) *bucket {
	if b > s.head || b < s.head-int64(s.g.n) {
		return nil
	}
	sl := &s.slots[b%int64(len(s.slots))]
	if sl.b != b {
		*sl = bucket{b: b}
	}
	return sl
}

// advance moves the window to end at bucket c, rebuilding the union of
// its sketches when buckets left it.
func (s *series) advance(c int64) {
	if c <= s.head {
		return
	}
	s.head = c
	for i := range s.win {
		s.win[i] = sketch{}
		s.est[i].reset()
	}
	for i := range s.slots {
		sl := &s.slots[i]
		if sl.b < c-int64(s.g.n) || sl.b > c {
			continue
		}
		for k, sk := range sl.allSk {
			s.mergeWin(k, sk)
		}
	}
}

// mergeWin merges sk into the window's union of signal k.
func (s *series) mergeWin(k int, sk *sketch) {
	if sk == nil {
		return
	}
	sk.each(func(idx uint16, rank uint8) {
		if old, ok := s.win[k].set(idx, rank); ok {
			s.est[k].update(old, rank)
		}
	})
}

// addDistinct adds a hashed value of signal k at bucket b (the head).
func (s *series) addDistinct(sl *bucket, k int, h uint64) {
	idx, rank := position(h)
	if sl.ownSk[k] == nil {
		sl.ownSk[k], sl.allSk[k] = &sketch{}, &sketch{}
	}
	if _, ok := sl.ownSk[k].set(idx, rank); ok {
		sl.dirty = true
	}
	sl.allSk[k].set(idx, rank)
	if old, ok := s.win[k].set(idx, rank); ok {
		s.est[k].update(old, rank)
	}
}

// count returns the sliding-window value of a signal at t; the series must
// have been advanced to t's bucket.
func (s *series) count(ref signalRef, t time.Time) float64 {
	if ref.distinct {
		if s.win[ref.idx].empty() {
			return 0
		}
		return s.est[ref.idx].value()
	}
	c := s.bucketOf(t)
	var sum float64
	for b := c - int64(s.g.n) + 1; b <= c; b++ {
		if sl := s.peek(b); sl != nil {
			sum += float64(sl.own[ref.idx] + sl.remote[ref.idx])
		}
	}
	if sl := s.peek(c - int64(s.g.n)); sl != nil {
		elapsed := float64(t.UnixNano()-c*int64(s.g.size)) / float64(s.g.size)
		sum += (1 - elapsed) * float64(sl.own[ref.idx]+sl.remote[ref.idx])
	}
	return sum
}

// peek returns the slot of bucket b if it holds b.
func (s *series) peek(b int64) *bucket {
	if b < 0 {
		return nil
	}
	sl := &s.slots[b%int64(len(s.slots))]
	if sl.b != b {
		return nil
	}
	return sl
}

// total returns the whole value of a signal in bucket b (for baselines).
func (s *series) total(ref signalRef, b int64) float64 {
	sl := s.peek(b)
	if sl == nil {
		return 0
	}
	if ref.distinct {
		if sl.allSk[ref.idx].empty() {
			return 0
		}
		return sl.allSk[ref.idx].estimate()
	}
	return float64(sl.own[ref.idx] + sl.remote[ref.idx])
}

// Bucket values: version 1, nCounts uvarints, nSketches sketches.
func encodeBucket(sl *bucket) []byte {
	b := []byte{1}
	for _, n := range sl.own {
		b = binary.AppendUvarint(b, uint64(n))
	}
	for _, sk := range sl.ownSk {
		b = sk.appendTo(b)
	}
	return b
}

func decodeBucket(b []byte) (counts [nCounts]int64, sks [nSketches]*sketch, err error) {
	if len(b) == 0 || b[0] != 1 {
		return counts, sks, errCorrupt
	}
	b = b[1:]
	for i := range counts {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<62 {
			return counts, sks, errCorrupt
		}
		counts[i], b = int64(n), b[k:]
	}
	for i := range sks {
		if sks[i], b, err = readSketch(b); err != nil {
			return counts, sks, err
		}
	}
	return counts, sks, nil
}
