package format

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/domicile/domicile/internal/token/ff1"
)

// DefaultSeparators are the characters Digits and Alphanumeric keep in
// place: space and hyphen.
const DefaultSeparators = " -"

// Generic encrypts the characters of a string that belong to an alphabet
// as one FF1 string and keeps separator characters where they are. Any
// other character is an error. The separators' positions are bound into the
// tweak, so "1234 5678" and "1234-5678" have unrelated tokens.
type Generic struct {
	name       string
	alphabet   *ff1.Alphabet
	separators string
}

// Digits is Generic over "0123456789" with DefaultSeparators, named
// "digits".
func Digits() *Generic {
	g, _ := NewGeneric(NameDigits, ff1.Digits, DefaultSeparators)
	return g
}

// Alphanumeric is Generic over 0-9a-zA-Z (radix 62, case preserved as part
// of the alphabet) with DefaultSeparators, named "alphanumeric".
func Alphanumeric() *Generic {
	g, _ := NewGeneric(NameAlphanumeric, ff1.Alphanumeric, DefaultSeparators)
	return g
}

// NewGeneric returns a Generic format called name over the characters of
// alphabet, keeping the characters of separators in place. name must be
// non-empty valid UTF-8 without NUL; alphabet and separators must be
// disjoint, and separators must not hold NUL.
func NewGeneric(name, alphabet, separators string) (*Generic, error) {
	if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("%w: bad format name", ErrInvalid)
	}
	a, err := ff1.NewAlphabet(alphabet)
	if err != nil {
		return nil, fmt.Errorf("format: %s: %w", name, err)
	}
	if !utf8.ValidString(separators) || strings.ContainsRune(separators, 0) {
		return nil, fmt.Errorf("%w: %s: bad separators", ErrInvalid, name)
	}
	for _, r := range separators {
		if a.Contains(r) {
			return nil, fmt.Errorf("%w: %s: a separator is in the alphabet", ErrInvalid, name)
		}
	}
	return &Generic{name: name, alphabet: a, separators: separators}, nil
}

// Name implements Format.
func (g *Generic) Name() string { return g.name }

// Radix implements Format.
func (g *Generic) Radix() int { return g.alphabet.Radix() }

// Encrypt implements Format.
func (g *Generic) Encrypt(c *ff1.Cipher, tweak []byte, value string) (string, error) {
	return g.crypt(c, tweak, value, false)
}

// Decrypt implements Format.
func (g *Generic) Decrypt(c *ff1.Cipher, tweak []byte, token string) (string, error) {
	return g.crypt(c, tweak, token, true)
}

func (g *Generic) crypt(c *ff1.Cipher, tweak []byte, s string, decrypt bool) (string, error) {
	if err := checkCipher(g, c); err != nil {
		return "", err
	}
	if !utf8.ValidString(s) {
		return "", invalid(g.name, "not valid UTF-8")
	}
	// shape is s with every alphabet character replaced by NUL.
	var shape, chars strings.Builder
	shape.Grow(len(s))
	chars.Grow(len(s))
	for _, r := range s {
		switch {
		case g.alphabet.Contains(r):
			shape.WriteByte(0)
			chars.WriteRune(r)
		case strings.ContainsRune(g.separators, r):
			shape.WriteRune(r)
		default:
			return "", invalid(g.name, "character outside the alphabet and the separators")
		}
	}
	x, err := g.alphabet.Numerals(chars.String())
	if err != nil {
		return "", fmt.Errorf("format: %s: %w", g.name, err)
	}
	tw := fpeTweak(g.name, []byte(shape.String()), tweak)
	if decrypt {
		x, err = c.DecryptTweak(x, tw)
	} else {
		x, err = c.EncryptTweak(x, tw)
	}
	if err != nil {
		return "", fmt.Errorf("format: %s: %w", g.name, err)
	}
	enc, err := g.alphabet.Text(x)
	if err != nil {
		return "", fmt.Errorf("format: %s: %w", g.name, err)
	}
	// Put the separators back.
	var out strings.Builder
	out.Grow(len(s))
	encRunes := []rune(enc)
	k := 0
	for _, r := range shape.String() {
		if r == 0 {
			out.WriteRune(encRunes[k])
			k++
		} else {
			out.WriteRune(r)
		}
	}
	return out.String(), nil
}
