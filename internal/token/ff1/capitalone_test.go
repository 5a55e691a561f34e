// This file cross-checks the package against github.com/capitalone/fpe/ff1
// (FF1 over AES only, radix <= 36), an independent implementation; it is a
// test-only dependency.
package ff1

import (
	"crypto/aes"
	"fmt"
	"math/rand/v2"
	"testing"

	capff1 "github.com/capitalone/fpe/ff1"
)

// TestCapitalOne compares random AES-128/192/256 encryptions and
// decryptions with capitalone/fpe for radices 2 to 36.
func TestCapitalOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for i := range iters {
		key := make([]byte, []int{16, 24, 32}[i%3])
		fill(rng, key)
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		radix := 2 + rng.IntN(35)
		a, err := NewAlphabet(LowerAlphanumeric[:radix])
		if err != nil {
			t.Fatal(err)
		}
		minLen := minLenFor(radix, minDomain)
		n := minLen + rng.IntN(80)
		x := make([]uint16, n)
		for j := range x {
			x[j] = uint16(rng.IntN(radix))
		}
		pt, _ := a.Text(x)
		tweak := make([]byte, rng.IntN(24))
		fill(rng, tweak)

		ours, err := NewString(block, a, tweak)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := capff1.NewCipher(radix, 64, key, tweak)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ours.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := theirs.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("radix %d, n %d, key %d bytes: encrypt differs from capitalone/fpe", radix, n, len(key))
		}
		back, err := theirs.Decrypt(got)
		if err != nil || back != pt {
			t.Fatalf("capitalone/fpe does not decrypt our ciphertext: %v", err)
		}
		if back, err := ours.Decrypt(want); err != nil || back != pt {
			t.Fatalf("we do not decrypt capitalone/fpe's ciphertext: %v", err)
		}
	}
}

// BenchmarkCapitalOne is BenchmarkEncrypt's AES-256 cases run through
// capitalone/fpe, for the ratio.
func BenchmarkCapitalOne(b *testing.B) {
	key := make([]byte, 32)
	for _, n := range []int{10, 16, 18} {
		b.Run(fmt.Sprintf("AES256/digits=%d", n), func(b *testing.B) {
			c, err := capff1.NewCipher(10, 64, key, nil)
			if err != nil {
				b.Fatal(err)
			}
			x := "012345678901234567"[:n]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.EncryptWithTweak(x, []byte("12345678")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
