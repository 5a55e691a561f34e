package vault

import (
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
)

func writeStr(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}

// idemHash names an idempotency entry; keys are chosen by callers and are
// not personal data.
func idemHash(scope, key string) []byte {
	h := sha256.New()
	writeStr(h, scope)
	writeStr(h, key)
	return h.Sum(nil)
}

// idemMAC keys a request fingerprint with the region's idempotency key.
func (v *Vault) idemMAC(fp []byte) ([]byte, error) {
	key, err := v.keys.DeriveKey(keyring.Index, 1, "idempotency fingerprint", 32)
	if err != nil {
		return nil, fmt.Errorf("vault: idempotency key: %w", err)
	}
	return v.keys.Suite().MAC().Sum(key, fp), nil
}

// idemSealVersion marks an idempotency entry whose outcome is sealed: the
// first byte of an entry written before (ids only, in clear) is the
// fingerprint's length, never 0.
const idemSealVersion = 0

// idemAEAD returns the cipher that seals idempotency outcomes: a key
// derived from the region's index KEK version 1 with its own label, like
// the fingerprint's.
func (v *Vault) idemAEAD() (cipher.AEAD, error) {
	key, err := v.keys.DeriveKey(keyring.Index, 1, "idempotency outcome", v.keys.Suite().AEAD().KeySize())
	if err != nil {
		return nil, fmt.Errorf("vault: idempotency key: %w", err)
	}
	defer clear(key)
	return v.keys.Suite().AEAD().New(key)
}

func (v *Vault) idemBinding(ik []byte) envelope.Binding {
	return envelope.Binding{Region: v.region.Name, Collection: "_idempotency", Record: string(ik), Field: "outcome"}
}

// encodeIdem stores the request fingerprint (a keyed MAC) and the outcome:
// the created ids with their tokens, sealed under the region's key, since
// deterministic and fpe tokens are pseudonyms of personal values.
//
//	0x00, uvarint len(fp), fp, envelope of:
//	  per record: lp id, uvarint n, n times (lp field, lp token, lp kind, uvarint key version)
func (v *Vault) encodeIdem(fp, ik []byte, out []Created) ([]byte, error) {
	var pt []byte
	for _, c := range out {
		pt = appendLP(pt, c.ID)
		pt = binary.AppendUvarint(pt, uint64(len(c.Tokens)))
		for _, t := range c.Tokens {
			pt = appendLP(pt, t.Field)
			pt = appendLP(pt, t.Token)
			pt = appendLP(pt, t.Kind)
			pt = binary.AppendUvarint(pt, uint64(t.KeyVersion))
		}
	}
	a, err := v.idemAEAD()
	if err != nil {
		return nil, err
	}
	env, err := envelope.Seal(a, v.rand, v.suite, 1, v.idemBinding(ik), pt)
	if err != nil {
		return nil, fmt.Errorf("vault: sealing the idempotency outcome: %w", err)
	}
	b := []byte{idemSealVersion}
	b = binary.AppendUvarint(b, uint64(len(fp)))
	b = append(b, fp...)
	return append(b, env...), nil
}

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readLP reads one length-prefixed item.
func readLP(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// replay returns the outcome recorded under an idempotency key, or
// CodeIdempotencyReused when the key was used for other records, or errRetry
// when the entry is not there (the conflict was on something else). An
// entry written before outcomes were sealed holds the ids only: its replay
// has no tokens.
func (v *Vault) replay(ctx context.Context, key, fp []byte) ([]Created, error) {
	b, err := v.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	sealed := len(b) > 0 && b[0] == idemSealVersion
	if sealed {
		b = b[1:]
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, errorf(CodeIntegrity, "idempotency entry is corrupt")
	}
	if subtle.ConstantTimeCompare(b[k:k+int(n)], fp) != 1 {
		return nil, errorf(CodeIdempotencyReused, "idempotency key was used for a different request")
	}
	b = b[k+int(n):]
	if sealed {
		return v.openIdem(key, b)
	}
	var out []Created
	for len(b) > 0 {
		id, rest, ok := readLP(b)
		if !ok {
			return nil, errorf(CodeIntegrity, "idempotency entry is corrupt")
		}
		out = append(out, Created{ID: id, Region: v.region.Name, Replayed: true})
		b = rest
	}
	return out, nil
}

// openIdem opens a sealed outcome.
func (v *Vault) openIdem(key, env []byte) ([]Created, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil {
		return nil, &Error{Code: CodeIntegrity, Msg: "idempotency entry is corrupt", Index: -1, Err: err}
	}
	a, err := v.idemAEAD()
	if err != nil {
		return nil, err
	}
	b, err := envelope.Open(a, h, ct, v.idemBinding(key))
	if err != nil {
		return nil, &Error{Code: CodeIntegrity, Msg: "idempotency entry failed to authenticate", Index: -1, Err: err}
	}
	bad := errorf(CodeIntegrity, "idempotency entry is corrupt")
	var out []Created
	for len(b) > 0 {
		c := Created{Region: v.region.Name, Replayed: true}
		var ok bool
		if c.ID, b, ok = readLP(b); !ok {
			return nil, bad
		}
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)) {
			return nil, bad
		}
		b = b[k:]
		for range n {
			var t Token
			if t.Field, b, ok = readLP(b); !ok {
				return nil, bad
			}
			if t.Token, b, ok = readLP(b); !ok {
				return nil, bad
			}
			if t.Kind, b, ok = readLP(b); !ok {
				return nil, bad
			}
			ver, k := binary.Uvarint(b)
			if k <= 0 || ver > 1<<32-1 {
				return nil, bad
			}
			t.KeyVersion, b = uint32(ver), b[k:]
			c.Tokens = append(c.Tokens, t)
		}
		out = append(out, c)
	}
	return out, nil
}
