package format

import (
	"fmt"

	"github.com/domicile/domicile/internal/token/ff1"
)

// PAN is a payment card number: 12 to 19 decimal digits with a valid Luhn
// check digit, without separators (use Digits for formatted numbers).
//
// The last four digits stay in clear; with KeepBIN the first six (the issuer
// identification number) stay in clear too. The digits in between (the
// middle) are encrypted so that the token is again Luhn-valid:
//
//   - when the middle has at least 7 digits, all but its last digit are
//     encrypted as one radix-10 FF1 string, and the last middle digit is set
//     to the one value that makes the whole number Luhn-valid; decryption
//     restores that digit from the original's Luhn validity;
//   - otherwise (KeepBIN with 16 digits or fewer) the whole middle, at least
//     6 digits, is encrypted and re-encrypted (cycle walking) until the
//     whole number is Luhn-valid: a permutation of the Luhn-valid numbers
//     with the same clear digits, about ten FF1 calls on average.
//
// A middle shorter than 6 digits is rejected with an error wrapping
// ff1.ErrLength. Inputs and tokens must be Luhn-valid.
type PAN struct {
	KeepBIN bool
}

// Name implements Format.
func (f PAN) Name() string {
	if f.KeepBIN {
		return NamePANKeepBIN
	}
	return NamePAN
}

// Radix implements Format.
func (PAN) Radix() int { return 10 }

// Encrypt implements Format.
func (f PAN) Encrypt(c *ff1.Cipher, tweak []byte, value string) (string, error) {
	return f.crypt(c, tweak, value, false)
}

// Decrypt implements Format.
func (f PAN) Decrypt(c *ff1.Cipher, tweak []byte, token string) (string, error) {
	return f.crypt(c, tweak, token, true)
}

func (f PAN) crypt(c *ff1.Cipher, tweak []byte, s string, decrypt bool) (string, error) {
	if err := checkCipher(f, c); err != nil {
		return "", err
	}
	if len(s) < 12 || len(s) > 19 || !allDigits(s) {
		return "", invalid(f.Name(), "need 12 to 19 digits")
	}
	if !Luhn(s) {
		return "", invalid(f.Name(), "wrong Luhn check digit")
	}
	buf := []byte(s)
	head := 0
	if f.KeepBIN {
		head = 6
	}
	tail := len(buf) - 4
	clear := append(append([]byte{}, buf[:head]...), buf[tail:]...)
	tw := fpeTweak(f.Name(), clear, tweak)
	middle := buf[head:tail]
	if len(middle)-1 >= minDigits {
		// Encrypt all but the last middle digit, then fix that digit.
		if err := cryptDigits(c, tw, middle[:len(middle)-1], decrypt); err != nil {
			return "", fmt.Errorf("format: %s: %w", f.Name(), err)
		}
		fixLuhn(buf, tail-1)
		return string(buf), nil
	}
	// Cycle walking over the Luhn-valid numbers.
	for {
		if err := cryptDigits(c, tw, middle, decrypt); err != nil {
			return "", fmt.Errorf("format: %s: %w", f.Name(), err)
		}
		if Luhn(string(buf)) {
			return string(buf), nil
		}
	}
}

// minDigits is the shortest radix-10 string FF1 accepts (10^6 values).
const minDigits = 6

// Luhn reports whether the ASCII digits s pass the Luhn (ISO/IEC 7812-1)
// check.
func Luhn(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// fixLuhn sets buf[pos] to the one digit that makes buf Luhn-valid.
// Doubling is a permutation of the digits modulo 9, so exactly one exists.
func fixLuhn(buf []byte, pos int) {
	for d := byte('0'); d <= '9'; d++ {
		buf[pos] = d
		if Luhn(string(buf)) {
			return
		}
	}
}
