// Package format applies FF1 ([ff1.Cipher]) to personal-data fields so that
// tokens keep the field's shape: Chinese resident identity numbers, E.164
// phone numbers, payment card numbers, and generic digit or alphanumeric
// strings with separators.
//
// Every format keeps some characters in clear (a country calling code, the
// last four digits of a card, separators...) and encrypts the rest. The clear
// characters are bound into the FF1 tweak together with the format's name and
// the caller's tweak, so a token decrypts only with the same key, the same
// caller tweak and the same clear parts, and two values that differ only in
// their clear parts get unrelated tokens.
//
// Keys are the caller's: it builds an ff1.Cipher over its block cipher with
// the format's radix ([Format.Radix]) and passes it to Encrypt and Decrypt.
// Formats are immutable and safe for concurrent use.
//
// Errors wrap [ErrInvalid], [ErrCipher] or [ff1.ErrLength] (the part to
// encrypt is too short for FF1's domain, radix^n >= 1,000,000) and never
// contain the value or the token.
package format

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/token/ff1"
)

// Format is a field format.
type Format interface {
	// Name is the format's stable identifier, as accepted by [ByName]. It
	// is part of the FF1 tweak, so renaming a format changes its tokens.
	Name() string
	// Radix is the radix of the ff1.Cipher that Encrypt and Decrypt need.
	Radix() int
	// Encrypt returns the token of value under c and tweak.
	Encrypt(c *ff1.Cipher, tweak []byte, value string) (string, error)
	// Decrypt returns the value of token under c and tweak.
	Decrypt(c *ff1.Cipher, tweak []byte, token string) (string, error)
}

var (
	// ErrInvalid reports a value or token that does not match the format
	// (wrong length, a character outside the format, a bad check digit).
	ErrInvalid = errors.New("format: value does not match the format")
	// ErrCipher reports an ff1.Cipher whose radix is not the format's.
	ErrCipher = errors.New("format: cipher radix does not match the format")
	// ErrUnknown reports a name that [ByName] does not know.
	ErrUnknown = errors.New("format: unknown format")
)

// Names of the built-in formats.
const (
	NameCNResidentID           = "cn-resident-id"
	NameCNResidentIDKeepRegion = "cn-resident-id/keep-region"
	NameE164                   = "e164"
	NamePAN                    = "pan"
	NamePANKeepBIN             = "pan/keep-bin"
	NameDigits                 = "digits"
	NameAlphanumeric           = "alphanumeric"
)

// ByName returns the built-in format called name.
func ByName(name string) (Format, error) {
	switch name {
	case NameCNResidentID:
		return CNResidentID{}, nil
	case NameCNResidentIDKeepRegion:
		return CNResidentID{KeepRegion: true}, nil
	case NameE164:
		return E164{}, nil
	case NamePAN:
		return PAN{}, nil
	case NamePANKeepBIN:
		return PAN{KeepBIN: true}, nil
	case NameDigits:
		return Digits(), nil
	case NameAlphanumeric:
		return Alphanumeric(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
}

func invalid(format, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, format, why)
}

// checkCipher verifies that c suits f.
func checkCipher(f Format, c *ff1.Cipher) error {
	if c == nil {
		return fmt.Errorf("%w: %s: nil cipher", ErrCipher, f.Name())
	}
	if c.Radix() != f.Radix() {
		return fmt.Errorf("%w: %s needs radix %d, cipher has %d", ErrCipher, f.Name(), f.Radix(), c.Radix())
	}
	return nil
}

// fpeTweak is the FF1 tweak: name || 0x00 || uvarint(len(clear)) || clear ||
// tweak. Names hold no zero byte and clear is length-prefixed, so distinct
// (name, clear, tweak) triples give distinct tweaks.
func fpeTweak(name string, clear []byte, tweak []byte) []byte {
	out := make([]byte, 0, len(name)+1+binary.MaxVarintLen64+len(clear)+len(tweak))
	out = append(out, name...)
	out = append(out, 0)
	out = binary.AppendUvarint(out, uint64(len(clear)))
	out = append(out, clear...)
	return append(out, tweak...)
}

// cryptDigits encrypts or decrypts ASCII decimal digits in place.
func cryptDigits(c *ff1.Cipher, tweak []byte, digits []byte, decrypt bool) error {
	x := make([]uint16, len(digits))
	for i, d := range digits {
		x[i] = uint16(d - '0')
	}
	var err error
	if decrypt {
		x, err = c.DecryptTweak(x, tweak)
	} else {
		x, err = c.EncryptTweak(x, tweak)
	}
	if err != nil {
		return err
	}
	for i, d := range x {
		digits[i] = byte(d) + '0'
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
