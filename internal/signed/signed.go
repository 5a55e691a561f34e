// Package signed signs the documents a region issues for people outside it
// (a year's transfer report, a subject's data package) with the region's
// audit key, so that a regulator, an auditor or the subject checks them
// offline with the key history of 'domicile audit keys --pem'.
//
// A document is an envelope: its payload (the exact JSON bytes signed),
// the signature scheme's ID, the 4-byte key hash of the signing key and
// the signature over
//
//	context || payload
//
// where the context names the kind of document ("domicile transfer report
// v1\n"), so that a signature of one kind is never taken for another, or
// for a checkpoint. The key hash is the one the audit log's checkpoints
// carry under the log's origin ("domicile/<region>"): the first four bytes
// of checkpoint.Fingerprint, so 'domicile audit keys' shows which key
// signed.
package signed

import (
	"crypto"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/suite"
)

// Kind is a kind of document: the context its signatures cover before the
// payload, such as "domicile transfer report v1\n", and the noun errors
// call it by, such as "report".
type Kind struct {
	Context string
	Noun    string
}

// Envelope is a signed document: the exact bytes signed and the signature.
type Envelope struct {
	Payload   []byte  // the document's JSON, as signed
	Algorithm string  // the signature scheme's ID, such as "SM2"
	KeyHash   [4]byte // the signing key's key hash under the log's origin
	Signature []byte
}

// Sign signs payload, a document of kind k, with priv, a
// key of sig; origin is the region's audit log origin, which names the key.
//
// Errors: those of the signature scheme, and when priv is not a key of sig.
func Sign(k Kind, payload []byte, origin string, priv crypto.Signer, sig suite.Signature, h suite.Hash, rand io.Reader) (*Envelope, error) {
	kh, err := checkpoint.KeyHash(origin, priv.Public(), sig, h)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	s, err := sig.Sign(rand, priv, message(k, payload))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return &Envelope{Payload: payload, Algorithm: sig.ID(), KeyHash: kh, Signature: s}, nil
}

// SignJSON signs v's JSON (encoding/json) as Sign signs a payload.
//
// Errors: v's marshalling's, and those of Sign.
func SignJSON(k Kind, v any, origin string, priv crypto.Signer, sig suite.Signature, h suite.Hash, rand io.Reader) (*Envelope, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sign: marshal the %s: %w", k.Noun, err)
	}
	return Sign(k, payload, origin, priv, sig, h, rand)
}

func message(k Kind, payload []byte) []byte {
	return append([]byte(k.Context), payload...)
}

// Verify checks e, a document of kind k, with the key
// among keys (all of sig, the region's audit keys under origin) that its
// key hash names. It does not look into the payload.
//
// Errors, in words: a wrong algorithm, a key that is not among keys, a
// signature that does not verify (an edited payload).
func Verify(k Kind, e *Envelope, origin string, keys []crypto.PublicKey, sig suite.Signature, h suite.Hash) error {
	if e.Algorithm != sig.ID() {
		return fmt.Errorf("it is signed with %q, the keys given are %s keys", e.Algorithm, sig.ID())
	}
	var pub crypto.PublicKey
	for i, k := range keys {
		kh, err := checkpoint.KeyHash(origin, k, sig, h)
		if err != nil {
			return fmt.Errorf("key %d of %d: %v", i+1, len(keys), err)
		}
		if kh == e.KeyHash {
			pub = k
			break
		}
	}
	if pub == nil {
		given := fmt.Sprintf("%d keys", len(keys))
		if len(keys) == 1 {
			given = "1 key"
		}
		return fmt.Errorf("signed by key %s, which is not among the %s given", hex.EncodeToString(e.KeyHash[:]), given)
	}
	if err := sig.Verify(pub, message(k, e.Payload), e.Signature); err != nil {
		return fmt.Errorf("signature does not verify (edited %s) with key %s", k.Noun, hex.EncodeToString(e.KeyHash[:]))
	}
	return nil
}
