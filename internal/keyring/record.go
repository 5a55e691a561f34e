package keyring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/domicile/domicile/internal/suite"
)

// State is the state of one key version.
type State string

// Key version states.
const (
	// Active versions are used: the current one for new work, the others
	// to read what they protect.
	Active State = "active"
	// Retired versions are no longer handed out; asking for one is
	// ErrRetired. Their sealed material is kept.
	Retired State = "retired"
)

// kekRecord is the plaintext of a sealed KEK record at
// k/kek/<purpose>/<version>. State and times are inside the seal so that
// they are authenticated.
//
// Encoding (format 1, a version of the keyring's origin suite):
//
//	0x01 || state (1 active, 2 retired) || created unix ms (8 bytes BE) ||
//	retired unix ms (8 bytes BE, 0 if active) || uvarint len || secret ||
//	uvarint len || signing key PKCS#8 (audit only, else empty)
//
// Format 2, a version of another suite (made by Migrate), is format 1 with
// 0x02 first and the suite id appended:
//
//	... || uvarint len || suite id
type kekRecord struct {
	state   State
	created time.Time
	retired time.Time
	secret  []byte
	signer  []byte
	suite   suite.ID // "" for the origin suite (format 1)
}

const (
	recordFormat1 = 0x01
	recordFormat2 = 0x02
)

var errMalformedRecord = errors.New("keyring: malformed key record")

func (r *kekRecord) encode() []byte {
	b := make([]byte, 0, 1+1+16+2+len(r.secret)+3+len(r.signer))
	if r.suite == "" {
		b = append(b, recordFormat1)
	} else {
		b = append(b, recordFormat2)
	}
	if r.state == Retired {
		b = append(b, 2)
	} else {
		b = append(b, 1)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.created.UnixMilli()))
	var ret int64
	if r.state == Retired {
		ret = r.retired.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ret))
	b = appendLP(b, r.secret)
	b = appendLP(b, r.signer)
	if r.suite != "" {
		b = appendLP(b, []byte(r.suite))
	}
	return b
}

func decodeRecord(b []byte) (*kekRecord, error) {
	if len(b) < 18 || (b[0] != recordFormat1 && b[0] != recordFormat2) {
		return nil, errMalformedRecord
	}
	r := &kekRecord{}
	switch b[1] {
	case 1:
		r.state = Active
	case 2:
		r.state = Retired
	default:
		return nil, errMalformedRecord
	}
	r.created = time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:]))).UTC()
	if ms := int64(binary.BigEndian.Uint64(b[10:])); r.state == Retired {
		r.retired = time.UnixMilli(ms).UTC()
	} else if ms != 0 {
		return nil, errMalformedRecord
	}
	d := &decoder{b: b[18:]}
	r.secret = d.bytes(1, 1024)
	r.signer = d.bytes(0, math.MaxUint16)
	if b[0] == recordFormat2 {
		r.suite = suite.ID(d.bytes(1, maxNameLen))
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %v", errMalformedRecord, d.err)
	}
	return r, nil
}
