package suite_test

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/suite"
)

// mustOpenFail checks that an Open failed with exactly ErrOpen and returned
// nothing.
func mustOpenFail(t *testing.T, what string, out []byte, err error) {
	t.Helper()
	if err != suite.ErrOpen || !errors.Is(err, suite.ErrOpen) {
		t.Fatalf("%s: Open error = %v, want ErrOpen", what, err)
	}
	if out != nil {
		t.Fatalf("%s: Open returned %d bytes with an error", what, len(out))
	}
}

func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAEADConformance is a generic AEAD conformance test in the manner of
// Go's crypto/internal/cryptotest/aead.go, run on every suite's AEAD.
func TestAEADConformance(t *testing.T) {
	for _, a := range []suite.AEAD{suite.CNSuite().AEAD(), suite.IntlSuite().AEAD()} {
		t.Run(a.ID(), func(t *testing.T) { testAEAD(t, a) })
	}
}

func testAEAD(t *testing.T, a suite.AEAD) {
	key := randBytes(t, a.KeySize())
	aead, err := a.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if aead.NonceSize() != suite.NonceSize || aead.Overhead() != suite.TagSize {
		t.Fatalf("NonceSize, Overhead = %d, %d; want %d, %d", aead.NonceSize(), aead.Overhead(), suite.NonceSize, suite.TagSize)
	}
	other, err := a.New(randBytes(t, a.KeySize()))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("fail/key size", func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 24, 31, 32, 33, 64} {
			if n == a.KeySize() {
				continue
			}
			if _, err := a.New(make([]byte, n)); err == nil {
				t.Errorf("New accepted a %d-byte key", n)
			}
		}
	})

	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		for _, adLen := range []int{0, 1, 13, 100} {
			pt, ad, nonce := randBytes(t, n), randBytes(t, adLen), randBytes(t, suite.NonceSize)
			ptCopy, adCopy, nonceCopy := bytes.Clone(pt), bytes.Clone(ad), bytes.Clone(nonce)
			ct := aead.Seal(nil, nonce, pt, ad)
			name := fmt.Sprintf("pt=%d/ad=%d", n, adLen)

			t.Run("ok/roundtrip/"+name, func(t *testing.T) {
				if len(ct) != n+suite.TagSize {
					t.Fatalf("Seal output is %d bytes, want %d", len(ct), n+suite.TagSize)
				}
				if !bytes.Equal(pt, ptCopy) || !bytes.Equal(ad, adCopy) || !bytes.Equal(nonce, nonceCopy) {
					t.Fatal("Seal modified its inputs")
				}
				got, err := aead.Open(nil, nonce, ct, ad)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Open = %x, %v; want %x", got, err, pt)
				}
				// A fresh instance with the same key agrees.
				again, err := a.New(key)
				if err != nil {
					t.Fatal(err)
				}
				if ct2 := again.Seal(nil, nonce, pt, ad); !bytes.Equal(ct2, ct) {
					t.Fatal("Seal is not deterministic for a key and nonce")
				}
			})

			t.Run("fail/tampered ciphertext/"+name, func(t *testing.T) {
				for i := range ct {
					for _, mask := range []byte{0x01, 0x80, 0xff} {
						bad := bytes.Clone(ct)
						bad[i] ^= mask
						out, err := aead.Open(nil, nonce, bad, ad)
						mustOpenFail(t, fmt.Sprintf("byte %d ^ %#x", i, mask), out, err)
					}
				}
				for _, bad := range [][]byte{nil, ct[:len(ct)-1], ct[1:], append(bytes.Clone(ct), 0)} {
					out, err := aead.Open(nil, nonce, bad, ad)
					mustOpenFail(t, fmt.Sprintf("%d-byte ciphertext", len(bad)), out, err)
				}
			})

			t.Run("fail/tampered nonce/"+name, func(t *testing.T) {
				for i := range nonce {
					bad := bytes.Clone(nonce)
					bad[i] ^= 0x01
					out, err := aead.Open(nil, bad, ct, ad)
					mustOpenFail(t, fmt.Sprintf("nonce byte %d", i), out, err)
				}
			})

			t.Run("fail/tampered ad/"+name, func(t *testing.T) {
				for i := range ad {
					bad := bytes.Clone(ad)
					bad[i] ^= 0x01
					out, err := aead.Open(nil, nonce, ct, bad)
					mustOpenFail(t, fmt.Sprintf("ad byte %d", i), out, err)
				}
				out, err := aead.Open(nil, nonce, ct, append(bytes.Clone(ad), 0))
				mustOpenFail(t, "longer ad", out, err)
				if len(ad) > 0 {
					out, err := aead.Open(nil, nonce, ct, ad[:len(ad)-1])
					mustOpenFail(t, "shorter ad", out, err)
				}
			})

			t.Run("fail/wrong key/"+name, func(t *testing.T) {
				out, err := other.Open(nil, nonce, ct, ad)
				mustOpenFail(t, "other key", out, err)
			})

			t.Run("ok/in place/"+name, func(t *testing.T) {
				buf := make([]byte, n, n+suite.TagSize)
				copy(buf, pt)
				sealed := aead.Seal(buf[:0], nonce, buf, ad)
				if !bytes.Equal(sealed, ct) {
					t.Fatal("in-place Seal differs")
				}
				if n > 0 && &sealed[0] != &buf[0] {
					t.Fatal("in-place Seal did not reuse the buffer")
				}
				opened, err := aead.Open(sealed[:0], nonce, sealed, ad)
				if err != nil || !bytes.Equal(opened, pt) {
					t.Fatalf("in-place Open = %x, %v", opened, err)
				}
			})

			t.Run("ok/append to dst/"+name, func(t *testing.T) {
				prefix := []byte("existing dst content")
				for _, extra := range []int{0, 3, 1000} {
					dst := make([]byte, len(prefix), len(prefix)+extra)
					copy(dst, prefix)
					sealed := aead.Seal(dst, nonce, pt, ad)
					if !bytes.Equal(sealed[:len(prefix)], prefix) || !bytes.Equal(sealed[len(prefix):], ct) {
						t.Fatalf("Seal with cap %d: dst not appended to", cap(dst))
					}
					dst = make([]byte, len(prefix), len(prefix)+extra)
					copy(dst, prefix)
					opened, err := aead.Open(dst, nonce, ct, ad)
					if err != nil || !bytes.Equal(opened[:len(prefix)], prefix) || !bytes.Equal(opened[len(prefix):], pt) {
						t.Fatalf("Open with cap %d: dst not appended to (%v)", cap(dst), err)
					}
				}
			})
		}
	}

	t.Run("fail/nonce size", func(t *testing.T) {
		ct := aead.Seal(nil, make([]byte, suite.NonceSize), []byte("x"), nil)
		for _, n := range []int{0, 1, 8, 11, 13, 16, 32} {
			out, err := aead.Open(nil, make([]byte, n), ct, nil)
			mustOpenFail(t, fmt.Sprintf("%d-byte nonce", n), out, err)
			// Seal panics on a wrong nonce size, as every cipher.AEAD does.
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Seal accepted a %d-byte nonce", n)
					}
				}()
				aead.Seal(nil, make([]byte, n), []byte("x"), nil)
			}()
		}
	})
}

