package ff1

import (
	"crypto/cipher"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Common alphabets, for [NewAlphabet].
const (
	// Digits is the alphabet of radix 10.
	Digits = "0123456789"
	// LowerAlphanumeric is the alphabet of radix 36 used by the NIST
	// SP 800-38G samples.
	LowerAlphanumeric = "0123456789abcdefghijklmnopqrstuvwxyz"
	// Alphanumeric is the alphabet of radix 62: digits, then lower and
	// upper case ASCII letters.
	Alphanumeric = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// Alphabet maps characters (Unicode code points) to numerals: the i-th
// character of the alphabet is numeral i. An Alphabet is immutable.
type Alphabet struct {
	chars []rune
	ascii [utf8.RuneSelf]int32 // numeral+1 of an ASCII character; 0 if absent
	other map[rune]uint16
}

// NewAlphabet returns the alphabet of the characters of chars, in order.
// It needs between 2 and 65536 distinct characters and valid UTF-8;
// otherwise it returns an error wrapping [ErrAlphabet].
func NewAlphabet(chars string) (*Alphabet, error) {
	if !utf8.ValidString(chars) {
		return nil, fmt.Errorf("%w: alphabet is not valid UTF-8", ErrAlphabet)
	}
	runes := []rune(chars)
	if len(runes) < MinRadix || len(runes) > MaxRadix {
		return nil, fmt.Errorf("%w: alphabet of %d characters, need [%d, %d]", ErrAlphabet, len(runes), MinRadix, MaxRadix)
	}
	a := &Alphabet{chars: runes}
	for i, r := range runes {
		if r < utf8.RuneSelf {
			if a.ascii[r] != 0 {
				return nil, fmt.Errorf("%w: alphabet repeats a character", ErrAlphabet)
			}
			a.ascii[r] = int32(i) + 1
			continue
		}
		if a.other == nil {
			a.other = make(map[rune]uint16)
		}
		if _, dup := a.other[r]; dup {
			return nil, fmt.Errorf("%w: alphabet repeats a character", ErrAlphabet)
		}
		a.other[r] = uint16(i)
	}
	return a, nil
}

// Radix returns the number of characters in the alphabet.
func (a *Alphabet) Radix() int { return len(a.chars) }

// String returns the characters of the alphabet.
func (a *Alphabet) String() string { return string(a.chars) }

// Contains reports whether r is a character of the alphabet.
func (a *Alphabet) Contains(r rune) bool {
	_, ok := a.numeral(r)
	return ok
}

func (a *Alphabet) numeral(r rune) (uint16, bool) {
	if r >= 0 && r < utf8.RuneSelf {
		v := a.ascii[r]
		return uint16(v - 1), v != 0
	}
	v, ok := a.other[r]
	return v, ok
}

// Numerals returns the numeral string of s. It returns an error wrapping
// [ErrAlphabet] if s holds a character outside the alphabet; the error
// does not name the character.
func (a *Alphabet) Numerals(s string) ([]uint16, error) {
	x := make([]uint16, 0, len(s))
	for _, r := range s {
		d, ok := a.numeral(r)
		if !ok {
			return nil, fmt.Errorf("%w: character outside the alphabet of radix %d", ErrAlphabet, a.Radix())
		}
		x = append(x, d)
	}
	return x, nil
}

// Text returns the string whose numerals are x. It returns an error
// wrapping [ErrNumeral] if a numeral is not below the radix.
func (a *Alphabet) Text(x []uint16) (string, error) {
	var sb strings.Builder
	sb.Grow(len(x))
	for _, d := range x {
		if int(d) >= len(a.chars) {
			return "", fmt.Errorf("%w: radix %d", ErrNumeral, a.Radix())
		}
		sb.WriteRune(a.chars[d])
	}
	return sb.String(), nil
}

// StringCipher is FF1 over the strings of an alphabet.
type StringCipher struct {
	c *Cipher
	a *Alphabet
}

// NewString returns an FF1 cipher over strings of alphabet a: New with
// radix a.Radix().
func NewString(block cipher.Block, a *Alphabet, tweak []byte, opts ...Option) (*StringCipher, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil alphabet", ErrAlphabet)
	}
	c, err := New(block, a.Radix(), tweak, opts...)
	if err != nil {
		return nil, err
	}
	return &StringCipher{c: c, a: a}, nil
}

// Cipher returns the underlying numeral cipher.
func (s *StringCipher) Cipher() *Cipher { return s.c }

// Alphabet returns the cipher's alphabet.
func (s *StringCipher) Alphabet() *Alphabet { return s.a }

// Encrypt encrypts x under the default tweak. The length is counted in
// characters.
func (s *StringCipher) Encrypt(x string) (string, error) { return s.crypt(x, s.c.tweak, false) }

// Decrypt decrypts x under the default tweak.
func (s *StringCipher) Decrypt(x string) (string, error) { return s.crypt(x, s.c.tweak, true) }

// EncryptTweak encrypts x under tweak.
func (s *StringCipher) EncryptTweak(x string, tweak []byte) (string, error) {
	return s.crypt(x, tweak, false)
}

// DecryptTweak decrypts x under tweak.
func (s *StringCipher) DecryptTweak(x string, tweak []byte) (string, error) {
	return s.crypt(x, tweak, true)
}

func (s *StringCipher) crypt(x string, tweak []byte, decrypt bool) (string, error) {
	nums, err := s.a.Numerals(x)
	if err != nil {
		return "", err
	}
	out, err := s.c.crypt(nums, tweak, decrypt)
	if err != nil {
		return "", err
	}
	return s.a.Text(out)
}
