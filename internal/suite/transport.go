package suite

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hpke"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/sm2"
)

// KeyTransport is public-key encryption used to move key material between
// parties (for example a DEK to an HSM or a recovery officer).
type KeyTransport interface {
	// ID is the algorithm name: "SM2-ENC" or "HPKE-P256-SHA256-AES256GCM".
	ID() string
	// GenerateKey returns a new private key; its Public() is the
	// encryption key.
	GenerateKey(rand io.Reader) (crypto.Signer, error)
	// Encrypt encrypts msg (non-empty) to pub.
	Encrypt(rand io.Reader, pub crypto.PublicKey, msg []byte) ([]byte, error)
	// Decrypt decrypts ct with priv; any failure is ErrOpen.
	Decrypt(priv crypto.Signer, ct []byte) ([]byte, error)
	kt()
}

// SM2Encryption returns SM2 public-key encryption (GB/T 32918.4) with
// ASN.1 C1C3C2 ciphertexts, as GmSSL and OpenSSL write them.
func SM2Encryption() KeyTransport { return sm2Enc{} }

// HPKEP256 returns HPKE (RFC 9180) base mode with DHKEM(P-256,
// HKDF-SHA256), HKDF-SHA256 and AES-256-GCM. Keys are ECDSA P-256 keys so
// that they share the signature scheme's encodings.
func HPKEP256() KeyTransport { return hpkeP256{} }

type sm2Enc struct{}

func (sm2Enc) ID() string { return "SM2-ENC" }
func (sm2Enc) kt()        {}
func (sm2Enc) GenerateKey(rand io.Reader) (crypto.Signer, error) {
	return sm2.GenerateKey(rand)
}
func (sm2Enc) Encrypt(rand io.Reader, pub crypto.PublicKey, msg []byte) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(k) {
		return nil, fmt.Errorf("SM2-ENC: public key is %T, not an SM2 key", pub)
	}
	if len(msg) == 0 {
		return nil, fmt.Errorf("SM2-ENC: empty message")
	}
	return sm2.EncryptASN1(rand, k, msg)
}
func (sm2Enc) Decrypt(priv crypto.Signer, ct []byte) ([]byte, error) {
	k, ok := priv.(*sm2.PrivateKey)
	if !ok {
		return nil, ErrOpen
	}
	pt, err := k.Decrypt(nil, ct, sm2.ASN1DecrypterOpts)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

type hpkeP256 struct{}

const hpkeInfo = "domicile key transport v1"

func (hpkeP256) ID() string { return "HPKE-P256-SHA256-AES256GCM" }
func (hpkeP256) kt()        {}
func (hpkeP256) GenerateKey(rand io.Reader) (crypto.Signer, error) {
	return ECDSAP256().GenerateKey(rand)
}
func (hpkeP256) Encrypt(_ io.Reader, pub crypto.PublicKey, msg []byte) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !isP256(k) {
		return nil, fmt.Errorf("HPKE: public key is %T, not a P-256 key", pub)
	}
	ek, err := k.ECDH()
	if err != nil {
		return nil, fmt.Errorf("HPKE: %v", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(ek)
	if err != nil {
		return nil, fmt.Errorf("HPKE: %v", err)
	}
	return hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(hpkeInfo), msg)
}
func (hpkeP256) Decrypt(priv crypto.Signer, ct []byte) ([]byte, error) {
	k, ok := priv.(*ecdsa.PrivateKey)
	if !ok || !isP256(&k.PublicKey) {
		return nil, ErrOpen
	}
	ek, err := k.ECDH()
	if err != nil {
		return nil, ErrOpen
	}
	var kx ecdh.KeyExchanger = ek
	sk, err := hpke.NewDHKEMPrivateKey(kx)
	if err != nil {
		return nil, ErrOpen
	}
	pt, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(hpkeInfo), ct)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
