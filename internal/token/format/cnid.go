package format

import (
	"fmt"

	"github.com/domicile/domicile/internal/token/ff1"
)

// CNResidentID is the 18-character Chinese resident identity number of
// GB 11643-1999: a 6-digit administrative region code, an 8-digit birth date
// (YYYYMMDD), a 3-digit sequence number and a check character (0-9 or X,
// ISO 7064 MOD 11-2).
//
// By default the 17 leading digits are encrypted as one radix-10 FF1 string;
// with KeepRegion the region code stays in clear (for routing or regional
// statistics) and the 11 digits of birth date and sequence are encrypted.
// Either way the check character of the token is recomputed, so tokens pass
// GB 11643 check-character validation; the encrypted birth date is in general
// not a calendar date.
//
// Encrypt accepts a lower-case x as check character and Decrypt returns the
// upper-case X. Both reject a value or token whose check character is wrong.
type CNResidentID struct {
	KeepRegion bool
}

// Name implements Format.
func (f CNResidentID) Name() string {
	if f.KeepRegion {
		return NameCNResidentIDKeepRegion
	}
	return NameCNResidentID
}

// Radix implements Format.
func (CNResidentID) Radix() int { return 10 }

// Encrypt implements Format.
func (f CNResidentID) Encrypt(c *ff1.Cipher, tweak []byte, value string) (string, error) {
	return f.crypt(c, tweak, value, false)
}

// Decrypt implements Format.
func (f CNResidentID) Decrypt(c *ff1.Cipher, tweak []byte, token string) (string, error) {
	return f.crypt(c, tweak, token, true)
}

func (f CNResidentID) crypt(c *ff1.Cipher, tweak []byte, s string, decrypt bool) (string, error) {
	if err := checkCipher(f, c); err != nil {
		return "", err
	}
	if err := ValidCNResidentID(s); err != nil {
		return "", err
	}
	buf := []byte(s)
	keep := 0
	if f.KeepRegion {
		keep = 6
	}
	if err := cryptDigits(c, fpeTweak(f.Name(), buf[:keep], tweak), buf[keep:17], decrypt); err != nil {
		return "", fmt.Errorf("format: %s: %w", f.Name(), err)
	}
	buf[17] = CNResidentIDCheck(buf[:17])
	return string(buf), nil
}

// CNResidentIDCheck returns the GB 11643 check character ('0'-'9' or 'X')
// of the 17 ASCII digits d.
func CNResidentIDCheck(d []byte) byte {
	// Digit i (0-based, from the left) has weight 2^(17-i) mod 11:
	// 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2.
	sum, w := 0, 1
	for i := 16; i >= 0; i-- {
		w = 2 * w % 11
		sum += int(d[i]-'0') * w
	}
	r := (12 - sum%11) % 11
	if r == 10 {
		return 'X'
	}
	return byte('0' + r)
}

// ValidCNResidentID reports, as an error wrapping ErrInvalid, whether s is
// not 17 digits followed by their correct check character. It checks only
// the shape and the check character, not the region code or the date.
func ValidCNResidentID(s string) error {
	const name = "cn-resident-id"
	if len(s) != 18 {
		return invalid(name, "need 18 characters")
	}
	if !allDigits(s[:17]) {
		return invalid(name, "need 17 digits before the check character")
	}
	got := s[17]
	if got == 'x' {
		got = 'X'
	}
	if got != CNResidentIDCheck([]byte(s[:17])) {
		return invalid(name, "wrong check character")
	}
	return nil
}