// TestMACAndKDF checks HMAC and HKDF of both suites, SM3 in particular.
func TestMACAndKDF(t *testing.T) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			mac, kdf, size := s.MAC(), s.KDF(), s.Hash().Size()
			key, msg := randBytes(t, 32), randBytes(t, 1000)

			t.Run("ok/mac streaming", func(t *testing.T) {
				tag := mac.Sum(key, msg)
				if len(tag) != size || mac.Size() != size {
					t.Fatalf("tag is %d bytes, Size %d, want %d", len(tag), mac.Size(), size)
				}
				h := mac.New(key)
				for i := 0; i < len(msg); i += 7 {
					h.Write(msg[i:min(i+7, len(msg))])
				}
				if !mac.Equal(h.Sum(nil), tag) {
					t.Fatal("streamed tag differs")
				}
				h.Reset()
				h.Write(msg)
				if !mac.Equal(h.Sum(nil), tag) {
					t.Fatal("tag after Reset differs")
				}
			})
			t.Run("fail/mac other key", func(t *testing.T) {
				if mac.Equal(mac.Sum(randBytes(t, 32), msg), mac.Sum(key, msg)) {
					t.Fatal("tags under different keys are equal")
				}
			})
			t.Run("fail/mac truncated", func(t *testing.T) {
				tag := mac.Sum(key, msg)
				if mac.Equal(tag[:size-1], tag) || mac.Equal(nil, tag) {
					t.Fatal("Equal accepted a truncated tag")
				}
			})
			t.Run("ok/mac by id", func(t *testing.T) {
				m, err := suite.MACByID(mac.ID())
				if err != nil || !bytes.Equal(m.Sum(key, msg), mac.Sum(key, msg)) {
					t.Fatalf("MACByID(%q) = %v, %v", mac.ID(), m, err)
				}
			})

			t.Run("ok/hkdf", func(t *testing.T) {
				salt := randBytes(t, 16)
				okm, err := kdf.Key(key, salt, "info", 42)
				if err != nil || len(okm) != 42 {
					t.Fatalf("Key = %x, %v", okm, err)
				}
				prk, err := kdf.Extract(key, salt)
				if err != nil || len(prk) != size {
					t.Fatalf("Extract = %x, %v", prk, err)
				}
				// RFC 5869 section 2.2: PRK = HMAC-Hash(salt, IKM).
				if !bytes.Equal(prk, mac.Sum(salt, key)) {
					t.Fatal("PRK is not HMAC(salt, IKM)")
				}
				okm2, err := kdf.Expand(prk, "info", 42)
				if err != nil || !bytes.Equal(okm2, okm) {
					t.Fatalf("Expand(Extract) = %x, %v; want %x", okm2, err, okm)
				}
				// RFC 5869 section 2.3: T(1) = HMAC-Hash(PRK, info | 0x01).
				if t1 := mac.Sum(prk, []byte("info\x01")); !bytes.Equal(okm[:size], t1) {
					t.Fatal("first block of OKM is not T(1)")
				}
				other, _ := kdf.Key(key, salt, "other info", 42)
				if bytes.Equal(other, okm) {
					t.Fatal("different info gave the same key")
				}
				if max, err := kdf.Expand(prk, "", 255*size); err != nil || len(max) != 255*size {
					t.Fatalf("Expand of 255*HashLen bytes: %v", err)
				}
			})
			t.Run("fail/hkdf too long", func(t *testing.T) {
				if _, err := kdf.Key(key, nil, "", 255*size+1); err == nil {
					t.Fatal("Key accepted a length over 255*HashLen")
				}
			})
		})
	}
}

