package suite

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// Hash is a cryptographic hash function.
type Hash interface {
	// ID is the algorithm name: "SM3" or "SHA-256".
	ID() string
	// Size is the digest length in bytes.
	Size() int
	// New returns a new running hash.
	New() hash.Hash
	// Sum returns the digest of msg.
	Sum(msg []byte) []byte
	hashFn()
}

type stdHash struct {
	id   string
	size int
	new  func() hash.Hash
	sum  func([]byte) []byte
}

var (
	sm3Hash    = &stdHash{id: "SM3", size: sm3.Size, new: sm3.New, sum: func(b []byte) []byte { s := sm3.Sum(b); return s[:] }}
	sha256Hash = &stdHash{id: "SHA-256", size: sha256.Size, new: sha256.New, sum: func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }}
)

// SM3 returns the SM3 hash (GB/T 32905).
func SM3() Hash { return sm3Hash }

// SHA256 returns SHA-256.
func SHA256() Hash { return sha256Hash }

// HashByID returns the hash named id.
func HashByID(id string) (Hash, error) {
	switch id {
	case sm3Hash.id:
		return sm3Hash, nil
	case sha256Hash.id:
		return sha256Hash, nil
	}
	return nil, fmt.Errorf("hash %q: %w (known: SM3, SHA-256)", id, ErrUnknown)
}

func (h *stdHash) ID() string            { return h.id }
func (h *stdHash) Size() int             { return h.size }
func (h *stdHash) New() hash.Hash        { return h.new() }
func (h *stdHash) Sum(msg []byte) []byte { return h.sum(msg) }
func (h *stdHash) hashFn()               {}

// MAC is HMAC over one of the suite hashes.
type MAC interface {
	// ID is the algorithm name: "HMAC-SM3" or "HMAC-SHA256".
	ID() string
	// Size is the tag length in bytes.
	Size() int
	// New returns a running MAC keyed with key.
	New(key []byte) hash.Hash
	// Sum returns the tag of msg under key.
	Sum(key, msg []byte) []byte
	// Equal compares two tags in constant time.
	Equal(a, b []byte) bool
	mac()
}

type hmacMAC struct{ h *stdHash }

// HMAC returns HMAC over h.
func HMAC(h Hash) MAC { return hmacMAC{h.(*stdHash)} }

// MACByID returns the MAC named id.
func MACByID(id string) (MAC, error) {
	switch id {
	case "HMAC-SM3":
		return HMAC(sm3Hash), nil
	case "HMAC-SHA256":
		return HMAC(sha256Hash), nil
	}
	return nil, fmt.Errorf("mac %q: %w (known: HMAC-SM3, HMAC-SHA256)", id, ErrUnknown)
}

func (m hmacMAC) ID() string {
	if m.h == sha256Hash {
		return "HMAC-SHA256"
	}
	return "HMAC-" + m.h.id
}
func (m hmacMAC) Size() int                { return m.h.size }
func (m hmacMAC) New(key []byte) hash.Hash { return hmac.New(m.h.new, key) }
func (m hmacMAC) Sum(key, msg []byte) []byte {
	mac := hmac.New(m.h.new, key)
	mac.Write(msg)
	return mac.Sum(nil)
}
func (m hmacMAC) Equal(a, b []byte) bool { return hmac.Equal(a, b) }
func (m hmacMAC) mac()                   {}

// KDF is HKDF (RFC 5869) over one of the suite hashes.
type KDF interface {
	// ID is the algorithm name: "HKDF-SM3" or "HKDF-SHA256".
	ID() string
	// Extract returns a pseudorandom key from secret and salt.
	Extract(secret, salt []byte) ([]byte, error)
	// Expand derives length bytes from a pseudorandom key and info.
	Expand(prk []byte, info string, length int) ([]byte, error)
	// Key is Extract followed by Expand.
	Key(secret, salt []byte, info string, length int) ([]byte, error)
	kdf()
}

type hkdfKDF struct{ h *stdHash }

// HKDF returns HKDF over h.
func HKDF(h Hash) KDF { return hkdfKDF{h.(*stdHash)} }

func (k hkdfKDF) ID() string {
	if k.h == sha256Hash {
		return "HKDF-SHA256"
	}
	return "HKDF-" + k.h.id
}
func (k hkdfKDF) Extract(secret, salt []byte) ([]byte, error) {
	return hkdf.Extract(k.h.new, secret, salt)
}
func (k hkdfKDF) Expand(prk []byte, info string, length int) ([]byte, error) {
	return hkdf.Expand(k.h.new, prk, info, length)
}
func (k hkdfKDF) Key(secret, salt []byte, info string, length int) ([]byte, error) {
	return hkdf.Key(k.h.new, secret, salt, info, length)
}
func (k hkdfKDF) kdf() {}
