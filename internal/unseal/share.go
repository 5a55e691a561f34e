package unseal

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudflare/circl/group"
)

// A share is one line of text:
//
//	dms1-M-I-BODY
//
// "dms1" names the format (version 1), M is the threshold (how many shares
// give the secret back, 2 to 255) and I the share's number (1 to 255), both
// in decimal without leading zeros. BODY is lower-case base32 (RFC 4648,
// no padding) of
//
//	set (6 bytes) | secret length (2 bytes, big endian) | values | checksum (4 bytes)
//
// set is random, the same for every share of one split, so that shares of
// different splits are never combined. values are k = ceil(length/31)
// canonical Ristretto255 scalars of 32 bytes (little endian): the share of
// each 31-byte chunk of the secret, chunk j padded with zeros and read as a
// little-endian number (below 2^248, so below the group order). checksum is
// the first 4 bytes of SHA-256 over the text "dms1-M-I-" and the bytes
// before it: a mistyped character, a swapped threshold or number, a share
// cut short is caught before combining (a checksum guards against mistakes,
// not against someone forging shares). Parsing accepts upper case and
// surrounding space; everything else has one spelling.

const (
	sharePrefix = "dms1-"
	// setLen is the length of the split's random identifier.
	setLen = 6
	// chunkLen is how many secret bytes one scalar carries.
	chunkLen = 31
	// scalarLen is the length of an encoded Ristretto255 scalar.
	scalarLen = 32
	sumLen    = 4
	// MaxShares is the most shares a split makes, and the largest threshold.
	MaxShares = 255
	// MaxSecretLen is the longest secret Split takes, in bytes.
	MaxSecretLen = 4096
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors about shares. [ParseShare] and [Combiner.Add] return them wrapped
// in a [*ShareError] that names the share; test with errors.Is.
var (
	// ErrShareFormat: the text is not a share (wrong prefix, fields,
	// characters or length).
	ErrShareFormat = errors.New("not a domicile share")
	// ErrShareVersion: a share of a format version this build does not know.
	ErrShareVersion = errors.New("unknown share format version")
	// ErrShareChecksum: the share's checksum does not match: mistyped,
	// cut short or corrupted.
	ErrShareChecksum = errors.New("checksum mismatch: the share was mistyped or corrupted")
	// ErrDuplicateShare: a share with the same number was given already.
	ErrDuplicateShare = errors.New("this share was given already")
	// ErrMixedShares: the share belongs to another split (another set,
	// threshold or secret length).
	ErrMixedShares = errors.New("the share belongs to another split")
	// ErrNotEnoughShares: fewer shares than the threshold.
	ErrNotEnoughShares = errors.New("not enough shares")
	// ErrSharesDisagree: shares that each look right do not combine into a
	// well-formed secret: one of them was altered or made elsewhere.
	ErrSharesDisagree = errors.New("the shares do not combine into a secret: one of them was altered or comes from another split")
)

// ShareError names the share that a share error is about: its position in
// what was given (1 for the first) and, when it could be read, the number
// it carries. It never holds the share's text.
type ShareError struct {
	// Position is the share's place among those given, from 1.
	Position int
	// Number is the number written in the share, 0 if unreadable.
	Number int
	Err    error
}

func (e *ShareError) Error() string {
	if e.Number > 0 && e.Number != e.Position {
		return fmt.Sprintf("share %d (number %d of its split): %v", e.Position, e.Number, e.Err)
	}
	return fmt.Sprintf("share %d: %v", e.Position, e.Err)
}

func (e *ShareError) Unwrap() error { return e.Err }

// Share is one parsed share of a split.
type Share struct {
	// Threshold is how many shares of the split give the secret back.
	Threshold int
	// Number identifies the share in its split, from 1.
	Number int
	set    [setLen]byte
	length int
	values [][scalarLen]byte
}

// ParseShare reads a share and checks its format and checksum. Errors wrap
// ErrShareFormat, ErrShareVersion or ErrShareChecksum, and never quote the
// text.
func ParseShare(text string) (*Share, error) {
	s := strings.ToLower(strings.TrimSpace(text))
	if !strings.HasPrefix(s, sharePrefix) {
		if len(s) > 4 && strings.HasPrefix(s, "dms") && s[3] >= '0' && s[3] <= '9' {
			return nil, fmt.Errorf("%w (made by a newer domicile?)", ErrShareVersion)
		}
		return nil, fmt.Errorf("%w: it should start with %q", ErrShareFormat, sharePrefix)
	}
	fields := strings.Split(s[len(sharePrefix):], "-")
	if len(fields) != 3 {
		return nil, fmt.Errorf("%w: want %sTHRESHOLD-NUMBER-DATA", ErrShareFormat, sharePrefix)
	}
	m, ok := smallNumber(fields[0])
	if !ok || m < 2 {
		return nil, fmt.Errorf("%w: bad threshold", ErrShareFormat)
	}
	n, ok := smallNumber(fields[1])
	if !ok || n < 1 {
		return nil, fmt.Errorf("%w: bad share number", ErrShareFormat)
	}
	body, err := b32.DecodeString(strings.ToUpper(fields[2]))
	if err != nil || strings.ToLower(b32.EncodeToString(body)) != fields[2] {
		return nil, fmt.Errorf("%w: the data is not base32 (a-z, 2-7): mistyped or cut short", ErrShareChecksum)
	}
	fixed := setLen + 2 + sumLen
	if len(body) < fixed+scalarLen || (len(body)-fixed)%scalarLen != 0 {
		return nil, fmt.Errorf("%w (wrong length)", ErrShareChecksum)
	}
	sum := checksum(m, n, body[:len(body)-sumLen])
	if subtle.ConstantTimeCompare(sum[:sumLen], body[len(body)-sumLen:]) != 1 {
		return nil, &ShareError{Number: n, Err: ErrShareChecksum}
	}
	sh := &Share{Threshold: m, Number: n, length: int(binary.BigEndian.Uint16(body[setLen:]))}
	copy(sh.set[:], body)
	k := (len(body) - fixed) / scalarLen
	if sh.length < 1 || sh.length > MaxSecretLen || chunks(sh.length) != k {
		return nil, &ShareError{Number: n, Err: fmt.Errorf("%w: inconsistent length", ErrShareFormat)}
	}
	sc := group.Ristretto255.NewScalar()
	for i := range k {
		var v [scalarLen]byte
		copy(v[:], body[setLen+2+i*scalarLen:])
		if sc.UnmarshalBinary(v[:]) != nil {
			return nil, &ShareError{Number: n, Err: fmt.Errorf("%w: value %d out of range", ErrShareFormat, i+1)}
		}
		sh.values = append(sh.values, v)
	}
	clear(body)
	return sh, nil
}

// String returns the share's text, the one ParseShare reads.
func (sh *Share) String() string {
	body := make([]byte, 0, setLen+2+len(sh.values)*scalarLen+sumLen)
	body = append(body, sh.set[:]...)
	body = binary.BigEndian.AppendUint16(body, uint16(sh.length))
	for _, v := range sh.values {
		body = append(body, v[:]...)
	}
	sum := checksum(sh.Threshold, sh.Number, body)
	body = append(body, sum[:sumLen]...)
	s := fmt.Sprintf("%s%d-%d-%s", sharePrefix, sh.Threshold, sh.Number, strings.ToLower(b32.EncodeToString(body)))
	clear(body)
	return s
}

// wipe zeroes the share's values.
func (sh *Share) wipe() {
	for i := range sh.values {
		clear(sh.values[i][:])
	}
}

func checksum(m, n int, b []byte) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s%d-%d-", sharePrefix, m, n)
	h.Write(b)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// smallNumber parses a decimal number from 1 to MaxShares written without
// sign or leading zeros.
func smallNumber(s string) (int, bool) {
	if s == "" || len(s) > 3 || s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.Atoi(s)
	return v, err == nil && v <= MaxShares
}

// chunks is how many scalars carry a secret of length bytes.
func chunks(length int) int { return (length + chunkLen - 1) / chunkLen }
