package format

import (
	"fmt"

	"github.com/domicile/domicile/internal/token/ff1"
)

// E164 is a phone number in E.164 form: "+", a country calling code of one
// to three digits, and the national significant number (NSN), 15 digits at
// most in all, with no separators (normalise first).
//
// The "+" and the country calling code stay in clear; the NSN digits are
// encrypted as one radix-10 FF1 string of the same length, which must be at
// least 6 digits long. The token has the E.164 shape but its NSN need not be
// a number that the country's plan assigns (it may start with 0).
//
// The calling code is found with the ITU-T E.164 assignment list's prefix
// structure: 1 and 7 are one digit, the two-digit codes are listed in
// twoDigitCode, and every other code has three digits.
type E164 struct{}

// Name implements Format.
func (E164) Name() string { return NameE164 }

// Radix implements Format.
func (E164) Radix() int { return 10 }

// Encrypt implements Format.
func (f E164) Encrypt(c *ff1.Cipher, tweak []byte, value string) (string, error) {
	return f.crypt(c, tweak, value, false)
}

// Decrypt implements Format.
func (f E164) Decrypt(c *ff1.Cipher, tweak []byte, token string) (string, error) {
	return f.crypt(c, tweak, token, true)
}

func (f E164) crypt(c *ff1.Cipher, tweak []byte, s string, decrypt bool) (string, error) {
	if err := checkCipher(f, c); err != nil {
		return "", err
	}
	cc, err := SplitE164(s)
	if err != nil {
		return "", err
	}
	buf := []byte(s)
	if err := cryptDigits(c, fpeTweak(f.Name(), buf[1:1+cc], tweak), buf[1+cc:], decrypt); err != nil {
		return "", fmt.Errorf("format: %s: %w", f.Name(), err)
	}
	return string(buf), nil
}

// twoDigitCode reports whether cc is a two-digit country calling code
// (ITU-T E.164 list): 20, 27, 30-34, 36, 39, 40, 41, 43-49, 51-58, 60-66,
// 81, 82, 84, 86, 90-95, 98.
func twoDigitCode(cc int) bool {
	switch {
	case cc == 20, cc == 27, cc >= 30 && cc <= 34, cc == 36, cc == 39,
		cc == 40, cc == 41, cc >= 43 && cc <= 49, cc >= 51 && cc <= 58,
		cc >= 60 && cc <= 66, cc == 81, cc == 82, cc == 84, cc == 86,
		cc >= 90 && cc <= 95, cc == 98:
		return true
	}
	return false
}

// SplitE164 checks that s is "+" and 2 to 15 digits with a leading digit
// other than 0, and returns the number of digits of its country calling
// code. Errors wrap ErrInvalid.
func SplitE164(s string) (int, error) {
	if len(s) < 3 || s[0] != '+' {
		return 0, invalid(NameE164, "need + and digits")
	}
	digits := s[1:]
	if len(digits) > 15 || !allDigits(digits) {
		return 0, invalid(NameE164, "need at most 15 digits after +")
	}
	var cc int
	switch {
	case digits[0] == '0':
		return 0, invalid(NameE164, "country calling code cannot start with 0")
	case digits[0] == '1' || digits[0] == '7':
		cc = 1
	case twoDigitCode(int(digits[0]-'0')*10 + int(digits[1]-'0')):
		cc = 2
	default:
		cc = 3
	}
	if len(digits) <= cc {
		return 0, invalid(NameE164, "no national number after the country calling code")
	}
	return cc, nil
}
