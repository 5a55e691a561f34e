package ff1

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

// benchBlocks are the block ciphers the vault uses: AES-256 for intl
// regions and SM4 for cn regions.
func benchBlocks(b *testing.B) []struct {
	name  string
	block cipher.Block
} {
	a, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	s, err := sm4.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name  string
		block cipher.Block
	}{{"AES256", a}, {"SM4", s}}
}

// BenchmarkEncrypt measures one FF1 encryption of a decimal value (one
// op = one value) with an 8-byte per-call tweak.
func BenchmarkEncrypt(b *testing.B) {
	for _, bc := range benchBlocks(b) {
		for _, n := range []int{10, 16, 18} {
			b.Run(fmt.Sprintf("%s/digits=%d", bc.name, n), func(b *testing.B) {
				c, err := New(bc.block, 10, nil)
				if err != nil {
					b.Fatal(err)
				}
				x := make([]uint16, n)
				for i := range x {
					x[i] = uint16(i % 10)
				}
				tweak := []byte("12345678")
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.EncryptTweak(x, tweak); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecrypt is BenchmarkEncrypt for decryption.
func BenchmarkDecrypt(b *testing.B) {
	for _, bc := range benchBlocks(b) {
		for _, n := range []int{10, 16, 18} {
			b.Run(fmt.Sprintf("%s/digits=%d", bc.name, n), func(b *testing.B) {
				c, err := New(bc.block, 10, nil)
				if err != nil {
					b.Fatal(err)
				}
				x := make([]uint16, n)
				tweak := []byte("12345678")
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.DecryptTweak(x, tweak); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEncryptString includes the alphabet conversions.
func BenchmarkEncryptString(b *testing.B) {
	for _, bc := range benchBlocks(b) {
		b.Run(bc.name+"/digits=16", func(b *testing.B) {
			a, _ := NewAlphabet(Digits)
			c, err := NewString(bc.block, a, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.EncryptTweak("4111111111111111", []byte("12345678")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncryptLong exercises the big.Int path (radix^v >= 2^64).
func BenchmarkEncryptLong(b *testing.B) {
	for _, bc := range benchBlocks(b) {
		b.Run(bc.name+"/digits=64", func(b *testing.B) {
			c, err := New(bc.block, 10, nil)
			if err != nil {
				b.Fatal(err)
			}
			x := make([]uint16, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.EncryptTweak(x, []byte("12345678")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
