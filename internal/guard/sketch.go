package guard

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"slices"
)

// Distinct counts (records read, values probed) are HyperLogLog sketches
// (Flajolet et al. 2007, with linear counting for small sets) rather than
// sets of keys: a sketch has a fixed size whatever the principal reads, the
// union of two sketches is the sketch of the union (so a sliding window is
// the union of its buckets, and several nodes' sketches merge), and nothing
// in it names a record. With 2^sketchP registers the standard error is
// 1.04/sqrt(1024) = 3.3%; below 2.5*1024 distinct values linear counting
// is used, which is far more precise (the budgets of the policy sit there).
const (
	sketchP    = 10
	sketchM    = 1 << sketchP
	sparseMax  = 128 // a sparse sketch holds at most this many registers
	sketchBits = 64 - sketchP
)

// sketch is a HyperLogLog sketch, sparse (sorted idx<<8|rank entries) until
// it holds sparseMax registers, then dense. The zero value is empty.
type sketch struct {
	sparse []uint32
	dense  []uint8
}

// position returns the register and rank of a 64-bit hash.
func position(h uint64) (idx uint16, rank uint8) {
	idx = uint16(h >> sketchBits)
	w := h<<sketchP | 1<<(sketchP-1) // guard bit bounds the rank
	return idx, uint8(bits.LeadingZeros64(w) + 1)
}

// set raises register idx to rank and returns the previous value; ok is
// false when the register already held rank or more.
func (s *sketch) set(idx uint16, rank uint8) (old uint8, ok bool) {
	if s.dense != nil {
		old = s.dense[idx]
		if rank <= old {
			return old, false
		}
		s.dense[idx] = rank
		return old, true
	}
	i, found := slices.BinarySearchFunc(s.sparse, idx, func(e uint32, t uint16) int { return int(e>>8) - int(t) })
	if found {
		old = uint8(s.sparse[i])
		if rank <= old {
			return old, false
		}
		s.sparse[i] = uint32(idx)<<8 | uint32(rank)
		return old, true
	}
	if len(s.sparse) >= sparseMax {
		s.densify()
		s.dense[idx] = rank
		return 0, true
	}
	s.sparse = slices.Insert(s.sparse, i, uint32(idx)<<8|uint32(rank))
	return 0, true
}

func (s *sketch) densify() {
	s.dense = make([]uint8, sketchM)
	for _, e := range s.sparse {
		s.dense[e>>8] = uint8(e)
	}
	s.sparse = nil
}

// each calls f for every non-zero register.
func (s *sketch) each(f func(idx uint16, rank uint8)) {
	if s.dense != nil {
		for i, r := range s.dense {
			if r != 0 {
				f(uint16(i), r)
			}
		}
		return
	}
	for _, e := range s.sparse {
		f(uint16(e>>8), uint8(e))
	}
}

// merge raises s to the union of s and o.
func (s *sketch) merge(o *sketch) {
	if o == nil {
		return
	}
	o.each(func(idx uint16, rank uint8) { s.set(idx, rank) })
}

func (s *sketch) empty() bool { return s == nil || (s.dense == nil && len(s.sparse) == 0) }

// estimate returns the estimated number of distinct values added.
func (s *sketch) estimate() float64 {
	var e estimator
	e.reset()
	s.each(func(_ uint16, r uint8) { e.update(0, r) })
	return e.value()
}

// estimator keeps the harmonic sum of a set of registers so that the
// estimate of a union can be maintained as registers rise, in O(1).
type estimator struct {
	sum   float64 // sum of 2^-register
	zeros int     // registers still zero
}

func (e *estimator) reset() { e.sum, e.zeros = sketchM, sketchM }

// update records a register rising from old to rank.
func (e *estimator) update(old, rank uint8) {
	if old == 0 {
		e.zeros--
	}
	e.sum += math.Ldexp(1, -int(rank)) - math.Ldexp(1, -int(old))
}

func (e *estimator) value() float64 {
	const m = float64(sketchM)
	raw := 0.7213 / (1 + 1.079/m) * m * m / e.sum
	if raw <= 2.5*m && e.zeros > 0 {
		return m * math.Log(m/float64(e.zeros))
	}
	return raw
}

// Encoding: 0 (empty), 1 n [idx uint16 rank uint8]*n (sparse), or 2 and
// sketchM registers (dense).
func (s *sketch) appendTo(b []byte) []byte {
	switch {
	case s.empty():
		return append(b, 0)
	case s.dense != nil:
		return append(append(b, 2), s.dense...)
	}
	b = binary.AppendUvarint(append(b, 1), uint64(len(s.sparse)))
	for _, e := range s.sparse {
		b = binary.BigEndian.AppendUint16(b, uint16(e>>8))
		b = append(b, uint8(e))
	}
	return b
}

var errCorrupt = errors.New("guard: corrupt stored state")

func readSketch(b []byte) (*sketch, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errCorrupt
	}
	switch b[0] {
	case 0:
		return nil, b[1:], nil
	case 2:
		if len(b) < 1+sketchM {
			return nil, nil, errCorrupt
		}
		return &sketch{dense: slices.Clone(b[1 : 1+sketchM])}, b[1+sketchM:], nil
	case 1:
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || n > sparseMax || uint64(len(b)-1-k) < 3*n {
			return nil, nil, errCorrupt
		}
		b = b[1+k:]
		s := &sketch{}
		for range n {
			idx := binary.BigEndian.Uint16(b)
			if idx >= sketchM || b[2] == 0 || b[2] > sketchBits+1 {
				return nil, nil, errCorrupt
			}
			s.set(idx, b[2])
			b = b[3:]
		}
		return s, b, nil
	}
	return nil, nil, errCorrupt
}
