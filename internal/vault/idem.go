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
	return v.keys.Origin().MAC().Sum(key, fp), nil
}

// The first byte of an idempotency entry says its format. An entry of
// the first format (ids only, in clear) starts with the fingerprint's
// length, never 0 or 1.
const (
	// idemSealVersion: the outcome, tokens included, sealed under a key
	// derived from the region's index KEK. Such entries are still read,
	// no longer written: destroying a subject's key left its tokens
	// readable in them.
	idemSealVersion = 0
	// idemSubjectVersion: ids in clear, each record's tokens sealed under
	// its subject's data key.
	idemSubjectVersion = 1
)

// idemAEAD returns the cipher of idemSealVersion outcomes: a key derived
// from the region's index KEK version 1 with its own label, like the
// fingerprint's.
func (v *Vault) idemAEAD() (cipher.AEAD, error) {
	s := v.keys.Origin() // index version 1's suite
	key, err := v.keys.DeriveKey(keyring.Index, 1, "idempotency outcome", s.AEAD().KeySize())
	if err != nil {
		return nil, fmt.Errorf("vault: idempotency key: %w", err)
	}
	defer clear(key)
	return s.AEAD().New(key)
}

func (v *Vault) idemBinding(ik []byte) envelope.Binding {
	return envelope.Binding{Region: v.region.Name, Collection: "_idempotency", Record: string(ik), Field: "outcome"}
}

// idemTokensBinding binds the sealed tokens of record id to the entry.
func (v *Vault) idemTokensBinding(ik []byte, id string) envelope.Binding {
	return envelope.Binding{Region: v.region.Name, Collection: "_idempotency", Record: string(ik), Field: "tokens/" + id}
}

// idemRecord is what an idempotency entry needs of one created record:
// its subject's ref and the data key its fields were sealed with.
type idemRecord struct {
	ref []byte
	sk  *keyring.SubjectKey
}

