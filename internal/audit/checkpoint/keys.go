package checkpoint

import (
	"crypto"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

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
// checkpoint's origin. The keys may be of several signature schemes (a
// region that migrated suite signs with the new suite's from then on);
// each is verified with its own. A checkpoint's tree may be hashed with
// the set's hash or, in a log that changed its hash (a suite migration),
// another one: its alg line names it, and its key hash is computed with it.
type KeySet struct {
	hash   suite.Hash
	keys   []Key
	byName map[string]map[[4]byte]int // origin "\n" hash id → key hash → index in keys
}

// Key is an audit public key with its signature scheme.
type Key struct {
	Public crypto.PublicKey
	Sig    suite.Signature
}

// NewKeySet returns the set of keys, all of signature scheme sig, for
// checkpoints over trees hashed with h.
//
// Errors: when a key is not a key of sig (named by its position, counted
// from 1), or no key is given.
func NewKeySet(sig suite.Signature, h suite.Hash, keys ...crypto.PublicKey) (*KeySet, error) {
	ks := make([]Key, len(keys))
	for i, k := range keys {
		ks[i] = Key{Public: k, Sig: sig}
	}
	return NewKeySetOf(h, ks...)
}

// NewKeySetOf is NewKeySet for keys of their own schemes.
//
// Errors: when a key is not a key of its scheme (named by its position,
// counted from 1), or no key is given.
func NewKeySetOf(h suite.Hash, keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("checkpoint: no audit key given")
	}
	for i, k := range keys {
		if k.Sig == nil {
			return nil, fmt.Errorf("checkpoint: key %d of %d has no signature scheme", i+1, len(keys))
		}
		if _, err := k.Sig.MarshalPublicKey(k.Public); err != nil {
			return nil, fmt.Errorf("checkpoint: key %d of %d: %w", i+1, len(keys), err)
		}
	}
	return &KeySet{hash: h, keys: keys, byName: map[string]map[[4]byte]int{}}, nil
}

// Len is the number of keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// Key returns key i (in the order given to NewKeySet).
func (ks *KeySet) Key(i int) crypto.PublicKey { return ks.keys[i].Public }

// Algs returns the algorithm lines (Alg) of the set's schemes with the
// set's hash, in the order of the keys.
func (ks *KeySet) Algs() []string {
	var out []string
	for _, k := range ks.keys {
		if a := Alg(k.Sig, ks.hash); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// AlgHash returns the hash an alg line names if its scheme is one of the
// set's keys' and its hash a known one, and false otherwise.
func (ks *KeySet) AlgHash(alg string) (suite.Hash, bool) {
	sig, hash, ok := strings.Cut(alg, "/")
	if !ok || !slices.ContainsFunc(ks.keys, func(k Key) bool { return k.Sig.ID() == sig }) {
		return nil, false
	}
	h, err := suite.HashByID(hash)
	return h, err == nil
}

// Hash returns the set's hash: that of the log's tree now.
func (ks *KeySet) Hash() suite.Hash { return ks.hash }

// Fingerprint returns key i's fingerprint under name (see the package
// function Fingerprint) with the set's hash.
func (ks *KeySet) Fingerprint(name string, i int) []byte {
	return ks.FingerprintWith(name, i, ks.hash)
}

// FingerprintWith is Fingerprint with hash h.
func (ks *KeySet) FingerprintWith(name string, i int, h suite.Hash) []byte {
	fp, _ := Fingerprint(name, ks.keys[i].Public, ks.keys[i].Sig, h) // checked by NewKeySetOf
	return fp
}

func (ks *KeySet) index(name string, h suite.Hash) map[[4]byte]int {
	at := name + "\n" + h.ID()
	if m, ok := ks.byName[at]; ok {
		return m
	}
	m := make(map[[4]byte]int, len(ks.keys))
	for i, k := range ks.keys {
		fp, err := Fingerprint(name, k.Public, k.Sig, h)
		if err != nil {
			continue // checked by NewKeySet
		}
		m[[4]byte(fp[:4])] = i
	}
	ks.byName[at] = m
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
	h, ok := ks.AlgHash(s.Alg)
	if !ok {
		return nil, -1, fmt.Errorf("%w: signed with %s, expected %s", ErrVerify, s.Alg, strings.Join(ks.Algs(), " or "))
	}
	m := ks.index(s.Origin, h)
	for _, sg := range s.Sigs {
		if sg.Name != s.Origin {
			continue
		}
		i, ok := m[sg.KeyHash]
		if !ok {
			continue
		}
		c, err := Verify(b, ks.keys[i].Public, ks.keys[i].Sig, h)
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

// KeyFromPEM parses an audit public key served as a PEM PUBLIC KEY block,
// of the scheme alg names (a suite signature id, as the API answers it
// per key version) or, when alg names none, of scheme def.
//
// Errors: no PEM block, or not a key of the scheme.
func KeyFromPEM(text []byte, alg string, def suite.Signature) (Key, error) {
	blk, _ := pem.Decode(text)
	if blk == nil {
		return Key{}, fmt.Errorf("checkpoint: no PEM block")
	}
	sig := def
	if named, err := suite.SignatureByID(alg); err == nil {
		sig = named
	}
	pub, err := sig.ParsePublicKey(blk.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("checkpoint: %s key: %w", sig.ID(), err)
	}
	return Key{Public: pub, Sig: sig}, nil
}
