package suite_test

import (
	"bytes"
	"testing"

	"github.com/domicile/domicile/internal/suite"
)

// TestBlockKAT checks each suite's raw block cipher against one published
// block: SM4 from GB/T 32907-2016 Appendix A example 1, AES-256 from
// FIPS 197 Appendix C.3.
func TestBlockKAT(t *testing.T) {
	for _, tc := range []struct {
		name          string
		s             suite.Suite
		keySize       int
		key, pt, want string
	}{
		{"cn/SM4", suite.CNSuite(), 16,
			"01234567 89abcdef fedcba98 76543210",
			"01234567 89abcdef fedcba98 76543210",
			"681edf34 d206965e 86b3e94f 536e4246"},
		{"intl/AES-256", suite.IntlSuite(), 32,
			"00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f",
			"00112233 44556677 8899aabb ccddeeff",
			"8ea2b7ca 516745bf eafc4990 4b496089"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.BlockKeySize(); got != tc.keySize {
				t.Fatalf("BlockKeySize = %d, want %d", got, tc.keySize)
			}
			b, err := tc.s.Block(unhex(t, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if b.BlockSize() != 16 {
				t.Fatalf("BlockSize = %d, want 16", b.BlockSize())
			}
			pt, want := unhex(t, tc.pt), unhex(t, tc.want)
			got := make([]byte, 16)
			b.Encrypt(got, pt)
			if !bytes.Equal(got, want) {
				t.Fatalf("Encrypt = %x, want %x", got, want)
			}
			b.Decrypt(got, got)
			if !bytes.Equal(got, pt) {
				t.Fatalf("Decrypt = %x, want %x", got, pt)
			}
			// The block key size is the AEAD's: the same key material
			// drives both.
			if tc.s.BlockKeySize() != tc.s.AEAD().KeySize() {
				t.Fatalf("BlockKeySize %d != AEAD().KeySize() %d", tc.s.BlockKeySize(), tc.s.AEAD().KeySize())
			}
			for _, n := range []int{0, 15, tc.keySize - 1, tc.keySize + 1, 64} {
				if _, err := tc.s.Block(make([]byte, n)); err == nil {
					t.Errorf("Block accepted a %d-byte key", n)
				}
			}
		})
	}
	var zero suite.Suite
	if zero.BlockKeySize() != 0 {
		t.Error("zero Suite has a block key size")
	}
	if _, err := zero.Block(make([]byte, 16)); err == nil {
		t.Error("zero Suite returned a block cipher")
	}
}
