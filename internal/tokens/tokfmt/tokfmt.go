// Package tokfmt is the wire format of Domicile's vault tokens and of the
// entries that map them to values in a region's store. It has no keys and
// does no cryptography: internal/tokens builds and opens tokens, this
// package only spells and parses them.
//
// # Tokens
//
//	random         tkr_<region>_<id>
//	deterministic  tkd_<region>_v<version>_<mac>
//
// region is a policy region name (^[a-z][a-z0-9-]{1,31}$, never "_"), so
// any gateway can route a detokenize to the region by the token alone.
// id is 128 random bits and mac a 128-bit truncated keyed MAC, each written
// as 26 characters of lower-case unpadded base32 (RFC 4648 alphabet,
// "a-z2-7"); the two bits the last character carries beyond 128 are zero.
// version is the token key version in decimal, 1 to 4294967295, without
// leading zeros.
//
// fpe tokens have no wire format here: they are the field's own shape
// (a phone number, an identity number) and name nothing.
//
// Parse is strict: a string has at most one parse and String of a parsed
// token gives back exactly the input (non-malleability). Every parse error
// is a *ParseError wrapping ErrMalformed, and never quotes the input.
package tokfmt

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a token.
type Kind uint8

// Token kinds with a wire format.
const (
	Random        Kind = 1
	Deterministic Kind = 2
)

// String returns the kind's policy name.
func (k Kind) String() string {
	switch k {
	case Random:
		return "random"
	case Deterministic:
		return "deterministic"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Prefixes of the token kinds.
const (
	PrefixRandom        = "tkr_"
	PrefixDeterministic = "tkd_"
)

// Sizes.
const (
	// IDSize is the size in bytes of a random token's id and of a
	// deterministic token's MAC.
	IDSize = 16
	// MaxRegionLen is the longest region name.
	MaxRegionLen = 32
	// MaxLen is the longest token String can return.
	MaxLen = len(PrefixDeterministic) + MaxRegionLen + len("_v4294967295_") + encodedIDLen
)

const encodedIDLen = 26

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformed is wrapped by every Parse error.
var ErrMalformed = errors.New("tokfmt: malformed token")

// ParseError is the type of every error of Parse, ParseEntry and
// RegionOf. It unwraps to ErrMalformed. Its message never contains the
// input.
type ParseError struct{ msg string }

func (e *ParseError) Error() string { return "tokfmt: malformed: " + e.msg }

// Unwrap returns ErrMalformed.
func (e *ParseError) Unwrap() error { return ErrMalformed }

func errorf(format string, a ...any) error { return &ParseError{msg: fmt.Sprintf(format, a...)} }

// Token is a parsed random or deterministic token.
type Token struct {
	Kind   Kind
	Region string
	// Version is the token key version of a deterministic token (0 for
	// random tokens, whose entry's envelope names its key).
	Version uint32
	// ID is the random id, or the deterministic token's truncated MAC.
	ID [IDSize]byte
}

// String returns the token's wire form. For a token that Parse returned, or
// one that passes Validate, Parse(t.String()) gives t back; for an invalid
// one the result does not parse.
func (t Token) String() string {
	return string(t.appendTo(make([]byte, 0, MaxLen)))
}

func (t Token) appendTo(b []byte) []byte {
	switch t.Kind {
	case Random:
		b = append(b, PrefixRandom...)
		b = append(b, t.Region...)
		b = append(b, '_')
	case Deterministic:
		b = append(b, PrefixDeterministic...)
		b = append(b, t.Region...)
		b = append(b, "_v"...)
		b = strconv.AppendUint(b, uint64(t.Version), 10)
		b = append(b, '_')
	}
	return enc.AppendEncode(b, t.ID[:])
}

// Validate reports whether t can be written: a known kind, a valid region
// name, and a version that is non-zero exactly for deterministic tokens.
// Errors are *ParseError values.
func (t Token) Validate() error {
	if err := ValidRegion(t.Region); err != nil {
		return err
	}
	switch t.Kind {
	case Random:
		if t.Version != 0 {
			return errorf("random token with a version")
		}
	case Deterministic:
		if t.Version == 0 {
			return errorf("deterministic token without a version")
		}
	default:
		return errorf("unknown kind %d", t.Kind)
	}
	return nil
}

// ValidRegion reports whether r is a valid region name:
// ^[a-z][a-z0-9-]{1,31}$, as the policy requires. Errors are *ParseError
// values.
func ValidRegion(r string) error {
	if len(r) < 2 || len(r) > MaxRegionLen {
		return errorf("region name must be 2 to %d characters", MaxRegionLen)
	}
	if r[0] < 'a' || r[0] > 'z' {
		return errorf("region name must start with a-z")
	}
	for i := 1; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return errorf("region name holds a character outside a-z, 0-9, -")
		}
	}
	return nil
}

// IsToken reports whether s starts like a random or deterministic token. It
// does not validate s; fpe tokens never start like this (no fpe alphabet
// holds "_").
func IsToken(s string) bool {
	return strings.HasPrefix(s, PrefixRandom) || strings.HasPrefix(s, PrefixDeterministic)
}

// Parse parses a random or deterministic token. Errors are *ParseError
// values wrapping ErrMalformed.
func Parse(s string) (Token, error) {
	var t Token
	if len(s) > MaxLen {
		return t, errorf("longer than %d bytes", MaxLen)
	}
	var rest string
	switch {
	case strings.HasPrefix(s, PrefixRandom):
		t.Kind, rest = Random, s[len(PrefixRandom):]
	case strings.HasPrefix(s, PrefixDeterministic):
		t.Kind, rest = Deterministic, s[len(PrefixDeterministic):]
	default:
		return t, errorf("unknown prefix")
	}
	region, rest, ok := strings.Cut(rest, "_")
	if !ok {
		return t, errorf("no region")
	}
	if err := ValidRegion(region); err != nil {
		return t, err
	}
	t.Region = region
	if t.Kind == Deterministic {
		ver, r, ok := strings.Cut(rest, "_")
		if !ok || len(ver) < 2 || ver[0] != 'v' {
			return t, errorf("no key version")
		}
		v, err := parseVersion(ver[1:])
		if err != nil {
			return t, err
		}
		t.Version, rest = v, r
	}
	if err := decodeID(&t.ID, rest); err != nil {
		return t, err
	}
	return t, nil
}

// parseVersion parses 1..2^32-1 in decimal without sign or leading zeros.
func parseVersion(s string) (uint32, error) {
	if len(s) == 0 || len(s) > 10 || s[0] == '0' {
		return 0, errorf("bad key version")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errorf("bad key version")
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errorf("key version out of range")
	}
	return uint32(v), nil
}

func decodeID(dst *[IDSize]byte, s string) error {
	if len(s) != encodedIDLen {
		return errorf("id must be %d base32 characters", encodedIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return errorf("id holds a character outside a-z, 2-7")
		}
	}
	n, err := enc.Decode(dst[:], []byte(s))
	if err != nil || n != IDSize {
		return errorf("bad id")
	}
	// 26 characters carry 130 bits: the last character's two low bits
	// must be zero, so that only one string decodes to each id.
	if (strings.IndexByte("abcdefghijklmnopqrstuvwxyz234567", s[len(s)-1]) & 3) != 0 {
		return errorf("non-canonical id")
	}
	return nil
}

// RegionOf returns the region a random or deterministic token names, for
// routing. It validates the whole token; errors are *ParseError values.
func RegionOf(s string) (string, error) {
	t, err := Parse(s)
	if err != nil {
		return "", err
	}
	return t.Region, nil
}
