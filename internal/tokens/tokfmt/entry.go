package tokfmt

import (
	"encoding/binary"
)

// Entry is the value stored under a token's store key: where the token
// belongs and the sealed value. It holds no key material and no value in
// clear.
//
// # Format v1
//
//	version      1 byte   0x01
//	sealer       1 byte   1: region token key; 2: the subject's data key
//	collection   lp
//	field        lp
//	jurisdiction lp       ISO 3166-1 alpha-2, or empty
//	subject ref  lp       sealer 2 only: the subject's keyed ref
//	record id    lp       sealer 2 only: the record the value came from
//	envelope     rest     an internal/envelope envelope, at least 1 byte
//
// where lp is a minimally encoded uvarint length, at most 1024, followed by
// that many bytes. ParseEntry is strict and MarshalEntry(ParseEntry(b)) is
// b.
type Entry struct {
	Sealer       Sealer
	Collection   string
	Field        string
	Jurisdiction string
	SubjectRef   []byte // SealerSubject only
	RecordID     string // SealerSubject only
	Envelope     []byte
}

// Sealer says which key sealed an entry's envelope.
type Sealer uint8

// Sealers.
const (
	// SealerRegion: a key derived from the region's token KEK, version
	// named by the envelope.
	SealerRegion Sealer = 1
	// SealerSubject: the data key (DEK) of the subject SubjectRef, whose
	// generation the envelope names; destroying it crypto-shreds the
	// entry.
	SealerSubject Sealer = 2
)

const (
	entryVersion = 1
	maxLP        = 1024
)

// MarshalEntry encodes e. It does not validate e beyond what the format
// needs; ParseEntry of the result fails if e breaks the format (an unknown
// sealer, an over-long item or an empty envelope).
func MarshalEntry(e *Entry) []byte {
	n := 2 + 5*(binary.MaxVarintLen16) + len(e.Collection) + len(e.Field) + len(e.Jurisdiction) + len(e.SubjectRef) + len(e.RecordID) + len(e.Envelope)
	b := make([]byte, 0, n)
	b = append(b, entryVersion, byte(e.Sealer))
	b = appendLP(b, e.Collection)
	b = appendLP(b, e.Field)
	b = appendLP(b, e.Jurisdiction)
	if e.Sealer == SealerSubject {
		b = appendLP(b, string(e.SubjectRef))
		b = appendLP(b, e.RecordID)
	}
	return append(b, e.Envelope...)
}

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ParseEntry decodes an entry. The returned entry's slices alias b. Errors
// are *ParseError values wrapping ErrMalformed.
func ParseEntry(b []byte) (*Entry, error) {
	if len(b) < 2 {
		return nil, errorf("entry too short")
	}
	if b[0] != entryVersion {
		return nil, errorf("unknown entry version %d", b[0])
	}
	e := &Entry{Sealer: Sealer(b[1])}
	if e.Sealer != SealerRegion && e.Sealer != SealerSubject {
		return nil, errorf("unknown sealer %d", b[1])
	}
	rest := b[2:]
	var err error
	var coll, field, jur []byte
	if coll, rest, err = readLP(rest); err != nil {
		return nil, err
	}
	if field, rest, err = readLP(rest); err != nil {
		return nil, err
	}
	if jur, rest, err = readLP(rest); err != nil {
		return nil, err
	}
	e.Collection, e.Field, e.Jurisdiction = string(coll), string(field), string(jur)
	if e.Sealer == SealerSubject {
		var ref, rec []byte
		if ref, rest, err = readLP(rest); err != nil {
			return nil, err
		}
		if rec, rest, err = readLP(rest); err != nil {
			return nil, err
		}
		if len(ref) == 0 {
			return nil, errorf("subject entry without a subject ref")
		}
		e.SubjectRef, e.RecordID = ref, string(rec)
	}
	if len(rest) == 0 {
		return nil, errorf("entry without an envelope")
	}
	e.Envelope = rest
	return e, nil
}

func readLP(b []byte) (item, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, errorf("bad length")
	}
	if k != uvarintLen(n) {
		return nil, nil, errorf("non-minimal length")
	}
	if n > maxLP || n > uint64(len(b)-k) {
		return nil, nil, errorf("length out of range")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
