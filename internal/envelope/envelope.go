package envelope

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/domicile/domicile/internal/suite"
)

// Version1 is the first byte of every format-v1 envelope.
const Version1 byte = 0xD1

// maxSuiteLen bounds the suite id so that its length fits the one-byte prefix
// with room to spare.
const maxSuiteLen = 32

// aadLabel is the domain label that starts every associated-data string.
const aadLabel = "domicile envelope v1"

// ErrMalformed is wrapped by every error of Parse: the input is not a v1
// envelope of a known suite.
var ErrMalformed = errors.New("envelope: malformed")

// ParseError is the type of every error returned by Parse. It unwraps to
// ErrMalformed.
type ParseError struct {
	msg string
}

func (e *ParseError) Error() string { return "envelope: malformed: " + e.msg }

// Unwrap returns ErrMalformed.
func (e *ParseError) Unwrap() error { return ErrMalformed }

func errorf(format string, a ...any) error {
	return &ParseError{msg: fmt.Sprintf(format, a...)}
}

// Header is the stored, unencrypted part of an envelope.
type Header struct {
	// Suite names the suite whose AEAD sealed the envelope.
	Suite suite.ID
	// KeyVersion is the version of the key that sealed it (>= 1).
	KeyVersion uint32
	// Nonce is the AEAD nonce, suite.NonceSize bytes.
	Nonce []byte
}

// Binding is where a ciphertext belongs. It is authenticated as associated
// data but not stored: Open must be given the same Binding as Seal.
type Binding struct {
	Region, Collection, Record, Field string
}

// knownSuite reports whether id is a suite this format accepts. It is a
// switch rather than suite.ByID because Parse and Seal run for every field
// and ByID allocates. canonicalID must list the same suites.
func knownSuite(id suite.ID) bool {
	switch id {
	case suite.CN, suite.Intl:
		return true
	}
	return false
}

