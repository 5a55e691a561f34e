package vault

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

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

// encodeIdem stores the request fingerprint and the created ids.
func encodeIdem(fp []byte, out []Created) []byte {
	b := binary.AppendUvarint(nil, uint64(len(fp)))
	b = append(b, fp...)
	for _, c := range out {
		b = binary.AppendUvarint(b, uint64(len(c.ID)))
		b = append(b, c.ID...)
	}
	return b
}

// replay returns the outcome recorded under an idempotency key, or
// CodeIdempotencyReused when the key was used for other records, or errRetry
// when the entry is not there (the conflict was on something else).
func (v *Vault) replay(ctx context.Context, key, fp []byte) ([]Created, error) {
	b, err := v.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, errorf(CodeIntegrity, "idempotency entry is corrupt")
	}
	if subtle.ConstantTimeCompare(b[k:k+int(n)], fp) != 1 {
		return nil, errorf(CodeIdempotencyReused, "idempotency key was used for a different request")
	}
	b = b[k+int(n):]
	var out []Created
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errorf(CodeIntegrity, "idempotency entry is corrupt")
		}
		out = append(out, Created{ID: string(b[k : k+int(n)]), Region: v.region.Name, Replayed: true})
		b = b[k+int(n):]
	}
	return out, nil
}
