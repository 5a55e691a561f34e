package guard

import (
	"math"
	"strconv"
	"testing"
)

func TestSketchAccuracy(t *testing.T) {
	for _, n := range []int{1, 10, 100, 300, 600, 1000, 5000, 50000} {
		var s sketch
		var e estimator
		e.reset()
		for i := range n {
			idx, rank := position(hashString(42, "rec-"+strconv.Itoa(i)))
			if old, ok := s.set(idx, rank); ok {
				e.update(old, rank)
			}
			// Repeats change nothing.
			s.set(position(hashString(42, "rec-0")))
		}
		got, inc := s.estimate(), e.value()
		if math.Abs(got-inc) > 1e-6*got {
			t.Errorf("n=%d: incremental estimate %.2f, full %.2f", n, inc, got)
		}
		// Linear counting below 2.5m is within a few percent; above, the
		// standard error is 3.3%: allow three of them.
		tol := 0.1
		if n <= 1000 {
			tol = 0.04
		}
		if rel := math.Abs(got-float64(n)) / float64(n); rel > tol {
			t.Errorf("n=%d: estimate %.1f, off by %.1f%%", n, got, 100*rel)
		}
		// Round trip through the stored form.
		b := s.appendTo([]byte{7})
		r, rest, err := readSketch(b[1:])
		if err != nil || len(rest) != 0 || r.estimate() != got {
			t.Errorf("n=%d: round trip = %v, %d bytes left, %v", n, r, len(rest), err)
		}
	}
}

func TestSketchUnion(t *testing.T) {
	var a, b, u sketch
	for i := range 400 {
		h := hashString(1, strconv.Itoa(i))
		if i < 300 {
			a.set(position(h))
		}
		if i >= 100 {
			b.set(position(h))
		}
	}
	u.merge(&a)
	u.merge(&b)
	if got := u.estimate(); math.Abs(got-400) > 16 {
		t.Errorf("union estimate %.1f, want about 400", got)
	}
}

func TestReadSketchCorrupt(t *testing.T) {
	for _, b := range [][]byte{{}, {3}, {2, 1}, {1, 200}, {1, 1, 0xff, 0xff, 1}, {1, 1, 0, 1, 0}} {
		if _, _, err := readSketch(b); err == nil {
			t.Errorf("readSketch(%x) succeeded", b)
		}
	}
	if _, _, err := decodeBucket([]byte{1, 0}); err == nil {
		t.Error("decodeBucket of a short value succeeded")
	}
}

func TestSlotOf(t *testing.T) {
	// 1970-01-05 was a Monday: its midnight is slot 0.
	if s := slotOf(4 * 24); s != 0 {
		t.Errorf("slotOf(Monday 00:00) = %d", s)
	}
	if s := slotOf(0); s != 3*24 {
		t.Errorf("slotOf(Thursday 00:00) = %d", s)
	}
}
