package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"github.com/emmansun/gmsm/sm4"
)

// AEAD is an authenticated cipher with a 12-byte nonce and a 16-byte tag.
type AEAD interface {
	// ID is the algorithm name: "SM4-GCM" or "AES-256-GCM".
	ID() string
	// KeySize is the key length in bytes.
	KeySize() int
	// New returns the cipher for key. Its Open fails only with ErrOpen.
	New(key []byte) (cipher.AEAD, error)
	aead()
}

// NonceSize and TagSize are the same for every suite's AEAD.
const (
	NonceSize = 12
	TagSize   = 16
)

type gcmAEAD struct {
	id      string
	keySize int
	block   func([]byte) (cipher.Block, error)
}

// SM4GCM returns SM4 in Galois/Counter Mode (GB/T 32907, RFC 8998).
func SM4GCM() AEAD { return sm4GCM }

// AES256GCM returns AES-256 in Galois/Counter Mode.
func AES256GCM() AEAD { return aes256GCM }

var (
	sm4GCM    = &gcmAEAD{id: "SM4-GCM", keySize: 16, block: sm4.NewCipher}
	aes256GCM = &gcmAEAD{id: "AES-256-GCM", keySize: 32, block: aes.NewCipher}
)

// AEADByID returns the AEAD named id.
func AEADByID(id string) (AEAD, error) {
	switch id {
	case sm4GCM.id:
		return sm4GCM, nil
	case aes256GCM.id:
		return aes256GCM, nil
	}
	return nil, fmt.Errorf("aead %q: %w (known: SM4-GCM, AES-256-GCM)", id, ErrUnknown)
}

func (a *gcmAEAD) ID() string   { return a.id }
func (a *gcmAEAD) KeySize() int { return a.keySize }
func (a *gcmAEAD) aead()        {}

func (a *gcmAEAD) New(key []byte) (cipher.AEAD, error) {
	if len(key) != a.keySize {
		return nil, fmt.Errorf("%s: key is %d bytes, want %d", a.id, len(key), a.keySize)
	}
	b, err := a.block(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", a.id, err)
	}
	// cipher.NewGCM hands SM4 to gmsm's assembly GCM through the gcmAble
	// hook; the benchmarks check that it stays on that path.
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", a.id, err)
	}
	return opaqueAEAD{g}, nil
}

// opaqueAEAD replaces every Open error with ErrOpen.
type opaqueAEAD struct{ cipher.AEAD }

func (o opaqueAEAD) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, ErrOpen
	}
	out, err := o.AEAD.Open(dst, nonce, ciphertext, additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
