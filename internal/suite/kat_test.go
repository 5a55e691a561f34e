package suite_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/suite"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestHashKAT checks the suite hashes against published examples.
func TestHashKAT(t *testing.T) {
	tests := []struct {
		name string
		hash suite.Hash
		msg  string
		want string
	}{
		// GB/T 32905-2016, Appendix A, example 1 (A.1): "abc".
		{"ok/SM3 GB/T 32905-2016 A.1", suite.SM3(), "abc",
			"66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0"},
		// GB/T 32905-2016, Appendix A, example 2 (A.2): the 512-bit
		// message "abcd" repeated 16 times.
		{"ok/SM3 GB/T 32905-2016 A.2", suite.SM3(), strings.Repeat("abcd", 16),
			"debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732"},
		// FIPS 180-4 examples (NIST CSRC "SHA256.pdf"): "abc".
		{"ok/SHA-256 FIPS 180-4 abc", suite.SHA256(), "abc",
			"ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			if got := tt.hash.Sum([]byte(tt.msg)); !bytes.Equal(got, want) {
				t.Errorf("Sum = %x, want %x", got, want)
			}
			// The same digest when written byte by byte.
			h := tt.hash.New()
			for i := range len(tt.msg) {
				h.Write([]byte{tt.msg[i]})
			}
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("New().Sum = %x, want %x", got, want)
			}
			if h.Size() != tt.hash.Size() || len(want) != tt.hash.Size() {
				t.Errorf("Size = %d, hash.Size = %d, want %d", h.Size(), tt.hash.Size(), len(want))
			}
		})
	}
}

// TestSM4KAT checks the SM4 block cipher under SM4-GCM against GB/T
// 32907-2016 Appendix A.
func TestSM4KAT(t *testing.T) {
	// GB/T 32907-2016, Appendix A, example 1: key = plaintext.
	key := unhex(t, "01234567 89abcdef fedcba98 76543210")
	want1 := unhex(t, "681edf34 d206965e 86b3e94f 536e4246")
	// GB/T 32907-2016, Appendix A, example 2: the same plaintext
	// encrypted 1,000,000 times with the same key.
	wantMillion := unhex(t, "595298c7 c6fd271f 0402f804 c33d3f66")

	b, err := sm4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	block := append([]byte(nil), key...)
	b.Encrypt(block, block)
	if !bytes.Equal(block, want1) {
		t.Fatalf("one block: got %x, want %x", block, want1)
	}
	b.Decrypt(block, block)
	if !bytes.Equal(block, key) {
		t.Fatalf("decrypt: got %x, want %x", block, key)
	}
	if testing.Short() {
		t.Skip("skipping 1,000,000-iteration example in short mode")
	}
	for range 1_000_000 {
		b.Encrypt(block, block)
	}
	if !bytes.Equal(block, wantMillion) {
		t.Fatalf("1,000,000 iterations: got %x, want %x", block, wantMillion)
	}
}

// TestSM4GCMKAT checks SM4-GCM against RFC 8998 Appendix A.1 (the same
// vector is tcId 1 of Wycheproof's sm4_gcm_test.json).
func TestSM4GCMKAT(t *testing.T) {
	key := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	iv := unhex(t, "00001234567800000000ABCD")
	aad := unhex(t, "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
	pt := unhex(t, "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"+
		"EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
	ct := unhex(t, "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"+
		"D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
	tag := unhex(t, "83DE3541E4C2B58177E065A9BF7B62EC")

	a, err := suite.CNSuite().AEAD().New(key)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), ct...), tag...)
	if got := a.Seal(nil, iv, pt, aad); !bytes.Equal(got, want) {
		t.Fatalf("Seal = %x, want %x", got, want)
	}
	got, err := a.Open(nil, iv, want, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %x, %v; want %x", got, err, pt)
	}
}

// sm2Example is the digital signature example on the recommended curve of
// GM/T 0003.5-2012 Appendix A (carried into GB/T 32918.5-2017 Appendix A):
// message "message digest", user ID "1234567812345678".
var sm2Example = struct {
	msg, uid                string
	d, x, y, za, e, k, r, s string
}{
	msg: "message digest",
	uid: "1234567812345678",
	d:   "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8",
	x:   "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020",
	y:   "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13",
	za:  "B2E14C5C 79C6DF5B 85F4FE7E D8DB7A26 2B9DA7E0 7CCB0EA9 F4747B8C CDA8A4F3",
	e:   "F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640",
	k:   "59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21",
	r:   "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3",
	s:   "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA",
}

