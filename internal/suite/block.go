package suite

import (
	"crypto/cipher"
	"fmt"
)

// Block returns the suite's raw block cipher under key: SM4 (GB/T 32907)
// for cn, AES-256 for intl; both have a 16-byte block. It is the cipher the
// suite's AEAD runs in GCM mode, exposed for modes that need the bare block,
// such as FF1 format-preserving encryption (internal/token/ff1). A raw
// block cipher offers no integrity: use AEAD for anything else.
//
// key must be BlockKeySize bytes; any other length gives an error that does
// not contain the key.
func (s Suite) Block(key []byte) (cipher.Block, error) {
	g, ok := s.aead.(*gcmAEAD)
	if !ok {
		return nil, fmt.Errorf("suite %q: no block cipher", string(s.id))
	}
	if len(key) != g.keySize {
		return nil, fmt.Errorf("%s block: key is %d bytes, want %d", g.id, len(key), g.keySize)
	}
	b, err := g.block(key)
	if err != nil {
		return nil, fmt.Errorf("%s block: %v", g.id, err)
	}
	return b, nil
}

// BlockKeySize returns the key length, in bytes, that Block takes: 16 for
// SM4 (cn), 32 for AES-256 (intl); 0 for the zero Suite.
func (s Suite) BlockKeySize() int {
	if g, ok := s.aead.(*gcmAEAD); ok {
		return g.keySize
	}
	return 0
}
