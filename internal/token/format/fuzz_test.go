package format

import (
	"errors"
	"testing"

	"github.com/domicile/domicile/internal/token/ff1"
)

// FuzzFormats feeds arbitrary strings to every built-in format: Encrypt and
// Decrypt never panic, fail only with the package's errors, and a value
// that encrypts decrypts back (with the CN check character upper-cased).
func FuzzFormats(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "11010519491231002x", "+8613812345678", "+12025550123",
		"4111111111111111", "1234 5678-9012", "abCD-1234 xyz", "", "+", "+0", "\xff"} {
		f.Add(s, []byte("tweak"))
	}
	var formats []Format
	for _, name := range []string{NameCNResidentID, NameCNResidentIDKeepRegion, NameE164, NamePAN, NamePANKeepBIN, NameDigits, NameAlphanumeric} {
		fm, err := ByName(name)
		if err != nil {
			f.Fatal(err)
		}
		formats = append(formats, fm)
	}
	bs := blocks(f, 7)
	f.Fuzz(func(t *testing.T, s string, tweak []byte) {
		for _, b := range bs {
			for _, fm := range formats {
				c, err := ff1.New(b, fm.Radix(), nil)
				if err != nil {
					t.Fatal(err)
				}
				known := func(err error) bool {
					return errors.Is(err, ErrInvalid) || errors.Is(err, ff1.ErrLength) || errors.Is(err, ff1.ErrTweak)
				}
				if _, err := fm.Decrypt(c, tweak, s); err != nil && !known(err) {
					t.Fatalf("%s: Decrypt: %v", fm.Name(), err)
				}
				token, err := fm.Encrypt(c, tweak, s)
				if err != nil {
					if !known(err) {
						t.Fatalf("%s: Encrypt: %v", fm.Name(), err)
					}
					continue
				}
				back, err := fm.Decrypt(c, tweak, token)
				if err != nil || back != normalised(fm, s) {
					t.Fatalf("%s: round trip failed: %v", fm.Name(), err)
				}
			}
		}
	})
}
