package format_test

import (
	"crypto/aes"
	"encoding/hex"
	"fmt"

	"github.com/domicile/domicile/internal/token/ff1"
	"github.com/domicile/domicile/internal/token/format"
	"github.com/emmansun/gmsm/sm4"
)

// Example pins tokens for fixed keys and tweak: a change to FF1, to a
// format or to the tweak encoding that would orphan stored tokens fails here.
func Example() {
	aesKey, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	sm4Key, _ := hex.DecodeString("0123456789abcdeffedcba9876543210")
	aesBlock, _ := aes.NewCipher(aesKey)
	sm4Block, _ := sm4.NewCipher(sm4Key)
	tweak := []byte("region=cn-north;field=customers.id")
	for _, tc := range []struct{ name, value string }{
		{format.NameCNResidentID, "11010519491231002X"},
		{format.NameCNResidentIDKeepRegion, "11010519491231002X"},
		{format.NameE164, "+8613812345678"},
		{format.NamePAN, "4111111111111111"},
		{format.NamePANKeepBIN, "4111111111111111"},
		{format.NameDigits, "6222 0200 1234 5678"},
		{format.NameAlphanumeric, "AB12-cd34-EF56"},
	} {
		f, _ := format.ByName(tc.name)
		for _, b := range []struct {
			name string
			c    *ff1.Cipher
		}{{"aes", must(ff1.New(aesBlock, f.Radix(), nil))}, {"sm4", must(ff1.New(sm4Block, f.Radix(), nil))}} {
			token, err := f.Encrypt(b.c, tweak, tc.value)
			if err != nil {
				fmt.Println(err)
				continue
			}
			back, err := f.Decrypt(b.c, tweak, token)
			fmt.Printf("%-26s %s %-20s %-20s %v\n", tc.name, b.name, tc.value, token, err == nil && back == tc.value)
		}
	}
	// Output:
	// cn-resident-id             aes 11010519491231002X   722657390511569230   true
	// cn-resident-id             sm4 11010519491231002X   813005851654982308   true
	// cn-resident-id/keep-region aes 11010519491231002X   110105814659835029   true
	// cn-resident-id/keep-region sm4 11010519491231002X   110105250109862179   true
	// e164                       aes +8613812345678       +8639625664614       true
	// e164                       sm4 +8613812345678       +8601623951915       true
	// pan                        aes 4111111111111111     6221732317181111     true
	// pan                        sm4 4111111111111111     1623319280041111     true
	// pan/keep-bin               aes 4111111111111111     4111110372821111     true
	// pan/keep-bin               sm4 4111111111111111     4111115996381111     true
	// digits                     aes 6222 0200 1234 5678  8328 4709 8993 9980  true
	// digits                     sm4 6222 0200 1234 5678  0513 0334 1857 1650  true
	// alphanumeric               aes AB12-cd34-EF56       dZyM-IGlH-0sJD       true
	// alphanumeric               sm4 AB12-cd34-EF56       wRlu-GfiA-oasz       true
}

func must(c *ff1.Cipher, err error) *ff1.Cipher {
	if err != nil {
		panic(err)
	}
	return c
}
