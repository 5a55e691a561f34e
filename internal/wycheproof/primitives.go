package wycheproof

import (
	"encoding/json"
	"fmt"

	"github.com/domicile/domicile/internal/suite"
)

// aeadRunner runs aead_test_schema files.
type aeadRunner struct{ a suite.AEAD }

func newAEADRunner(alg string) runner {
	switch alg {
	case "AES-GCM":
		return aeadRunner{suite.AES256GCM()}
	case "SM4-GCM":
		return aeadRunner{suite.SM4GCM()}
	}
	return nil
}

func (r aeadRunner) group(raw json.RawMessage) (*group, error) {
	var g struct {
		IVSize  int `json:"ivSize"`
		KeySize int `json:"keySize"`
		TagSize int `json:"tagSize"`
	}
	cases, err := decodeGroup(raw, &g)
	if err != nil {
		return nil, err
	}
	run := func(tc testCase) outcome {
		var v struct {
			Key, IV, AAD, Msg, CT, Tag hexBytes
		}
		if err := caseFields(tc, &v); err != nil {
			return outcome{wrong: "malformed test case: " + err.Error()}
		}
		if len(v.Key) != r.a.KeySize() || g.TagSize != 8*suite.TagSize {
			return outcome{skipped: true, detail: fmt.Sprintf("%d-bit key, %d-bit tag", 8*len(v.Key), g.TagSize)}
		}
		aead, err := r.a.New(v.Key)
		if err != nil {
			return outcome{wrong: "New: " + err.Error()}
		}
		sealed := append(append([]byte(nil), v.CT...), v.Tag...)
		if len(v.IV) != suite.NonceSize {
			// Our AEADs take only 12-byte nonces; Open must refuse others.
			if _, err := aead.Open(nil, v.IV, sealed, v.AAD); err == nil {
				return outcome{wrong: fmt.Sprintf("Open accepted a %d-byte nonce", len(v.IV))}
			}
			return outcome{skipped: true, detail: fmt.Sprintf("%d-byte nonce", len(v.IV))}
		}
		pt, err := aead.Open(nil, v.IV, sealed, v.AAD)
		if err != nil {
			if err != suite.ErrOpen {
				return outcome{wrong: "Open returned " + err.Error() + ", want ErrOpen"}
			}
			return rejected(err)
		}
		if o := same("plaintext", pt, v.Msg); o.wrong != "" {
			return o
		}
		if tc.Result == "invalid" {
			return outcome{accepted: true}
		}
		return same("ciphertext", aead.Seal(nil, v.IV, v.Msg, v.AAD), sealed)
	}
	return &group{cases: cases, run: run}, nil
}

// macRunner runs mac_test_schema files.
type macRunner struct{ m suite.MAC }

func newMACRunner(alg string) runner {
	switch alg {
	case "HMACSHA256":
		return macRunner{suite.HMAC(suite.SHA256())}
	case "HMACSM3":
		return macRunner{suite.HMAC(suite.SM3())}
	}
	return nil
}

func (r macRunner) group(raw json.RawMessage) (*group, error) {
	var g struct {
		TagSize int `json:"tagSize"`
	}
	cases, err := decodeGroup(raw, &g)
	if err != nil {
		return nil, err
	}
	run := func(tc testCase) outcome {
		var v struct{ Key, Msg, Tag hexBytes }
		if err := caseFields(tc, &v); err != nil {
			return outcome{wrong: "malformed test case: " + err.Error()}
		}
		n := g.TagSize / 8
		if g.TagSize%8 != 0 || n <= 0 || n > r.m.Size() {
			return outcome{skipped: true, detail: fmt.Sprintf("%d-bit tag", g.TagSize)}
		}
		tag := r.m.Sum(v.Key, v.Msg)[:n]
		if !r.m.Equal(tag, v.Tag) {
			return outcome{detail: fmt.Sprintf("tag mismatch: computed %x", tag)}
		}
		return outcome{accepted: true}
	}
	return &group{cases: cases, run: run}, nil
}

