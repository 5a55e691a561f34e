package ff1

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

// fuzzBlocks returns one AES-256 and one SM4 block with fixed keys.
func fuzzBlocks(f *testing.F) [2]cipher.Block {
	a, err := aes.NewCipher([]byte("fuzz key for ff1 over aes-256!!!"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := sm4.NewCipher([]byte("fuzz key for sm4"))
	if err != nil {
		f.Fatal(err)
	}
	return [2]cipher.Block{a, s}
}

// numeralsFrom reads the fuzzer's bytes as big-endian uint16 numerals,
// reduced modulo radix, so that most inputs are valid.
func numeralsFrom(data []byte, radix int) []uint16 {
	x := make([]uint16, len(data)/2)
	for i := range x {
		x[i] = uint16(int(binary.BigEndian.Uint16(data[2*i:])) % radix)
	}
	return x
}

// FuzzRoundTrip checks Decrypt(Encrypt(x)) == x and that the slow reference
// agrees with the package, for any radix, numerals and tweak.
func FuzzRoundTrip(f *testing.F) {
	blocks := fuzzBlocks(f)
	f.Add(uint16(10), false, []byte("\x00\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06"), []byte{})
	f.Add(uint16(36), true, []byte("0123456789abcdefghijklmnop"), []byte("tweak"))
	f.Add(uint16(0xFFFF), false, []byte("\xff\xff\xff\xfe"), []byte("t"))
	f.Add(uint16(1), true, make([]byte, 80), []byte("radix 2, 40 numerals"))
	f.Fuzz(func(t *testing.T, r uint16, useSM4 bool, data, tweak []byte) {
		radix := int(r) + 1 // 1..65536; 1 is rejected by New
		block := blocks[0]
		if useSM4 {
			block = blocks[1]
		}
		c, err := New(block, radix, nil, WithMaxLen(512))
		if err != nil {
			if !errors.Is(err, ErrRadix) {
				t.Fatalf("New: %v", err)
			}
			return
		}
		x := numeralsFrom(data, radix)
		ct, err := c.EncryptTweak(x, tweak)
		if err != nil {
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrTweak) {
				t.Fatalf("Encrypt: %v", err)
			}
			return
		}
		pt, err := c.DecryptTweak(ct, tweak)
		if err != nil || !slices.Equal(pt, x) {
			t.Fatalf("round trip failed: %v", err)
		}
		if len(x) <= 64 {
			if want := refFF1(block, radix, tweak, toInts(x), false); !slices.Equal(toInts(ct), want) {
				t.Fatal("differs from the reference")
			}
		}
	})
}

// FuzzValidation feeds raw numerals (not reduced) and arbitrary radices and
// tweaks: Encrypt and Decrypt must return a result or one of the package's
// errors, never panic, and the string helpers likewise.
func FuzzValidation(f *testing.F) {
	blocks := fuzzBlocks(f)
	f.Add(10, []byte("\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), []byte{}, "12345x")
	f.Add(-1, []byte{}, []byte("t"), "")
	f.Add(65537, []byte("\xff\xff\xff\xff"), []byte{}, "零一二")
	f.Fuzz(func(t *testing.T, radix int, data, tweak []byte, s string) {
		for _, block := range blocks {
			c, err := New(block, radix, tweak, WithMaxLen(512), WithMaxTweakLen(64))
			if err != nil {
				if !errors.Is(err, ErrRadix) && !errors.Is(err, ErrTweak) {
					t.Fatalf("New: %v", err)
				}
				return
			}
			x := make([]uint16, len(data)/2)
			for i := range x {
				x[i] = binary.BigEndian.Uint16(data[2*i:])
			}
			check := c.Check(x)
			for _, op := range []func([]uint16) ([]uint16, error){c.Encrypt, c.Decrypt} {
				out, err := op(x)
				if (err == nil) != (check == nil) {
					t.Fatalf("Check = %v but operation err = %v", check, err)
				}
				if err != nil {
					if !errors.Is(err, ErrLength) && !errors.Is(err, ErrNumeral) {
						t.Fatalf("unexpected error: %v", err)
					}
					continue
				}
				if len(out) != len(x) {
					t.Fatal("length changed")
				}
			}
			if radix <= len(Alphanumeric) {
				a, err := NewAlphabet(Alphanumeric[:radix])
				if err != nil {
					t.Fatal(err)
				}
				sc, err := NewString(block, a, tweak, WithMaxLen(512), WithMaxTweakLen(64))
				if err != nil {
					t.Fatal(err)
				}
				if ct, err := sc.Encrypt(s); err == nil {
					if pt, err := sc.Decrypt(ct); err != nil || pt != s {
						t.Fatalf("string round trip failed: %v", err)
					}
				} else if !errors.Is(err, ErrLength) && !errors.Is(err, ErrAlphabet) {
					t.Fatalf("unexpected error: %v", err)
				}
			}
		}
	})
}
