package keyring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// KDFParams are the argon2id parameters that turn the unseal secret into the
// key sealing the root key. They are chosen when a keyring is created and
// stored in k/meta; later opens use the stored ones.
type KDFParams struct {
	Time      uint32 // passes over memory, >= 1
	MemoryKiB uint32 // memory in KiB, >= 8*Threads and <= 4 GiB
	Threads   uint8  // parallelism, >= 1
}

// defaultKDF returns the parameters for new keyrings when Options.KDF is
// zero: the second recommendation of RFC 9106 section 4, with two lanes.
func defaultKDF() KDFParams { return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2} }

// Limits that bound what a tampered k/meta can make Open spend.
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 4 << 20
	minSaltLen      = 16
	maxSaltLen      = 64
	maxNameLen      = 255
)

func (p KDFParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxKDFTime)
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB)
	}
	return nil
}

// meta is the clear, authenticated description of a keyring, stored at
// k/meta. Its encoding is bound into the root envelope's associated data, so
// any change to it makes the root key fail to unseal.
//
// Encoding (format 1), uvarints minimally encoded:
//
//	0x01 || uvarint len || region || uvarint len || suite id ||
//	0x01 (argon2id) || uvarint time || uvarint memory KiB || uvarint threads ||
//	uvarint len || salt
type meta struct {
	Region string
	Suite  string
	KDF    KDFParams
	Salt   []byte
}

const (
	metaFormat1 = 0x01
	kdfArgon2id = 0x01
)

// errMalformedMeta is wrapped by every decodeMeta error.
var errMalformedMeta = errors.New("keyring: malformed k/meta")

func (m *meta) encode() []byte {
	b := []byte{metaFormat1}
	b = appendLP(b, []byte(m.Region))
	b = appendLP(b, []byte(m.Suite))
	b = append(b, kdfArgon2id)
	b = binary.AppendUvarint(b, uint64(m.KDF.Time))
	b = binary.AppendUvarint(b, uint64(m.KDF.MemoryKiB))
	b = binary.AppendUvarint(b, uint64(m.KDF.Threads))
	return appendLP(b, m.Salt)
}

func appendLP(dst, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads canonical fields and remembers the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errMalformedMeta}, a...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n <= 0:
		d.fail("bad uvarint")
		return 0
	case n > 1 && d.b[n-1] == 0:
		d.fail("uvarint not minimally encoded")
		return 0
	case v > max:
		d.fail("value %d above %d", v, max)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(min, max int) []byte {
	n := int(d.uvarint(uint64(max)))
	if d.err != nil {
		return nil
	}
	if n < min {
		d.fail("field of %d bytes, want at least %d", n, min)
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated")
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

// decodeMeta parses k/meta strictly: on success m.encode() equals b.
func decodeMeta(b []byte) (*meta, error) {
	d := &decoder{b: b}
	if v := d.byte(); d.err == nil && v != metaFormat1 {
		return nil, fmt.Errorf("%w: unknown format %d", errMalformedMeta, v)
	}
	m := &meta{
		Region: string(d.bytes(1, maxNameLen)),
		Suite:  string(d.bytes(1, maxNameLen)),
	}
	if k := d.byte(); d.err == nil && k != kdfArgon2id {
		return nil, fmt.Errorf("%w: unknown KDF %d", errMalformedMeta, k)
	}
	m.KDF.Time = uint32(d.uvarint(math.MaxUint32))
	m.KDF.MemoryKiB = uint32(d.uvarint(math.MaxUint32))
	m.KDF.Threads = uint8(d.uvarint(math.MaxUint8))
	m.Salt = d.bytes(minSaltLen, maxSaltLen)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := m.KDF.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedMeta, err)
	}
	return m, nil
}
