package keyring

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/domicile/domicile/internal/suite"
)

// TestDEKFormat pins the wrapped plaintext of a DEK (a stored format: it
// is what a data KEK seals) and checks that it round-trips.
func TestDEKFormat(t *testing.T) {
	cn, intl := suite.CNSuite(), suite.IntlSuite()
	s16, s32 := bytes.Repeat([]byte{0xab}, 16), bytes.Repeat([]byte{0xcd}, 32)
	for _, tc := range []struct {
		name            string
		secret          []byte
		native, wrapper suite.Suite
		want            string // hex
	}{
		{"cn under cn: the secret alone", s16, cn, cn, hex.EncodeToString(s16)},
		{"intl under intl: the secret alone", s32, intl, intl, hex.EncodeToString(s32)},
		{"cn under intl", s16, cn, intl, "0202636e" + hex.EncodeToString(s16)},
		{"intl under cn", s32, intl, cn, "0204696e746c" + hex.EncodeToString(s32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := encodeDEK(tc.secret, tc.native, tc.wrapper)
			if got := hex.EncodeToString(pt); got != tc.want {
				t.Fatalf("encodeDEK = %s, want %s", got, tc.want)
			}
			secret, native, err := decodeDEK(pt, tc.wrapper)
			if err != nil || !bytes.Equal(secret, tc.secret) || native.ID() != tc.native.ID() {
				t.Fatalf("decodeDEK = %x, %s, %v", secret, native.ID(), err)
			}
		})
	}
	for _, bad := range []string{"", "00", "0202636e" + hex.EncodeToString(s32), "0203636e6e" + hex.EncodeToString(s16), "02", "0205696e746c"} {
		if _, _, err := decodeDEK(mustHex(t, bad), intl); err == nil {
			t.Errorf("decodeDEK(%s) under intl: no error", bad)
		}
	}
}

// TestDEKSuiteKeys checks that a DEK's cipher for its native suite uses the
// secret as is, and for another suite a derived key: independent of the
// native cipher, the same every time.
func TestDEKSuiteKeys(t *testing.T) {
	cn, intl := suite.CNSuite(), suite.IntlSuite()
	secret := bytes.Repeat([]byte{7}, 32)
	native, _ := dekAEAD(secret, intl, intl)
	direct, _ := intl.AEAD().New(secret)
	derived, err := dekAEAD(secret, intl, cn)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := dekAEAD(secret, intl, cn)
	nonce := make([]byte, 12)
	msg := []byte("a field value")
	if !bytes.Equal(native.Seal(nil, nonce, msg, nil), direct.Seal(nil, nonce, msg, nil)) {
		t.Error("the native cipher is not keyed with the secret")
	}
	ct := derived.Seal(nil, nonce, msg, nil)
	if pt, err := again.Open(nil, nonce, ct, nil); err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("the derived cipher is not deterministic: %v", err)
	}
	if _, err := native.Open(nil, nonce, ct, nil); err == nil {
		t.Error("the native cipher opens what the derived one sealed")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeDEK(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), true)
	f.Add(encodeDEK(bytes.Repeat([]byte{2}, 16), suite.CNSuite(), suite.IntlSuite()), true)
	f.Add(encodeDEK(bytes.Repeat([]byte{3}, 32), suite.IntlSuite(), suite.CNSuite()), false)
	f.Fuzz(func(t *testing.T, in []byte, intlWrapper bool) {
		w := suite.CNSuite()
		if intlWrapper {
			w = suite.IntlSuite()
		}
		secret, native, err := decodeDEK(in, w)
		if err != nil {
			return
		}
		if len(secret) != native.AEAD().KeySize() {
			t.Fatalf("secret of %d bytes for suite %s", len(secret), native.ID())
		}
		if got := encodeDEK(secret, native, w); !bytes.Equal(got, in) {
			t.Fatalf("encode(decode(x)) = %x, want %x", got, in)
		}
	})
}
