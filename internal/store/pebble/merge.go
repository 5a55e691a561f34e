package pebble

import (
	"encoding/binary"
	"errors"
	"io"

	pebbledb "github.com/cockroachdb/pebble/v2"
)

// counterMergerName is persisted in every database: changing it makes
// existing directories fail to open.
const counterMergerName = "domicile.counter.v1"

// errCorruptCounter reports a stored counter operand that is not 8 bytes.
var errCorruptCounter = errors.New("corrupt counter value")

// newCounterMerger returns the Merger that sums counter operands: each
// operand and each result is an int64, little-endian, in 8 bytes. Sums wrap
// on overflow.
func newCounterMerger() *pebbledb.Merger {
	return &pebbledb.Merger{
		Name: counterMergerName,
		Merge: func(_, value []byte) (pebbledb.ValueMerger, error) {
			n, err := decodeCounter(value)
			if err != nil {
				return nil, err
			}
			return &counterSum{sum: n}, nil
		},
	}
}

// counterSum is the ValueMerger of counters. Addition is associative and
// commutative, so MergeNewer and MergeOlder are the same.
type counterSum struct {
	sum int64
}

func (c *counterSum) MergeNewer(value []byte) error { return c.add(value) }
func (c *counterSum) MergeOlder(value []byte) error { return c.add(value) }

func (c *counterSum) add(value []byte) error {
	n, err := decodeCounter(value)
	if err != nil {
		return err
	}
	c.sum += n
	return nil
}

func (c *counterSum) Finish(bool) ([]byte, io.Closer, error) {
	return encodeCounter(nil, c.sum), nil, nil
}

func encodeCounter(dst []byte, n int64) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(n))
}

func decodeCounter(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, errCorruptCounter
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}
