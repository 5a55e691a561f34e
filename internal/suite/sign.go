package suite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// DefaultSM2ID is the default SM2 user ID of GB/T 32918 and GM/T 0009.
const DefaultSM2ID = "1234567812345678"

// Signature is a signature scheme. Private keys are crypto.Signer values and
// public keys crypto.PublicKey values of the scheme's own type; they travel as
// PKCS#8 and SubjectPublicKeyInfo DER, as OpenSSL and GmSSL write them.
type Signature interface {
	// ID is the algorithm name: "SM2", "ECDSA-P256" or "Ed25519".
	ID() string
	// GenerateKey returns a new private key.
	GenerateKey(rand io.Reader) (crypto.Signer, error)
	// Sign signs msg (not a digest): SM2 hashes it with Z_A under the
	// scheme's user ID and SM3, ECDSA with SHA-256, Ed25519 as pure EdDSA.
	// ECDSA and SM2 signatures are ASN.1 DER.
	Sign(rand io.Reader, priv crypto.Signer, msg []byte) ([]byte, error)
	// Verify checks sig over msg; any failure is ErrVerify.
	Verify(pub crypto.PublicKey, msg, sig []byte) error
	// MarshalPrivateKey encodes priv as PKCS#8 DER.
	MarshalPrivateKey(priv crypto.Signer) ([]byte, error)
	// ParsePrivateKey decodes PKCS#8 DER, rejecting keys of other schemes.
	ParsePrivateKey(der []byte) (crypto.Signer, error)
	// MarshalPublicKey encodes pub as SubjectPublicKeyInfo DER.
	MarshalPublicKey(pub crypto.PublicKey) ([]byte, error)
	// ParsePublicKey decodes SubjectPublicKeyInfo DER, rejecting keys of
	// other schemes.
	ParsePublicKey(der []byte) (crypto.PublicKey, error)
	sig()
}

// SM2 returns SM2 signatures (GB/T 32918.2) with SM3 and the default user ID.
func SM2() Signature { return sm2Sig{uid: []byte(DefaultSM2ID)} }

// SM2WithID returns SM2 signatures with the given user ID. An empty uid
// means DefaultSM2ID, as in GM/T 0009 and the SM2 library.
func SM2WithID(uid []byte) Signature { return sm2Sig{uid: append([]byte(nil), uid...)} }

// ECDSAP256 returns ECDSA over P-256 with SHA-256 (ASN.1 DER signatures).
func ECDSAP256() Signature { return ecdsaSig{} }

// Ed25519 returns pure Ed25519 (RFC 8032).
func Ed25519() Signature { return ed25519Sig{} }

// SignatureByID returns the signature scheme named id.
func SignatureByID(id string) (Signature, error) {
	switch id {
	case "SM2":
		return SM2(), nil
	case "ECDSA-P256":
		return ECDSAP256(), nil
	case "Ed25519":
		return Ed25519(), nil
	}
	return nil, fmt.Errorf("signature %q: %w (known: SM2, ECDSA-P256, Ed25519)", id, ErrUnknown)
}

