package unseal

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// A wrapped secret (the file `domicile keys hsm-wrap` writes) is one line:
//
//	dmw1.LABEL.NONCE.SEALED
//
// each part unpadded base64url: the label of the token's key that wrapped
// it, the 12-byte AES-GCM nonce, and the secret sealed with AES-GCM under
// that key, with associated data wrapAD || label, so that a file made for
// one key never opens, even by mistake, under another.

const (
	wrapPrefix = "dmw1."
	wrapAD     = "domicile unseal secret, wrapped, v1\x00"
	gcmNonce   = 12
	gcmTag     = 16
)

// ErrWrappedFormat: the file is not a wrapped secret.
var ErrWrappedFormat = errors.New("not a domicile wrapped unseal secret (dmw1.)")

var b64 = base64.RawURLEncoding

type wrapped struct {
	label         string
	nonce, sealed []byte
}

func (w wrapped) marshal() []byte {
	return []byte(wrapPrefix + b64.EncodeToString([]byte(w.label)) + "." +
		b64.EncodeToString(w.nonce) + "." + b64.EncodeToString(w.sealed) + "\n")
}

func parseWrapped(b []byte) (wrapped, error) {
	var w wrapped
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, wrapPrefix) {
		return w, ErrWrappedFormat
	}
	parts := strings.Split(s[len(wrapPrefix):], ".")
	if len(parts) != 3 {
		return w, fmt.Errorf("%w: want 3 parts after the dmw1 prefix", ErrWrappedFormat)
	}
	var dec [3][]byte
	for i, p := range parts {
		d, err := b64.DecodeString(p)
		if err != nil || b64.EncodeToString(d) != p {
			return w, fmt.Errorf("%w: part %d is not base64url", ErrWrappedFormat, i+1)
		}
		dec[i] = d
	}
	w = wrapped{label: string(dec[0]), nonce: dec[1], sealed: dec[2]}
	if w.label == "" || len(w.nonce) != gcmNonce || len(w.sealed) <= gcmTag {
		return wrapped{}, fmt.Errorf("%w: wrong lengths", ErrWrappedFormat)
	}
	return w, nil
}

// WrappedKeyLabel returns the label of the key that wrapped the secret in
// b (a wrapped file's contents), so that a caller can name it.
func WrappedKeyLabel(b []byte) (string, error) {
	w, err := parseWrapped(b)
	return w.label, err
}