// signatureSchemes are every signature scheme the suites use.
func signatureSchemes() []suite.Signature {
	return []suite.Signature{suite.SM2(), suite.ECDSAP256(), suite.Ed25519(), suite.SM2WithID([]byte("alice@example.com"))}
}

func schemeName(s suite.Signature, i int) string { return fmt.Sprintf("%d-%s", i, s.ID()) }

// TestSignatures checks sign, verify, tampering, wrong keys and wrong
// schemes for every signature scheme.
func TestSignatures(t *testing.T) {
	schemes := signatureSchemes()
	keys := make([]crypto.Signer, len(schemes))
	for i, s := range schemes {
		k, err := s.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	msg := []byte("domicile audit checkpoint 42")
	for i, s := range schemes {
		t.Run(schemeName(s, i), func(t *testing.T) {
			priv := keys[i]
			sig, err := s.Sign(rand.Reader, priv, msg)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("ok/verify", func(t *testing.T) {
				if err := s.Verify(priv.Public(), msg, sig); err != nil {
					t.Fatal(err)
				}
				if err := s.Verify(priv.Public(), nil, mustSign(t, s, priv, nil)); err != nil {
					t.Fatalf("empty message: %v", err)
				}
			})
			t.Run("fail/tampered message", func(t *testing.T) {
				for i := range msg {
					bad := bytes.Clone(msg)
					bad[i] ^= 1
					mustVerifyFail(t, s.Verify(priv.Public(), bad, sig))
				}
				mustVerifyFail(t, s.Verify(priv.Public(), msg[1:], sig))
			})
			t.Run("fail/tampered signature", func(t *testing.T) {
				for i := range sig {
					bad := bytes.Clone(sig)
					bad[i] ^= 1
					mustVerifyFail(t, s.Verify(priv.Public(), msg, bad))
				}
				for _, bad := range [][]byte{nil, sig[:len(sig)-1], append(bytes.Clone(sig), 0)} {
					mustVerifyFail(t, s.Verify(priv.Public(), msg, bad))
				}
			})
			t.Run("fail/wrong key", func(t *testing.T) {
				other, err := s.GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				mustVerifyFail(t, s.Verify(other.Public(), msg, sig))
				mustVerifyFail(t, s.Verify(nil, msg, sig))
			})
			t.Run("fail/wrong scheme", func(t *testing.T) {
				for j, o := range schemes {
					if j == i {
						continue
					}
					// The other scheme must reject this scheme's signature,
					// whether it is given this key or its own.
					mustVerifyFail(t, o.Verify(priv.Public(), msg, sig))
					mustVerifyFail(t, o.Verify(keys[j].Public(), msg, sig))
					if o.ID() != s.ID() {
						if _, err := o.Sign(rand.Reader, priv, msg); err == nil {
							t.Errorf("%s signed with a %s key", o.ID(), s.ID())
						}
						if _, err := o.MarshalPrivateKey(priv); err == nil {
							t.Errorf("%s marshalled a %s private key", o.ID(), s.ID())
						}
						if _, err := o.MarshalPublicKey(priv.Public()); err == nil {
							t.Errorf("%s marshalled a %s public key", o.ID(), s.ID())
						}
						der, _ := s.MarshalPrivateKey(priv)
						if _, err := o.ParsePrivateKey(der); err == nil {
							t.Errorf("%s parsed a %s private key", o.ID(), s.ID())
						}
						der, _ = s.MarshalPublicKey(priv.Public())
						if _, err := o.ParsePublicKey(der); err == nil {
							t.Errorf("%s parsed a %s public key", o.ID(), s.ID())
						}
					}
				}
			})
			t.Run("ok/key encoding", func(t *testing.T) {
				der, err := s.MarshalPrivateKey(priv)
				if err != nil {
					t.Fatal(err)
				}
				priv2, err := s.ParsePrivateKey(der)
				if err != nil {
					t.Fatal(err)
				}
				der2, _ := s.MarshalPrivateKey(priv2)
				if !bytes.Equal(der, der2) {
					t.Fatal("private key does not re-encode to the same bytes")
				}
				pubDER, err := s.MarshalPublicKey(priv.Public())
				if err != nil {
					t.Fatal(err)
				}
				pub, err := s.ParsePublicKey(pubDER)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Verify(pub, msg, mustSign(t, s, priv2, msg)); err != nil {
					t.Fatalf("round-tripped keys: %v", err)
				}
			})
			t.Run("fail/key encoding", func(t *testing.T) {
				for _, der := range [][]byte{nil, {0x30, 0x00}, []byte("not DER")} {
					if _, err := s.ParsePrivateKey(der); err == nil {
						t.Errorf("ParsePrivateKey(%x) succeeded", der)
					}
					if _, err := s.ParsePublicKey(der); err == nil {
						t.Errorf("ParsePublicKey(%x) succeeded", der)
					}
				}
			})
		})
	}

	t.Run("fail/SM2 user ID", func(t *testing.T) {
		priv, err := suite.SM2().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		alice, bob := suite.SM2WithID([]byte("alice")), suite.SM2WithID([]byte("bob"))
		sig := mustSign(t, alice, priv, msg)
		mustVerifyFail(t, bob.Verify(priv.Public(), msg, sig))
		mustVerifyFail(t, suite.SM2().Verify(priv.Public(), msg, sig))
		mustVerifyFail(t, alice.Verify(priv.Public(), msg, mustSign(t, suite.SM2(), priv, msg)))
	})
	t.Run("ok/SM2 default ID", func(t *testing.T) {
		priv, err := suite.SM2().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		// An explicit default ID and an empty ID both mean the default ID.
		for _, uid := range [][]byte{[]byte(suite.DefaultSM2ID), nil} {
			if err := suite.SM2WithID(uid).Verify(priv.Public(), msg, mustSign(t, suite.SM2(), priv, msg)); err != nil {
				t.Errorf("SM2WithID(%q): %v", uid, err)
			}
		}
	})
	t.Run("ok/SM2WithID copies the ID", func(t *testing.T) {
		uid := []byte("carol")
		s := suite.SM2WithID(uid)
		priv, _ := s.GenerateKey(rand.Reader)
		sig := mustSign(t, s, priv, msg)
		uid[0] = 'k'
		if err := s.Verify(priv.Public(), msg, sig); err != nil {
			t.Fatal("changing the caller's slice changed the scheme's ID")
		}
	})
}

func mustSign(t *testing.T, s suite.Signature, priv crypto.Signer, msg []byte) []byte {
	t.Helper()
	sig, err := s.Sign(rand.Reader, priv, msg)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func mustVerifyFail(t *testing.T, err error) {
	t.Helper()
	if err != suite.ErrVerify {
		t.Fatalf("Verify = %v, want ErrVerify", err)
	}
}

// TestKeyTransport checks round trips, tampering and wrong keys for both
// key-transport schemes.
func TestKeyTransport(t *testing.T) {
	for _, kt := range []suite.KeyTransport{suite.CNSuite().KeyTransport(), suite.IntlSuite().KeyTransport()} {
		t.Run(kt.ID(), func(t *testing.T) {
			priv, err := kt.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			other, err := kt.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 16, 32, 100} {
				msg := randBytes(t, n)
				ct, err := kt.Encrypt(rand.Reader, priv.Public(), msg)
				if err != nil {
					t.Fatal(err)
				}
				t.Run(fmt.Sprintf("ok/roundtrip/%d", n), func(t *testing.T) {
					pt, err := kt.Decrypt(priv, ct)
					if err != nil || !bytes.Equal(pt, msg) {
						t.Fatalf("Decrypt = %x, %v; want %x", pt, err, msg)
					}
					ct2, _ := kt.Encrypt(rand.Reader, priv.Public(), msg)
					if bytes.Equal(ct, ct2) {
						t.Fatal("Encrypt is deterministic")
					}
				})
				t.Run(fmt.Sprintf("fail/tampered/%d", n), func(t *testing.T) {
					for i := range ct {
						bad := bytes.Clone(ct)
						bad[i] ^= 0x01
						pt, err := kt.Decrypt(priv, bad)
						mustOpenFail(t, fmt.Sprintf("byte %d", i), pt, err)
					}
					for _, bad := range [][]byte{nil, ct[:len(ct)-1], append(bytes.Clone(ct), 0)} {
						pt, err := kt.Decrypt(priv, bad)
						mustOpenFail(t, fmt.Sprintf("%d-byte ciphertext", len(bad)), pt, err)
					}
				})
				t.Run(fmt.Sprintf("fail/wrong key/%d", n), func(t *testing.T) {
					pt, err := kt.Decrypt(other, ct)
					mustOpenFail(t, "other key", pt, err)
					for _, s := range signatureSchemes() {
						k, _ := s.GenerateKey(rand.Reader)
						pt, err := kt.Decrypt(k, ct)
						mustOpenFail(t, s.ID()+" key", pt, err)
					}
					pt, err = kt.Decrypt(nil, ct)
					mustOpenFail(t, "nil key", pt, err)
				})
			}
			t.Run("fail/wrong public key", func(t *testing.T) {
				for _, s := range signatureSchemes() {
					k, _ := s.GenerateKey(rand.Reader)
					if _, err := kt.Encrypt(rand.Reader, k.Public(), []byte("x")); err == nil && s.ID() != kt.ID() {
						if (kt.ID() == "SM2-ENC") != (s.ID() == "SM2") {
							t.Errorf("Encrypt accepted a %s key", s.ID())
						}
					}
				}
				if _, err := kt.Encrypt(rand.Reader, nil, []byte("x")); err == nil {
					t.Error("Encrypt accepted a nil key")
				}
			})
		})
	}
}

// Compile-time check that the suite AEADs are crypto/cipher AEADs.
var _ = func(a suite.AEAD) (cipher.AEAD, error) { return a.New(nil) }