// hkdfRunner runs hkdf_test_schema files.
type hkdfRunner struct{ k suite.KDF }

func newHKDFRunner(alg string) runner {
	switch alg {
	case "HKDF-SHA-256":
		return hkdfRunner{suite.HKDF(suite.SHA256())}
	case "HKDF-SM3":
		return hkdfRunner{suite.HKDF(suite.SM3())}
	}
	return nil
}

func (r hkdfRunner) group(raw json.RawMessage) (*group, error) {
	var g struct{}
	cases, err := decodeGroup(raw, &g)
	if err != nil {
		return nil, err
	}
	run := func(tc testCase) outcome {
		var v struct {
			IKM, Salt, Info, OKM hexBytes
			Size                 int
		}
		if err := caseFields(tc, &v); err != nil {
			return outcome{wrong: "malformed test case: " + err.Error()}
		}
		okm, err := r.k.Key(v.IKM, v.Salt, string(v.Info), v.Size)
		if err != nil {
			return rejected(err)
		}
		if tc.Result == "invalid" {
			return outcome{accepted: true}
		}
		return same("okm", okm, v.OKM)
	}
	return &group{cases: cases, run: run}, nil
}

// verifyGroup is the shape shared by the signature verification schemas.
type verifyGroup struct {
	PublicKey struct {
		Curve string `json:"curve"`
	} `json:"publicKey"`
	PublicKeyDer hexBytes `json:"publicKeyDer"`
	Key          struct {
		Curve string `json:"curve"`
	} `json:"key"` // older schema versions
	KeyDer hexBytes `json:"keyDer"` // older schema versions
	SHA    string   `json:"sha"`
}

func (g *verifyGroup) curve() string {
	if g.PublicKey.Curve != "" {
		return g.PublicKey.Curve
	}
	return g.Key.Curve
}

func (g *verifyGroup) der() []byte {
	if g.PublicKeyDer != nil {
		return g.PublicKeyDer
	}
	return g.KeyDer
}

// verifyRun builds the run function of a signature verification group: it
// skips the group unless ok, parses the group's public key with s and
// verifies each case's signature.
func verifyRun(s suite.Signature, g *verifyGroup, ok bool, why string) func(testCase) outcome {
	return func(tc testCase) outcome {
		if !ok {
			return outcome{skipped: true, detail: why}
		}
		var v struct{ Msg, Sig hexBytes }
		if err := caseFields(tc, &v); err != nil {
			return outcome{wrong: "malformed test case: " + err.Error()}
		}
		pub, err := s.ParsePublicKey(g.der())
		if err != nil {
			return rejected(fmt.Errorf("public key: %w", err))
		}
		if err := s.Verify(pub, v.Msg, v.Sig); err != nil {
			if err != suite.ErrVerify {
				return outcome{wrong: "Verify returned " + err.Error() + ", want ErrVerify"}
			}
			return rejected(err)
		}
		return outcome{accepted: true}
	}
}

// ecdsaRunner runs ecdsa_verify_schema files (DER signatures).
type ecdsaRunner struct{}

func (ecdsaRunner) group(raw json.RawMessage) (*group, error) {
	var g verifyGroup
	cases, err := decodeGroup(raw, &g)
	if err != nil {
		return nil, err
	}
	ok := g.curve() == "secp256r1" && g.SHA == "SHA-256"
	why := fmt.Sprintf("curve %s with %s", g.curve(), g.SHA)
	return &group{cases: cases, run: verifyRun(suite.ECDSAP256(), &g, ok, why)}, nil
}

// eddsaRunner runs eddsa_verify_schema files.
type eddsaRunner struct{}

func (eddsaRunner) group(raw json.RawMessage) (*group, error) {
	var g verifyGroup
	cases, err := decodeGroup(raw, &g)
	if err != nil {
		return nil, err
	}
	ok := g.curve() == "edwards25519"
	why := "curve " + g.curve()
	return &group{cases: cases, run: verifyRun(suite.Ed25519(), &g, ok, why)}, nil
}
