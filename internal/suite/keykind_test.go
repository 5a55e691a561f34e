package suite

import (
	"crypto/rand"
	"strings"
	"testing"
)

// TestWrongKeyNamedInWords: a key of another scheme is refused with an
// error that names both kinds in words, never a Go type.
func TestWrongKeyNamedInWords(t *testing.T) {
	sigs := []Signature{CNSuite().Signature(), IntlSuite().Signature()}
	names := map[string]string{"SM2": "an SM2 key", "ECDSA-P256": "an ECDSA P-256 key"}
	for _, have := range sigs {
		priv, err := have.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := have.MarshalPublicKey(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range sigs {
			if want.ID() == have.ID() {
				continue
			}
			_, err := want.ParsePublicKey(der)
			if err == nil {
				t.Fatalf("%s parsed a %s key", want.ID(), have.ID())
			}
			msg := err.Error()
			if strings.Contains(msg, "*") || !strings.Contains(msg, names[have.ID()]) || !strings.Contains(msg, names[want.ID()]) {
				t.Errorf("%s parsing a %s key: %q does not name both kinds in words", want.ID(), have.ID(), msg)
			}
		}
	}
}
