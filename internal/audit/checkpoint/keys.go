package checkpoint

import (
	"crypto"
	"encoding/hex"
	"fmt"

	"github.com/domicile/domicile/internal/suite"
)

// Fingerprint returns the full hash of which KeyHash is the first four
// bytes: H(name || "\n" || alg || "\n" || SubjectPublicKeyInfo DER). The
// audit log names a new audit key by it when the key is introduced, so a
// verifier can tell the key that later checkpoints name by their four-byte
// key hash was the one the log announced.
//
// Errors: when pub is not a key of sig.
func Fingerprint(name string, pub crypto.PublicKey, sig suite.Signature, h suite.Hash) ([]byte, error) {
	der, err := sig.MarshalPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: key hash: %w", err)
	}
	var in []byte
	in = append(in, name...)
	in = append(in, '\n')
	in = append(in, Alg(sig, h)...)
	in = append(in, '\n')
	in = append(in, der...)
	return h.Sum(in), nil
}

// KeySet is the audit keys a region has used over time, oldest first, to
// verify checkpoints signed by any of them: each checkpoint names its key
// by a key hash, and KeySet picks the key with that hash under the
// checkpoint's origin.
type KeySet struct {
	sig    suite.Signature
	hash   suite.Hash
	keys   []crypto.PublicKey
	byName map[string]map[[4]byte]int // origin → key hash → index in keys
}

// NewKeySet returns the set of keys, all of signature scheme sig, for
// checkpoints over trees hashed with h.
//
// Errors: when a key is not a key of sig (named by its position, counted
// from 1), or no key is given.
func NewKeySet(sig suite.Signature, h suite.Hash, keys ...crypto.PublicKey) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("checkpoint: no audit key given")
	}
	for i, k := range keys {
		if _, err := sig.MarshalPublicKey(k); err != nil {
			return nil, fmt.Errorf("checkpoint: key %d of %d: %w", i+1, len(keys), err)
		}
	}
	return &KeySet{sig: sig, hash: h, keys: keys, byName: map[string]map[[4]byte]int{}}, nil
}

// Len is the number of keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// Key returns key i (in the order given to NewKeySet).
func (ks *KeySet) Key(i int) crypto.PublicKey { return ks.keys[i] }

// Signature returns the set's signature scheme.
func (ks *KeySet) Signature() suite.Signature { return ks.sig }

// Hash returns the hash of the trees the set's checkpoints sign.
func (ks *KeySet) Hash() suite.Hash { return ks.hash }

// Fingerprint returns key i's fingerprint under name (see the package
// function Fingerprint).
func (ks *KeySet) Fingerprint(name string, i int) []byte {
	fp, _ := Fingerprint(name, ks.keys[i], ks.sig, ks.hash) // checked by NewKeySet
	return fp
}

func (ks *KeySet) index(name string) map[[4]byte]int {
	if m, ok := ks.byName[name]; ok {
		return m
	}
	m := make(map[[4]byte]int, len(ks.keys))
	for i, k := range ks.keys {
		fp, err := Fingerprint(name, k, ks.sig, ks.hash)
		if err != nil {
			continue // checked by NewKeySet
		}
		m[[4]byte(fp[:4])] = i
	}
	ks.byName[name] = m
	return m
}

// Verify checks that b is a checkpoint signed by one of the set's keys
// (see the package function Verify) and returns it with the index of the
// key that signed it. KeySet is not safe for concurrent use.
//
// Errors: an *Error for malformed text; an error wrapping ErrVerify for a
// wrong algorithm, a key that is not in the set (named by its key hash) or
// a bad signature.
func (ks *KeySet) Verify(b []byte) (*Checkpoint, int, error) {
	s, err := Parse(b)
	if err != nil {
		return nil, -1, err
	}
	m := ks.index(s.Origin)
	for _, sg := range s.Sigs {
		if sg.Name != s.Origin {
			continue
		}
		i, ok := m[sg.KeyHash]
		if !ok {
			continue
		}
		c, err := Verify(b, ks.keys[i], ks.sig, ks.hash)
		return c, i, err
	}
	var hashes []string
	for _, sg := range s.Sigs {
		if sg.Name == s.Origin {
			hashes = append(hashes, hex.EncodeToString(sg.KeyHash[:]))
		}
	}
	if len(hashes) == 0 {
		return nil, -1, fmt.Errorf("%w: it carries no signature under its origin's name", ErrVerify)
	}
	return nil, -1, fmt.Errorf("%w: signed by key %s, which is not among the %d audit key(s) given (fetch the key history with 'domicile audit keys')", ErrVerify, hashes[0], len(ks.keys))
}
