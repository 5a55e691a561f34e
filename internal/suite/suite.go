// Package suite defines the cryptographic suites of Domicile.
//
// A suite bundles the primitives one region is mandated to use: an AEAD, a
// hash with its HMAC and HKDF, a signature scheme and a key-transport scheme.
// Everything else in Domicile is written against a Suite and never names an
// algorithm. Each primitive is a small interface with an exported ID and an
// unexported method, so only this package can build one; suites are chosen
// with the named constructors or with the single ByID switch.
package suite

import (
	"errors"
	"fmt"
)

// ID names a suite in policy files, envelopes and the API.
type ID string

// The suites Domicile knows.
const (
	// CN is the Chinese national suite: SM4-GCM, SM3, HMAC-SM3, HKDF-SM3,
	// SM2 signatures (default user ID) and SM2 public-key encryption.
	CN ID = "cn"
	// Intl is the international suite: AES-256-GCM, SHA-256, HMAC-SHA256,
	// HKDF-SHA256, ECDSA P-256 with SHA-256 and HPKE (DHKEM P-256).
	Intl ID = "intl"
)

// ErrOpen is returned by every failed AEAD open and key-transport decrypt. It
// never says whether the key, the nonce, the associated data or the tag was
// wrong.
var ErrOpen = errors.New("suite: message authentication failed")

// ErrVerify is returned by every failed signature verification.
var ErrVerify = errors.New("suite: invalid signature")

// ErrUnknown is wrapped by the ByID functions when an identifier names no
// supported suite or algorithm.
var ErrUnknown = errors.New("suite: unknown algorithm")

// Suite is the set of primitives of one region. The zero value is not
// usable; use CNSuite, IntlSuite or ByID.
type Suite struct {
	id   ID
	aead AEAD
	hash Hash
	sig  Signature
	kt   KeyTransport
}

// CNSuite returns the `cn` suite.
func CNSuite() Suite {
	return Suite{id: CN, aead: SM4GCM(), hash: SM3(), sig: SM2(), kt: SM2Encryption()}
}

// IntlSuite returns the `intl` suite.
func IntlSuite() Suite {
	return Suite{id: Intl, aead: AES256GCM(), hash: SHA256(), sig: ECDSAP256(), kt: HPKEP256()}
}

// ByID returns the suite named id.
func ByID(id ID) (Suite, error) {
	switch id {
	case CN:
		return CNSuite(), nil
	case Intl:
		return IntlSuite(), nil
	}
	return Suite{}, fmt.Errorf("suite %q: %w (known: cn, intl)", string(id), ErrUnknown)
}

// ID returns the suite's identifier.
func (s Suite) ID() ID { return s.id }

// AEAD returns the suite's authenticated cipher.
func (s Suite) AEAD() AEAD { return s.aead }

// Hash returns the suite's hash function.
func (s Suite) Hash() Hash { return s.hash }

// MAC returns HMAC over the suite's hash.
func (s Suite) MAC() MAC { return HMAC(s.hash) }

// KDF returns HKDF over the suite's hash.
func (s Suite) KDF() KDF { return HKDF(s.hash) }

// Signature returns the suite's signature scheme.
func (s Suite) Signature() Signature { return s.sig }

// KeyTransport returns the suite's public-key encryption for key transport.
func (s Suite) KeyTransport() KeyTransport { return s.kt }

// Algorithms lists the suite's algorithm identifiers by role, for display.
func (s Suite) Algorithms() map[string]string {
	return map[string]string{
		"aead":          s.aead.ID(),
		"hash":          s.hash.ID(),
		"mac":           s.MAC().ID(),
		"kdf":           s.KDF().ID(),
		"signature":     s.sig.ID(),
		"key_transport": s.kt.ID(),
	}
}