// derSig encodes (r, s) as an ASN.1 DER SEQUENCE of two INTEGERs.
func derSig(r, s *big.Int) []byte {
	integer := func(v *big.Int) []byte {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(integer(r), integer(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// TestSM2SignatureKAT verifies the published SM2 signature with the
// published public key and user ID, and recomputes it from the published
// private key and nonce.
func TestSM2SignatureKAT(t *testing.T) {
	ex := sm2Example
	num := func(s string) *big.Int { return new(big.Int).SetBytes(unhex(t, s)) }
	pointBytes := append(append([]byte{4}, unhex(t, ex.x)...), unhex(t, ex.y)...)
	pub, err := sm2.NewPublicKey(pointBytes)
	if err != nil {
		t.Fatal(err)
	}
	r, s := num(ex.r), num(ex.s)
	sig := derSig(r, s)

	// The scheme's SubjectPublicKeyInfo round trip must keep the key.
	spki, err := suite.SM2().MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := suite.SM2().ParsePublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		scheme  suite.Signature
		msg     string
		sig     []byte
		wantErr error
	}{
		{"ok/default ID", suite.SM2(), ex.msg, sig, nil},
		{"ok/explicit ID", suite.SM2WithID([]byte(ex.uid)), ex.msg, sig, nil},
		{"fail/other ID", suite.SM2WithID([]byte("ALICE123@YAHOO.COM")), ex.msg, sig, suite.ErrVerify},
		{"fail/other message", suite.SM2(), ex.msg + ".", sig, suite.ErrVerify},
		{"fail/s+1", suite.SM2(), ex.msg, derSig(r, new(big.Int).Add(s, big.NewInt(1))), suite.ErrVerify},
		{"fail/ECDSA scheme", suite.ECDSAP256(), ex.msg, sig, suite.ErrVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.scheme.Verify(parsed, []byte(tt.msg), tt.sig); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}

	// Deterministic re-check of GB/T 32918.2 clause 6.1 with the
	// example's values: P = [d]G, Z_A, e = SM3(Z_A || M),
	// (x1, y1) = [k]G, r = (e + x1) mod n, s = (1+d)^-1 (k - r d) mod n.
	t.Run("ok/recompute", func(t *testing.T) {
		n := sm2.P256().Params().N
		d, k := num(ex.d), num(ex.k)
		dPriv, err := sm2.NewPrivateKey(d.FillBytes(make([]byte, 32)))
		if err != nil {
			t.Fatal(err)
		}
		if !dPriv.PublicKey.Equal(pub) {
			t.Fatal("[d]G is not the published public key")
		}
		za, err := sm2.CalculateZA(pub, []byte(ex.uid))
		if err != nil || !bytes.Equal(za, unhex(t, ex.za)) {
			t.Fatalf("Z_A = %x, %v; want %s", za, err, ex.za)
		}
		if got := suite.SM3().Sum(append(za, ex.msg...)); !bytes.Equal(got, unhex(t, ex.e)) {
			t.Fatalf("e = %x, want %s", got, ex.e)
		}
		kPriv, err := sm2.NewPrivateKey(k.FillBytes(make([]byte, 32)))
		if err != nil {
			t.Fatal(err)
		}
		kG, err := sm2.PublicKeyToECDH(&kPriv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		x1 := new(big.Int).SetBytes(kG.Bytes()[1:33]) // 04 || x1 || y1
		gotR := new(big.Int).Add(num(ex.e), x1)
		gotR.Mod(gotR, n)
		inv := new(big.Int).ModInverse(new(big.Int).Add(d, big.NewInt(1)), n)
		gotS := new(big.Int).Mul(gotR, d)
		gotS.Sub(k, gotS)
		gotS.Mul(gotS, inv)
		gotS.Mod(gotS, n)
		if gotR.Cmp(r) != 0 || gotS.Cmp(s) != 0 {
			t.Fatalf("(r, s) = (%x, %x), want (%s, %s)", gotR, gotS, ex.r, ex.s)
		}
	})

	// The published private key signs messages that the published public
	// key verifies (the nonce is random, so the signature differs).
	t.Run("ok/sign with published key", func(t *testing.T) {
		priv, err := sm2.NewPrivateKey(unhex(t, ex.d))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := suite.SM2().Sign(nil, priv, []byte(ex.msg))
		if err != nil {
			t.Fatal(err)
		}
		if err := suite.SM2().Verify(pub, []byte(ex.msg), sig); err != nil {
			t.Fatal(err)
		}
	})
}