// SignatureOf returns the scheme whose keys pub is one of: SM2, ECDSA P-256
// or Ed25519 keys are of distinct types, so at most one fits.
func SignatureOf(pub crypto.PublicKey) (Signature, error) {
	for _, s := range []Signature{SM2(), ECDSAP256(), Ed25519()} {
		if _, err := s.MarshalPublicKey(pub); err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("a %T key: %w", pub, ErrUnknown)
}

func marshalPKCS8(priv crypto.Signer) ([]byte, error)  { return smx509.MarshalPKCS8PrivateKey(priv) }
func marshalSPKI(pub crypto.PublicKey) ([]byte, error) { return smx509.MarshalPKIXPublicKey(pub) }

type sm2Sig struct{ uid []byte }

func (sm2Sig) ID() string { return "SM2" }
func (sm2Sig) sig()       {}
func (sm2Sig) GenerateKey(rand io.Reader) (crypto.Signer, error) {
	return sm2.GenerateKey(rand)
}
func (s sm2Sig) Sign(rand io.Reader, priv crypto.Signer, msg []byte) ([]byte, error) {
	k, ok := priv.(*sm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("SM2: the private key is %s, not an SM2 key", keyKind(priv))
	}
	// e = SM3(Z_A || msg) is computed here rather than by SignWithSM2,
	// which refuses an empty msg although GB/T 32918.2 allows it.
	e, err := sm2.CalculateSM2Hash(&k.PublicKey, msg, s.uid)
	if err != nil {
		return nil, fmt.Errorf("SM2: %v", err)
	}
	// With nil opts, Sign takes e as the digest; a nil rand gives a
	// deterministic (RFC 6979 style) signature.
	return k.Sign(rand, e, nil)
}
func (s sm2Sig) Verify(pub crypto.PublicKey, msg, sig []byte) error {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(k) {
		return ErrVerify
	}
	if !sm2.VerifyASN1WithSM2(k, s.uid, msg, sig) {
		return ErrVerify
	}
	return nil
}
func (sm2Sig) MarshalPrivateKey(priv crypto.Signer) ([]byte, error) {
	if _, ok := priv.(*sm2.PrivateKey); !ok {
		return nil, fmt.Errorf("SM2: the private key is %s, not an SM2 key", keyKind(priv))
	}
	return marshalPKCS8(priv)
}
func (sm2Sig) ParsePrivateKey(der []byte) (crypto.Signer, error) {
	k, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("SM2: parse PKCS#8: %w", err)
	}
	sk, ok := k.(*sm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("SM2: the PKCS#8 file holds %s, not an SM2 key", keyKind(k))
	}
	return sk, nil
}
func (sm2Sig) MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	if k, ok := pub.(*ecdsa.PublicKey); !ok || !sm2.IsSM2PublicKey(k) {
		return nil, fmt.Errorf("SM2: the public key is %s, not an SM2 key", keyKind(pub))
	}
	return marshalSPKI(pub)
}
func (sm2Sig) ParsePublicKey(der []byte) (crypto.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("SM2: parse public key: %w", err)
	}
	pk, ok := k.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pk) {
		return nil, fmt.Errorf("SM2: the public key is %s, not an SM2 key", keyKind(k))
	}
	return pk, nil
}

type ecdsaSig struct{}

func (ecdsaSig) ID() string { return "ECDSA-P256" }
func (ecdsaSig) sig()       {}
func (ecdsaSig) GenerateKey(rand io.Reader) (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand)
}
func isP256(k *ecdsa.PublicKey) bool { return k != nil && k.Curve == elliptic.P256() }
func (ecdsaSig) Sign(rand io.Reader, priv crypto.Signer, msg []byte) ([]byte, error) {
	k, ok := priv.(*ecdsa.PrivateKey)
	if !ok || !isP256(&k.PublicKey) {
		return nil, fmt.Errorf("ECDSA-P256: the private key is %s, not an ECDSA P-256 key", keyKind(priv))
	}
	d := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand, k, d[:])
}
func (ecdsaSig) Verify(pub crypto.PublicKey, msg, sig []byte) error {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !isP256(k) {
		return ErrVerify
	}
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(k, d[:], sig) {
		return ErrVerify
	}
	return nil
}
func (ecdsaSig) MarshalPrivateKey(priv crypto.Signer) ([]byte, error) {
	if k, ok := priv.(*ecdsa.PrivateKey); !ok || !isP256(&k.PublicKey) {
		return nil, fmt.Errorf("ECDSA-P256: the private key is %s, not an ECDSA P-256 key", keyKind(priv))
	}
	return marshalPKCS8(priv)
}
func (ecdsaSig) ParsePrivateKey(der []byte) (crypto.Signer, error) {
	k, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("ECDSA-P256: parse PKCS#8: %w", err)
	}
	sk, ok := k.(*ecdsa.PrivateKey)
	if !ok || !isP256(&sk.PublicKey) {
		return nil, fmt.Errorf("ECDSA-P256: the PKCS#8 file holds %s, not an ECDSA P-256 key", keyKind(k))
	}
	return sk, nil
}
func (ecdsaSig) MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	if k, ok := pub.(*ecdsa.PublicKey); !ok || !isP256(k) {
		return nil, fmt.Errorf("ECDSA-P256: the public key is %s, not an ECDSA P-256 key", keyKind(pub))
	}
	return marshalSPKI(pub)
}
func (ecdsaSig) ParsePublicKey(der []byte) (crypto.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("ECDSA-P256: parse public key: %w", err)
	}
	pk, ok := k.(*ecdsa.PublicKey)
	if !ok || !isP256(pk) {
		return nil, fmt.Errorf("ECDSA-P256: the public key is %s, not an ECDSA P-256 key", keyKind(k))
	}
	return pk, nil
}

