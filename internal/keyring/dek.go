package keyring

import (
	"crypto/cipher"
	"fmt"

	"github.com/domicile/domicile/internal/suite"
)

// A DEK is a random secret made for one suite, its native suite: the suite
// of the data KEK it was made under. It seals data of that suite with the
// secret itself as the suite's AEAD key, and data of any other suite with
// a key derived from the secret by that suite's KDF (labelDEKSuite). So a
// subject's one DEK serves both suites of a region that migrated: data
// sealed before the migration stays readable, data sealed after uses the
// new suite's algorithms, and destroying the DEK shreds both.
//
// The wrapped plaintext of a DEK is its secret alone when its native suite
// is the wrapping KEK's (every DEK before a migration), and otherwise
//
//	0x02 || uvarint len || native suite id || secret
//
// which no secret alone can be taken for: its length is never a suite's
// AEAD key size.
const (
	dekFormat2    = 0x02
	labelDEKSuite = "domicile dek suite v1 "
)

// encodeDEK returns the plaintext that the KEK of suite wrapper wraps.
func encodeDEK(secret []byte, native, wrapper suite.Suite) []byte {
	if native.ID() == wrapper.ID() {
		return append([]byte(nil), secret...)
	}
	b := make([]byte, 0, 2+len(native.ID())+len(secret))
	b = append(b, dekFormat2)
	b = appendLP(b, []byte(native.ID()))
	return append(b, secret...)
}

// decodeDEK parses the plaintext of a DEK wrapped by a KEK of suite
// wrapper. The returned secret aliases pt.
func decodeDEK(pt []byte, wrapper suite.Suite) (secret []byte, native suite.Suite, err error) {
	if len(pt) == wrapper.AEAD().KeySize() {
		return pt, wrapper, nil
	}
	if len(pt) == 0 || pt[0] != dekFormat2 {
		return nil, suite.Suite{}, fmt.Errorf("subject key of %d bytes", len(pt))
	}
	d := &decoder{b: pt[1:]}
	id := d.bytes(1, maxNameLen)
	if d.err != nil {
		return nil, suite.Suite{}, d.err
	}
	if native, err = suite.ByID(suite.ID(id)); err != nil {
		return nil, suite.Suite{}, err
	}
	if len(d.b) != native.AEAD().KeySize() {
		return nil, suite.Suite{}, fmt.Errorf("subject key of suite %s has %d bytes", native.ID(), len(d.b))
	}
	return d.b, native, nil
}

// dekAEAD returns the cipher of suite s for a DEK secret of suite native.
func dekAEAD(secret []byte, native, s suite.Suite) (cipher.AEAD, error) {
	if native.ID() == s.ID() {
		return s.AEAD().New(secret)
	}
	key, err := s.KDF().Key(secret, nil, labelDEKSuite+string(s.ID()), s.AEAD().KeySize())
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return s.AEAD().New(key)
}

// key returns the cached key d as a SubjectKey that seals with suite s,
// with a cipher of its own.
func (d *dekSecret) key(s suite.Suite) (*SubjectKey, error) {
	a, err := dekAEAD(d.dek, d.native, s)
	if err != nil {
		return nil, err
	}
	return &SubjectKey{AEAD: a, Suite: s.ID(), Version: d.version, ref: d.ref, dek: d.dek, native: d.native}, nil
}
