package suite_test

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"testing"

	"github.com/domicile/domicile/internal/suite"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Each primitive is benchmarked through the suite ("Suite") and directly on
// gmsm or the standard library ("Raw"), as sibling sub-benchmarks:
//
//	go test ./internal/suite -run '^$' -bench . -benchtime=200ms -count=3

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}}

func rawGCM(newBlock func([]byte) (cipher.Block, error)) func([]byte) (cipher.AEAD, error) {
	return func(key []byte) (cipher.AEAD, error) {
		b, err := newBlock(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
}

func BenchmarkAEAD(b *testing.B) {
	for _, c := range []struct {
		a   suite.AEAD
		raw func([]byte) (cipher.AEAD, error)
	}{
		{suite.SM4GCM(), rawGCM(sm4.NewCipher)},
		{suite.AES256GCM(), rawGCM(aes.NewCipher)},
	} {
		key := make([]byte, c.a.KeySize())
		s, err := c.a.New(key)
		if err != nil {
			b.Fatal(err)
		}
		r, err := c.raw(key)
		if err != nil {
			b.Fatal(err)
		}
		impls := []struct {
			name string
			aead cipher.AEAD
		}{{"Suite", s}, {"Raw", r}}
		nonce := make([]byte, suite.NonceSize)
		for _, size := range benchSizes {
			pt := make([]byte, size.n)
			buf := make([]byte, 0, size.n+suite.TagSize)
			ct := s.Seal(nil, nonce, pt, nil)
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/Seal/%s/%s", c.a.ID(), size.name, impl.name), func(b *testing.B) {
					b.SetBytes(int64(size.n))
					for b.Loop() {
						impl.aead.Seal(buf[:0], nonce, pt, nil)
					}
				})
			}
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/Open/%s/%s", c.a.ID(), size.name, impl.name), func(b *testing.B) {
					b.SetBytes(int64(size.n))
					for b.Loop() {
						if _, err := impl.aead.Open(buf[:0], nonce, ct, nil); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkHash(b *testing.B) {
	for _, c := range []struct {
		h   suite.Hash
		raw func([]byte) []byte
	}{
		{suite.SM3(), func(m []byte) []byte { s := sm3.Sum(m); return s[:] }},
		{suite.SHA256(), func(m []byte) []byte { s := sha256.Sum256(m); return s[:] }},
	} {
		for _, size := range benchSizes {
			msg := make([]byte, size.n)
			b.Run(fmt.Sprintf("%s/%s/Suite", c.h.ID(), size.name), func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					c.h.Sum(msg)
				}
			})
			b.Run(fmt.Sprintf("%s/%s/Raw", c.h.ID(), size.name), func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					c.raw(msg)
				}
			})
		}
	}
}

func BenchmarkMAC(b *testing.B) {
	key := make([]byte, 32)
	for _, c := range []struct {
		m   suite.MAC
		raw func() hash.Hash
	}{
		{suite.HMAC(suite.SM3()), sm3.New},
		{suite.HMAC(suite.SHA256()), sha256.New},
	} {
		for _, size := range benchSizes {
			msg := make([]byte, size.n)
			b.Run(fmt.Sprintf("%s/%s/Suite", c.m.ID(), size.name), func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					c.m.Sum(key, msg)
				}
			})
			b.Run(fmt.Sprintf("%s/%s/Raw", c.m.ID(), size.name), func(b *testing.B) {
				b.SetBytes(int64(size.n))
				for b.Loop() {
					h := hmac.New(c.raw, key)
					h.Write(msg)
					h.Sum(nil)
				}
			})
		}
	}
}

func BenchmarkSignature(b *testing.B) {
	msg := make([]byte, 64)
	sm2Key, _ := sm2.GenerateKey(rand.Reader)
	ecKey, _ := suite.ECDSAP256().GenerateKey(rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		s         suite.Signature
		priv      crypto.Signer
		rawSign   func() []byte
		rawVerify func(sig []byte) bool
	}{
		{suite.SM2(), sm2Key,
			func() []byte { sig, _ := sm2Key.SignWithSM2(rand.Reader, nil, msg); return sig },
			func(sig []byte) bool { return sm2.VerifyASN1WithSM2(&sm2Key.PublicKey, nil, msg, sig) }},
		{suite.ECDSAP256(), ecKey,
			func() []byte {
				d := sha256.Sum256(msg)
				sig, _ := ecdsa.SignASN1(rand.Reader, ecKey.(*ecdsa.PrivateKey), d[:])
				return sig
			},
			func(sig []byte) bool {
				d := sha256.Sum256(msg)
				return ecdsa.VerifyASN1(&ecKey.(*ecdsa.PrivateKey).PublicKey, d[:], sig)
			}},
		{suite.Ed25519(), edKey,
			func() []byte { return ed25519.Sign(edKey, msg) },
			func(sig []byte) bool { return ed25519.Verify(edKey.Public().(ed25519.PublicKey), msg, sig) }},
	} {
		sk := c.priv
		sig, err := c.s.Sign(rand.Reader, sk, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.s.ID()+"/Sign/Suite", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.s.Sign(rand.Reader, sk, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.s.ID()+"/Sign/Raw", func(b *testing.B) {
			for b.Loop() {
				c.rawSign()
			}
		})
		b.Run(c.s.ID()+"/Verify/Suite", func(b *testing.B) {
			for b.Loop() {
				if err := c.s.Verify(sk.Public(), msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.s.ID()+"/Verify/Raw", func(b *testing.B) {
			for b.Loop() {
				if !c.rawVerify(sig) {
					b.Fatal("verify failed")
				}
			}
		})
	}
}