type ed25519Sig struct{}

func (ed25519Sig) ID() string { return "Ed25519" }
func (ed25519Sig) sig()       {}
func (ed25519Sig) GenerateKey(rand io.Reader) (crypto.Signer, error) {
	_, k, err := ed25519.GenerateKey(rand)
	return k, err
}
func (ed25519Sig) Sign(_ io.Reader, priv crypto.Signer, msg []byte) ([]byte, error) {
	k, ok := priv.(ed25519.PrivateKey)
	if !ok || len(k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("Ed25519: the private key is %s, not an Ed25519 key", keyKind(priv))
	}
	return ed25519.Sign(k, msg), nil
}
func (ed25519Sig) Verify(pub crypto.PublicKey, msg, sig []byte) error {
	k, ok := pub.(ed25519.PublicKey)
	if !ok || len(k) != ed25519.PublicKeySize || !ed25519.Verify(k, msg, sig) {
		return ErrVerify
	}
	return nil
}
func (ed25519Sig) MarshalPrivateKey(priv crypto.Signer) ([]byte, error) {
	if _, ok := priv.(ed25519.PrivateKey); !ok {
		return nil, fmt.Errorf("Ed25519: the private key is %s, not an Ed25519 key", keyKind(priv))
	}
	return marshalPKCS8(priv)
}
func (ed25519Sig) ParsePrivateKey(der []byte) (crypto.Signer, error) {
	k, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("Ed25519: parse PKCS#8: %w", err)
	}
	sk, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("Ed25519: the PKCS#8 file holds %s, not an Ed25519 key", keyKind(k))
	}
	return sk, nil
}
func (ed25519Sig) MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	if _, ok := pub.(ed25519.PublicKey); !ok {
		return nil, fmt.Errorf("Ed25519: the public key is %s, not an Ed25519 key", keyKind(pub))
	}
	return marshalSPKI(pub)
}
func (ed25519Sig) ParsePublicKey(der []byte) (crypto.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("Ed25519: parse public key: %w", err)
	}
	pk, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("Ed25519: the public key is %s, not an Ed25519 key", keyKind(k))
	}
	return pk, nil
}

// keyKind names the kind of key k in words, for errors a person reads
// (never a Go type).
func keyKind(k any) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return curveKind(k.Curve)
	case *ecdsa.PrivateKey:
		return curveKind(k.Curve)
	case *sm2.PrivateKey:
		return "an SM2 key"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "an Ed25519 key"
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "an RSA key"
	case nil:
		return "no key"
	}
	return "a key of another kind"
}

// curveKind names an elliptic-curve key by its curve.
func curveKind(c elliptic.Curve) string {
	switch {
	case c == nil:
		return "an elliptic-curve key without a curve"
	case c == elliptic.P256():
		return "an ECDSA P-256 key"
	case c == sm2.P256():
		return "an SM2 key"
	}
	return "an ECDSA key on curve " + c.Params().Name
}