// encodeIdem stores the request fingerprint (a keyed MAC) and the outcome:
// the created ids, and each record's tokens sealed under the record's
// subject data key, since deterministic and fpe tokens are pseudonyms of
// personal values (an fpe token is the value under FF1): erasing the
// subject destroys that key, and with it every copy of the tokens here
// (crypto-shredding), with no need to find the entries.
//
//	0x01, uvarint len(fp), fp,
//	per record: lp id, lp subject ref, uvarint key version, lp envelope
//	  (empty when the record has no tokens) of:
//	  uvarint n, n times (lp field, lp token, lp kind, uvarint key version)
func (v *Vault) encodeIdem(fp, ik []byte, out []Created, recs []idemRecord) ([]byte, error) {
	b := []byte{idemSubjectVersion}
	b = binary.AppendUvarint(b, uint64(len(fp)))
	b = append(b, fp...)
	for i, c := range out {
		b = appendLP(b, c.ID)
		b = appendLP(b, string(recs[i].ref))
		b = binary.AppendUvarint(b, uint64(recs[i].sk.Version))
		if len(c.Tokens) == 0 {
			b = appendLP(b, "")
			continue
		}
		pt := binary.AppendUvarint(nil, uint64(len(c.Tokens)))
		for _, t := range c.Tokens {
			pt = appendLP(pt, t.Field)
			pt = appendLP(pt, t.Token)
			pt = appendLP(pt, t.Kind)
			pt = binary.AppendUvarint(pt, uint64(t.KeyVersion))
		}
		env, err := envelope.Seal(recs[i].sk.AEAD, v.rand, recs[i].sk.Suite, recs[i].sk.Version, v.idemTokensBinding(ik, c.ID), pt)
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("vault: sealing the idempotency outcome: %w", err)
		}
		b = appendLP(b, string(env))
	}
	return b, nil
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
// has no tokens. Nor has the replay of a record whose subject was erased
// since: its tokens were sealed under the subject's destroyed key.
func (v *Vault) replay(ctx context.Context, key, fp []byte) ([]Created, error) {
	b, err := v.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	format := -1 // ids only
	if len(b) > 0 && (b[0] == idemSealVersion || b[0] == idemSubjectVersion) {
		format, b = int(b[0]), b[1:]
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, errorf(CodeIntegrity, "idempotency entry is corrupt")
	}
	if subtle.ConstantTimeCompare(b[k:k+int(n)], fp) != 1 {
		return nil, errorf(CodeIdempotencyReused, "idempotency key was used for a different request")
	}
	b = b[k+int(n):]
	switch format {
	case idemSealVersion:
		return v.openIdem(key, b)
	case idemSubjectVersion:
		return v.openSubjectIdem(ctx, key, b)
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

// openSubjectIdem reads an idemSubjectVersion outcome: each record's
// tokens are opened with its subject's key; a record whose subject was
// erased (keyring.ErrNoSubjectKey) is returned without tokens.
func (v *Vault) openSubjectIdem(ctx context.Context, key, b []byte) ([]Created, error) {
	bad := errorf(CodeIntegrity, "idempotency entry is corrupt")
	var out []Created
	for len(b) > 0 {
		c := Created{Region: v.region.Name, Replayed: true}
		var ref, env string
		var ok bool
		if c.ID, b, ok = readLP(b); !ok {
			return nil, bad
		}
		if ref, b, ok = readLP(b); !ok {
			return nil, bad
		}
		ver, k := binary.Uvarint(b)
		if k <= 0 || ver > 1<<32-1 {
			return nil, bad
		}
		b = b[k:]
		if env, b, ok = readLP(b); !ok {
			return nil, bad
		}
		if env != "" {
			toks, err := v.openIdemTokens(ctx, key, c.ID, []byte(ref), uint32(ver), []byte(env))
			if err != nil {
				return nil, err
			}
			c.Tokens = toks
		}
		out = append(out, c)
	}
	return out, nil
}

// openIdemTokens opens the sealed tokens of record id; nil when the
// record's subject was erased.
func (v *Vault) openIdemTokens(ctx context.Context, key []byte, id string, ref []byte, ver uint32, env []byte) ([]Token, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil || h.KeyVersion != ver {
		return nil, &Error{Code: CodeIntegrity, Msg: "idempotency entry is corrupt", Index: -1, Err: err}
	}
	a, err := v.keys.SubjectKeyByRef(ctx, ref, ver, h.Suite)
	if errors.Is(err, keyring.ErrNoSubjectKey) {
		return nil, nil // erased: its tokens are gone with its key
	}
	if err != nil {
		return nil, v.keyError(err)
	}
	pt, err := envelope.Open(a, h, ct, v.idemTokensBinding(key, id))
	if err != nil {
		return nil, &Error{Code: CodeIntegrity, Msg: "idempotency entry failed to authenticate", Index: -1, Err: err}
	}
	toks, rest, ok := readIdemTokens(pt)
	if !ok || len(rest) != 0 {
		return nil, errorf(CodeIntegrity, "idempotency entry is corrupt")
	}
	return toks, nil
}

// readIdemTokens reads uvarint n and n tokens.
func readIdemTokens(b []byte) ([]Token, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, false
	}
	b = b[k:]
	var out []Token
	for range n {
		var t Token
		var ok bool
		if t.Field, b, ok = readLP(b); !ok {
			return nil, nil, false
		}
		if t.Token, b, ok = readLP(b); !ok {
			return nil, nil, false
		}
		if t.Kind, b, ok = readLP(b); !ok {
			return nil, nil, false
		}
		ver, k := binary.Uvarint(b)
		if k <= 0 || ver > 1<<32-1 {
			return nil, nil, false
		}
		t.KeyVersion, b = uint32(ver), b[k:]
		out = append(out, t)
	}
	return out, b, true
}

// openIdem opens an idemSealVersion outcome.
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
		if c.Tokens, b, ok = readIdemTokens(b); !ok {
			return nil, bad
		}
		out = append(out, c)
	}
	return out, nil
}
