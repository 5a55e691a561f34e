package guard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/domicile/domicile/internal/store"
)

// A baseline is what a principal usually does in each hour of the week
// (168 slots, hours in UTC, Monday 00:00 first), per signal: an
// exponentially weighted moving average of the hourly totals, so Monday
// 09:00 is compared with earlier Mondays at 09:00 and daily peaks are
// expected where they usually are. Finished hours are folded in by
// whichever node gets there first; each fold writes the next version of
// the baseline with an Insert, so two nodes never fold the same hour twice
// or lose each other's folds.
const (
	hoursPerWeek = 168
	// settle is how long after an hour ends its totals are taken as final:
	// more than any node's flush lag.
	settle = 2 * time.Minute
	// maxCatchUp bounds the hours folded at once after a long absence
	// (four weeks: every slot then holds mostly zeros anyway).
	maxCatchUp = 4 * hoursPerWeek
)

type baseline struct {
	seq     uint64
	through int64 // unix hour of the first hour not folded in yet
	seen    [hoursPerWeek]uint8
	avg     [len(signalOrder)][hoursPerWeek]float32
}

// signalOrder fixes the order of signals in stored baselines.
var signalOrder = [...]string{"records", "reads", "clear_fields", "searches", "probes", "detokenizations", "exports", "errors", "denials"}

// slotOf returns the hour-of-week slot of unix hour h (1970-01-01 was a
// Thursday).
func slotOf(h int64) int { return int(((h+72)%hoursPerWeek + hoursPerWeek) % hoursPerWeek) }

// expectedHour returns the usual total of signal si in unix hour h: the
// learned average for that slot, but never below the floor.
func (b *baseline) expectedHour(si int, h int64, floor float64) float64 {
	slot := slotOf(h)
	if b == nil || b.seen[slot] == 0 {
		return floor
	}
	return math.Max(float64(b.avg[si][slot]), floor)
}

// expected returns the usual count of signal si over the sliding window of
// granularity gi ending at t (as unix nanoseconds).
func (b *baseline) expected(si, gi int, t int64, floor float64) float64 {
	h := t / int64(time.Hour)
	f := float64(t-h*int64(time.Hour)) / float64(time.Hour) // part of hour h elapsed
	switch gi {
	case 0:
		return b.expectedHour(si, h, floor) / 60
	case 1:
		return (1-f)*b.expectedHour(si, h-1, floor) + f*b.expectedHour(si, h, floor)
	}
	sum := f*b.expectedHour(si, h, floor) + (1-f)*b.expectedHour(si, h-24, floor)
	for i := int64(1); i < 24; i++ {
		sum += b.expectedHour(si, h-i, floor)
	}
	return sum
}

// fold adds the totals of unix hour h.
func (b *baseline) fold(h int64, totals *[len(signalOrder)]float64, weight float64) {
	slot := slotOf(h)
	for si, x := range totals {
		if b.seen[slot] == 0 {
			b.avg[si][slot] = float32(x)
		} else {
			b.avg[si][slot] = float32((1-weight)*float64(b.avg[si][slot]) + weight*x)
		}
	}
	if b.seen[slot] < math.MaxUint8 {
		b.seen[slot]++
	}
	b.through = h + 1
}

// Baseline values: version 1, through, seen, then float32 averages.
func (b *baseline) encode() []byte {
	out := make([]byte, 0, 9+hoursPerWeek+4*len(signalOrder)*hoursPerWeek)
	out = append(out, 1)
	out = binary.BigEndian.AppendUint64(out, uint64(b.through))
	out = append(out, b.seen[:]...)
	for si := range b.avg {
		for _, v := range b.avg[si] {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	return out
}

func decodeBaseline(seq uint64, v []byte) (*baseline, error) {
	if len(v) != 9+hoursPerWeek+4*len(signalOrder)*hoursPerWeek || v[0] != 1 {
		return nil, errCorrupt
	}
	b := &baseline{seq: seq, through: int64(binary.BigEndian.Uint64(v[1:]))}
	copy(b.seen[:], v[9:])
	v = v[9+hoursPerWeek:]
	for si := range b.avg {
		for i := range b.avg[si] {
			b.avg[si][i] = math.Float32frombits(binary.LittleEndian.Uint32(v))
			v = v[4:]
		}
	}
	return b, nil
}

// loadBaseline reads the principal's baseline; nil if it has none.
func (g *Guard) loadBaseline(ctx context.Context, principal string) (*baseline, error) {
	prefix := baselinePrefix(principal)
	kvs, err := g.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return nil, fmt.Errorf("guard: read baseline: %w", err)
	}
	if len(kvs) == 0 {
		return nil, nil
	}
	kv := kvs[len(kvs)-1]
	if len(kv.Key) != len(prefix)+8 {
		return nil, errCorrupt
	}
	return decodeBaseline(binary.BigEndian.Uint64(kv.Key[len(prefix):]), kv.Value)
}

// storeBaseline writes nb as the version after cur (nil: none yet). It
// returns false when another node wrote that version first.
func (g *Guard) storeBaseline(ctx context.Context, principal string, cur, nb *baseline) (bool, error) {
	var b store.Batch
	nb.seq = 1
	if cur != nil {
		nb.seq = cur.seq + 1
		b.Delete(baselineKey(principal, cur.seq))
	}
	b.Insert(baselineKey(principal, nb.seq), nb.encode())
	err := g.st.Apply(ctx, &b)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("guard: write baseline: %w", err)
	}
	return true, nil
}