// headerLen is the length of the header bytes (version, suite, key version),
// without the nonce.
func headerLen(s suite.ID, keyVersion uint32) int {
	return 2 + len(s) + uvarintLen(uint64(keyVersion))
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func appendHeader(dst []byte, s suite.ID, keyVersion uint32) []byte {
	dst = append(dst, Version1, byte(len(s)))
	dst = append(dst, s...)
	return binary.AppendUvarint(dst, uint64(keyVersion))
}

func appendLP(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// aadLen is the length of the associated data for a header of hlen bytes
// and binding b.
func aadLen(hlen int, b *Binding) int {
	n := uvarintLen(uint64(len(aadLabel))) + len(aadLabel) + uvarintLen(uint64(hlen)) + hlen
	for _, s := range [...]string{b.Region, b.Collection, b.Record, b.Field} {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n
}

// appendAAD appends the associated data for header bytes hdr and binding b.
func appendAAD(dst, hdr []byte, b *Binding) []byte {
	dst = appendLP(dst, aadLabel)
	dst = binary.AppendUvarint(dst, uint64(len(hdr)))
	dst = append(dst, hdr...)
	dst = appendLP(dst, b.Region)
	dst = appendLP(dst, b.Collection)
	dst = appendLP(dst, b.Record)
	return appendLP(dst, b.Field)
}

// Seal encrypts plaintext with a, which must be the AEAD of suite s under the
// key of version keyVersion, binding the result to b. The nonce is read from
// rand. It returns the marshalled envelope.
//
// Seal fails if s is not a known suite, keyVersion is 0, a's nonce or tag
// size differs from the suite's, or rand fails. It makes one allocation.
func Seal(a cipher.AEAD, rand io.Reader, s suite.ID, keyVersion uint32, b Binding, plaintext []byte) ([]byte, error) {
	if !knownSuite(s) {
		return nil, fmt.Errorf("envelope: seal: unknown suite %q", string(s))
	}
	if keyVersion == 0 {
		return nil, errors.New("envelope: seal: key version 0")
	}
	if a.NonceSize() != suite.NonceSize || a.Overhead() != suite.TagSize {
		return nil, fmt.Errorf("envelope: seal: AEAD has a %d-byte nonce and %d-byte tag, want %d and %d",
			a.NonceSize(), a.Overhead(), suite.NonceSize, suite.TagSize)
	}
	hlen := headerLen(s, keyVersion)
	n := hlen + suite.NonceSize + len(plaintext) + suite.TagSize
	// One allocation holds the envelope and, after it, the associated data.
	buf := make([]byte, 0, n+aadLen(hlen, &b))
	buf = appendHeader(buf, s, keyVersion)
	buf = buf[:hlen+suite.NonceSize]
	nonce := buf[hlen:]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("envelope: seal: reading nonce: %w", err)
	}
	aad := appendAAD(buf[n:n], buf[:hlen], &b)
	// dst's capacity ends where the associated data starts, so they do not
	// overlap.
	out := a.Seal(buf[:hlen+suite.NonceSize:n], nonce, plaintext, aad)
	return out[:n:n], nil
}

// Open authenticates and decrypts the envelope given by h and ciphertext (as
// returned by Parse) with a, the AEAD of h.Suite under the key of version
// h.KeyVersion, checking that it was sealed for binding b.
//
// Any failure — wrong key, header, binding, nonce size or tampered bytes — is
// suite.ErrOpen, which tells nothing about which. The returned plaintext does
// not alias ciphertext.
func Open(a cipher.AEAD, h Header, ciphertext []byte, b Binding) ([]byte, error) {
	if len(h.Nonce) != suite.NonceSize || a.NonceSize() != suite.NonceSize ||
		len(ciphertext) < suite.TagSize || len(h.Suite) > maxSuiteLen {
		return nil, suite.ErrOpen
	}
	hlen := headerLen(h.Suite, h.KeyVersion)
	alen := hlen + aadLen(hlen, &b)
	ptLen := len(ciphertext) - suite.TagSize
	// One allocation holds the header and associated data, then the
	// plaintext; dst starts after the associated data so they do not
	// overlap.
	buf := make([]byte, alen, alen+ptLen)
	hdr := appendHeader(buf[:0], h.Suite, h.KeyVersion)
	aad := appendAAD(buf[hlen:hlen], hdr, &b)
	pt, err := a.Open(buf[alen:alen], h.Nonce, ciphertext, aad)
	if err != nil {
		return nil, suite.ErrOpen
	}
	return pt[:len(pt):len(pt)], nil
}

// Parse splits a v1 envelope into its header and its ciphertext (including
// the tag). Both alias env. Parse is strict: on success,
// Marshal(h, ciphertext) equals env byte for byte.
//
// Errors are *ParseError values wrapping ErrMalformed: unknown format
// version, unknown suite, key version 0, above 2^32-1 or not minimally
// encoded, and input too short for the nonce and tag.
func Parse(env []byte) (Header, []byte, error) {
	if len(env) == 0 {
		return Header{}, nil, errorf("empty")
	}
	if env[0] != Version1 {
		return Header{}, nil, errorf("unknown format version 0x%02x", env[0])
	}
	if len(env) < 2 {
		return Header{}, nil, errorf("truncated suite")
	}
	sl := int(env[1])
	if sl == 0 || sl > maxSuiteLen || len(env) < 2+sl {
		return Header{}, nil, errorf("bad suite length %d", sl)
	}
	sid := canonicalID(env[2 : 2+sl])
	if sid == "" {
		return Header{}, nil, errorf("unknown suite %q", env[2:2+sl])
	}
	rest := env[2+sl:]
	v, n := binary.Uvarint(rest)
	switch {
	case n == 0:
		return Header{}, nil, errorf("truncated key version")
	case n < 0:
		return Header{}, nil, errorf("key version overflows")
	case n > 1 && rest[n-1] == 0:
		return Header{}, nil, errorf("key version not minimally encoded")
	case v == 0:
		return Header{}, nil, errorf("key version 0")
	case v > math.MaxUint32:
		return Header{}, nil, errorf("key version %d above 2^32-1", v)
	}
	rest = rest[n:]
	if len(rest) < suite.NonceSize+suite.TagSize {
		return Header{}, nil, errorf("%d bytes after the header, want at least %d", len(rest), suite.NonceSize+suite.TagSize)
	}
	h := Header{
		Suite:      sid,
		KeyVersion: uint32(v),
		Nonce:      rest[:suite.NonceSize:suite.NonceSize],
	}
	return h, rest[suite.NonceSize:], nil
}

// canonicalID returns the constant for a known suite id, or "" for an
// unknown one, without allocating.
func canonicalID(b []byte) suite.ID {
	switch string(b) {
	case string(suite.CN):
		return suite.CN
	case string(suite.Intl):
		return suite.Intl
	}
	return ""
}

// Marshal encodes h and ciphertext as an envelope. For every h and ciphertext
// returned by Parse, Marshal returns the parsed bytes.
//
// Marshal does not check that the suite is known or that the key version is
// non-zero (Parse rejects such envelopes), but it panics if h.Nonce is not
// suite.NonceSize bytes or h.Suite is empty or longer than 32 bytes, since
// those cannot be encoded.
func Marshal(h Header, ciphertext []byte) []byte {
	if len(h.Nonce) != suite.NonceSize {
		panic("envelope: Marshal: nonce is not suite.NonceSize bytes")
	}
	if len(h.Suite) == 0 || len(h.Suite) > maxSuiteLen {
		panic("envelope: Marshal: suite id length out of range")
	}
	hlen := headerLen(h.Suite, h.KeyVersion)
	out := make([]byte, 0, hlen+suite.NonceSize+len(ciphertext))
	out = appendHeader(out, h.Suite, h.KeyVersion)
	out = append(out, h.Nonce...)
	return append(out, ciphertext...)
}
