package checkpoint

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/suite"
)

var when = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func signed(t testing.TB, s suite.Suite) ([]byte, any) {
	t.Helper()
	priv, err := s.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root := s.Hash().Sum([]byte("root"))
	b, err := Sign(Checkpoint{Origin: "domicile.example/" + string(s.ID()), Size: 1024, Root: root, Time: when},
		s.Signature(), s.Hash(), priv, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b, priv.Public()
}

func TestSignVerify(t *testing.T) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(s.ID()), func(t *testing.T) {
			b, pub := signed(t, s)
			c, err := Verify(b, pub, s.Signature(), s.Hash())
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, b)
			}
			if c.Size != 1024 || !c.Time.Equal(when) || c.Alg != Alg(s.Signature(), s.Hash()) {
				t.Fatalf("got %+v", c)
			}
			if !strings.Contains(string(b), "\nalg "+c.Alg+"\n") {
				t.Fatalf("algorithm not named:\n%s", b)
			}
		})
	}
}

func TestWrongAlgorithm(t *testing.T) {
	cn, cnPub := signed(t, suite.CNSuite())
	intl, intlPub := signed(t, suite.IntlSuite())
	for name, err := range map[string]error{
		"fail/cn-as-ecdsa-sha256":   second(Verify(cn, cnPub, suite.ECDSAP256(), suite.SHA256())),
		"fail/cn-with-sha256":       second(Verify(cn, cnPub, suite.SM2(), suite.SHA256())),
		"fail/cn-with-ecdsa":        second(Verify(cn, cnPub, suite.ECDSAP256(), suite.SM3())),
		"fail/intl-as-sm2":          second(Verify(intl, intlPub, suite.SM2(), suite.SM3())),
		"fail/cn-other-key":         second(Verify(cn, second2(signed(t, suite.CNSuite())), suite.SM2(), suite.SM3())),
		"fail/intl-key-for-cn-note": second(Verify(cn, intlPub, suite.SM2(), suite.SM3())),
	} {
		t.Run(name, func(t *testing.T) {
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("err = %v, want ErrVerify", err)
			}
		})
	}
}

func second(_ *Checkpoint, err error) error { return err }
func second2(_ []byte, pub any) any         { return pub }

func TestTamper(t *testing.T) {
	b, pub := signed(t, suite.CNSuite())
	s := suite.CNSuite()
	for i := range b {
		if b[i] == '\n' {
			continue
		}
		c := bytes.Clone(b)
		c[i] ^= 0x01
		if _, err := Verify(c, pub, s.Signature(), s.Hash()); err == nil {
			t.Fatalf("flipping byte %d verified:\n%s", i, c)
		}
	}
}

func TestParseStrict(t *testing.T) {
	b, _ := signed(t, suite.IntlSuite())
	good := string(b)
	for name, in := range map[string]string{
		"fail/no-blank":      strings.Replace(good, "\n\n", "\n", 1),
		"fail/leading-zero":  strings.Replace(good, "\n1024\n", "\n01024\n", 1),
		"fail/crlf":          strings.ReplaceAll(good, "\n", "\r\n"),
		"fail/no-final-nl":   strings.TrimSuffix(good, "\n"),
		"fail/extra-line":    strings.Replace(good, "\n\n", "\nextra\n\n", 1),
		"fail/local-time":    strings.Replace(good, "Z\n", "+00:00\n", 1),
		"fail/hyphen":        strings.Replace(good, "— ", "- ", 1),
		"fail/space-origin":  strings.Replace(good, "domicile.example/intl", "domicile example", 2),
		"fail/trailing-data": good + "x",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); err == nil {
				t.Fatalf("parsed:\n%s", in)
			}
		})
	}
	if _, err := Parse(b); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		b, _ := signed(f, s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		if out := s.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("Marshal(Parse(b)) != b\n%q\n%q", b, out)
		}
	})
}

// TestKeyFromPEM: a served key parses with the scheme its version names,
// or with the default one when the name is unknown; a key of another
// scheme than named, or no PEM at all, is refused.
func TestKeyFromPEM(t *testing.T) {
	sm2, _ := suite.SM2().GenerateKey(rand.Reader)
	ec, _ := suite.ECDSAP256().GenerateKey(rand.Reader)
	pemOf := func(sig suite.Signature, k crypto.Signer) []byte {
		der, err := sig.MarshalPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	for _, tc := range []struct {
		name, alg string
		text      []byte
		want      string // scheme id, "" for an error
	}{
		{"named SM2", "SM2", pemOf(suite.SM2(), sm2), "SM2"},
		{"named ECDSA", "ECDSA-P256", pemOf(suite.ECDSAP256(), ec), "ECDSA-P256"},
		{"unnamed: the default", "", pemOf(suite.ECDSAP256(), ec), "ECDSA-P256"},
		{"named wrongly", "SM2", pemOf(suite.ECDSAP256(), ec), ""},
		{"no PEM", "SM2", []byte("not a key"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := KeyFromPEM(tc.text, tc.alg, suite.ECDSAP256())
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("accepted as %s", k.Sig.ID())
			case tc.want != "" && (err != nil || k.Sig.ID() != tc.want):
				t.Fatalf("KeyFromPEM = %v, %v; want a %s key", k.Sig, err, tc.want)
			}
		})
	}
	if _, err := NewKeySetOf(suite.SM3(), Key{Public: ec.Public(), Sig: suite.SM2()}); err == nil {
		t.Error("NewKeySetOf accepted an ECDSA key as SM2")
	}
}
