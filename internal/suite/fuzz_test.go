package suite_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/domicile/domicile/internal/suite"
)

// The fuzz targets below must never panic. Their seed corpora are valid
// encodings made at start-up, so they also run as plain tests.

// FuzzParsePrivateKey feeds arbitrary DER to every scheme's
// ParsePrivateKey. A key that parses must re-marshal, re-parse to an equal
// key and sign messages its public key verifies.
func FuzzParsePrivateKey(f *testing.F) {
	schemes := signatureSchemes()
	for _, s := range schemes {
		k, err := s.GenerateKey(rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		der, err := s.MarshalPrivateKey(k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, s := range schemes {
			k, err := s.ParsePrivateKey(der)
			if err != nil {
				continue
			}
			der2, err := s.MarshalPrivateKey(k)
			if err != nil {
				t.Fatalf("%s: parsed key does not marshal: %v", s.ID(), err)
			}
			k2, err := s.ParsePrivateKey(der2)
			if err != nil {
				t.Fatalf("%s: re-marshalled key does not parse: %v", s.ID(), err)
			}
			if der3, _ := s.MarshalPrivateKey(k2); !bytes.Equal(der2, der3) {
				t.Fatalf("%s: encoding is not stable", s.ID())
			}
			sig, err := s.Sign(rand.Reader, k, []byte("m"))
			if err != nil {
				t.Fatalf("%s: parsed key cannot sign: %v", s.ID(), err)
			}
			if err := s.Verify(k.Public(), []byte("m"), sig); err != nil {
				t.Fatalf("%s: parsed key's signature does not verify: %v", s.ID(), err)
			}
		}
	})
}

// FuzzParsePublicKey feeds arbitrary DER to every scheme's ParsePublicKey.
// A key that parses must re-encode to exactly the input (non-malleability).
func FuzzParsePublicKey(f *testing.F) {
	schemes := signatureSchemes()
	for _, s := range schemes {
		k, err := s.GenerateKey(rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		der, err := s.MarshalPublicKey(k.Public())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, s := range schemes {
			pub, err := s.ParsePublicKey(der)
			if err != nil {
				continue
			}
			der2, err := s.MarshalPublicKey(pub)
			if err != nil {
				t.Fatalf("%s: parsed key does not marshal: %v", s.ID(), err)
			}
			if !bytes.Equal(der, der2) {
				t.Fatalf("%s: %x parses but re-encodes as %x", s.ID(), der, der2)
			}
			// Verify with any key that parses must not panic.
			_ = s.Verify(pub, []byte("m"), []byte{0x30, 0})
		}
	})
}

// FuzzVerify feeds arbitrary messages and signatures to every scheme's
// Verify under a fixed key. Only the signed message may verify, and only
// with a strict DER signature (ECDSA, SM2) or the very signature (Ed25519).
func FuzzVerify(f *testing.F) {
	schemes := signatureSchemes()
	msg := []byte("fuzz me")
	type keyed struct {
		s   suite.Signature
		pub any
		sig []byte
	}
	var ks []keyed
	for _, s := range schemes {
		k, err := s.GenerateKey(rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		sig, err := s.Sign(rand.Reader, k, msg)
		if err != nil {
			f.Fatal(err)
		}
		ks = append(ks, keyed{s, k.Public(), sig})
		f.Add(msg, sig)
	}
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, m, sig []byte) {
		for _, k := range ks {
			err := k.s.Verify(k.pub, m, sig)
			if err == nil {
				if !bytes.Equal(m, msg) {
					t.Fatalf("%s: forged signature on %q", k.s.ID(), m)
				}
				if k.s.ID() == "Ed25519" {
					if !bytes.Equal(sig, k.sig) {
						t.Fatalf("Ed25519: second signature %x verifies", sig)
					}
					continue
				}
				var rs struct{ R, S *big.Int }
				rest, perr := asn1.Unmarshal(sig, &rs)
				re, _ := asn1.Marshal(rs)
				if perr != nil || len(rest) != 0 || !bytes.Equal(re, sig) {
					t.Fatalf("%s: non-DER signature %x verifies", k.s.ID(), sig)
				}
			} else if err != suite.ErrVerify {
				t.Fatalf("%s: Verify = %v, want ErrVerify", k.s.ID(), err)
			}
		}
	})
}

// FuzzKeyTransportDecrypt feeds arbitrary ciphertexts to both key-transport
// schemes. Only the seeded ciphertexts may decrypt; every failure is ErrOpen.
func FuzzKeyTransportDecrypt(f *testing.F) {
	msg := []byte("0123456789abcdef0123456789abcdef")
	type keyed struct {
		kt   suite.KeyTransport
		priv crypto.Signer
		ct   []byte
	}
	var ks []keyed
	for _, kt := range []suite.KeyTransport{suite.SM2Encryption(), suite.HPKEP256()} {
		priv, err := kt.GenerateKey(rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		ct, err := kt.Encrypt(rand.Reader, priv.Public(), msg)
		if err != nil {
			f.Fatal(err)
		}
		ks = append(ks, keyed{kt, priv, ct})
		f.Add(ct)
	}
	f.Fuzz(func(t *testing.T, ct []byte) {
		for _, k := range ks {
			pt, err := k.kt.Decrypt(k.priv, ct)
			if err != nil {
				if err != suite.ErrOpen || pt != nil {
					t.Fatalf("%s: Decrypt = %x, %v; want nil, ErrOpen", k.kt.ID(), pt, err)
				}
				continue
			}
			if !bytes.Equal(ct, k.ct) || !bytes.Equal(pt, msg) {
				t.Fatalf("%s: ciphertext %x decrypts to %x", k.kt.ID(), ct, pt)
			}
		}
	})
}

// FuzzAEADOpen feeds arbitrary nonces, ciphertexts and associated data to
// both AEADs. Only the sealed input may open; every failure is ErrOpen.
func FuzzAEADOpen(f *testing.F) {
	pt, ad := []byte("personal data"), []byte("cn-north/customers/42/email")
	nonce := make([]byte, suite.NonceSize)
	type keyed struct {
		name string
		open func(dst, nonce, ct, ad []byte) ([]byte, error)
		ct   []byte
	}
	var ks []keyed
	for _, a := range []suite.AEAD{suite.SM4GCM(), suite.AES256GCM()} {
		aead, err := a.New(make([]byte, a.KeySize()))
		if err != nil {
			f.Fatal(err)
		}
		ct := aead.Seal(nil, nonce, pt, ad)
		ks = append(ks, keyed{a.ID(), aead.Open, ct})
		f.Add(nonce, ct, ad)
	}
	f.Fuzz(func(t *testing.T, n, ct, a []byte) {
		for _, k := range ks {
			out, err := k.open(nil, n, ct, a)
			if err != nil {
				if err != suite.ErrOpen || out != nil {
					t.Fatalf("%s: Open = %x, %v; want nil, ErrOpen", k.name, out, err)
				}
				continue
			}
			if !bytes.Equal(n, nonce) || !bytes.Equal(ct, k.ct) || !bytes.Equal(a, ad) || !bytes.Equal(out, pt) {
				t.Fatalf("%s: forged input opens to %x", k.name, out)
			}
		}
	})
}
