package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevFiles are the files of the local CA that `domicile dev --tls`
// serves with, all in one directory.
type DevFiles struct {
	// CA is the local CA's certificate, for clients to trust (ca.pem).
	CA string
	// CAKey is its private key (ca-key.pem, mode 0600).
	CAKey string
	// Cert and Key are the server's certificate, for 127.0.0.1, ::1 and
	// localhost, and its key (server.pem, server-key.pem, mode 0600).
	Cert, Key string
}

// Validity of the development certificates.
const (
	devCAValidity     = 5 * 365 * 24 * time.Hour
	devServerValidity = 90 * 24 * time.Hour
)

// EnsureDev makes dir hold a local development CA and a server
// certificate that it signed, for 127.0.0.1, ::1 and localhost: ECDSA
// P-256, the keys in files of mode 0600. A CA already in dir is kept while
// it is valid, so that clients that trust its ca.pem keep trusting the
// server; the server certificate is issued again at every call. This is
// for development only: the CA's key lies next to the data.
func EnsureDev(dir string, now time.Time) (DevFiles, error) {
	f := DevFiles{
		CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, fmt.Errorf("dev TLS directory: %w", err)
	}
	ca, caKey, err := loadDevCA(f, now)
	if err != nil {
		if ca, caKey, err = newDevCA(f, now); err != nil {
			return f, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("dev TLS: server key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost", Organization: []string{"Domicile dev"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(devServerValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := sign(tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("dev TLS: server certificate: %w", err)
	}
	if err := writeKey(f.Key, key); err != nil {
		return f, err
	}
	if err := writePEM(f.Cert, "CERTIFICATE", der, 0o644); err != nil {
		return f, err
	}
	return f, nil
}

// loadDevCA returns the CA in f when it is whole and valid for at least
// the server certificate's lifetime.
func loadDevCA(f DevFiles, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	pair, err := LoadKeyPair(f.CA, f.CAKey, now)
	if err != nil {
		return nil, nil, err
	}
	if !pair.Leaf.IsCA || pair.Leaf.NotAfter.Before(now.Add(devServerValidity)) {
		return nil, nil, errors.New("dev CA is not a CA or expires soon")
	}
	return pair.Leaf, pair.PrivateKey.(crypto.Signer), nil
}

// newDevCA makes a new self-signed development CA and writes it to f.
func newDevCA(f DevFiles, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("dev TLS: CA key: %w", err)
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Domicile dev CA " + host, Organization: []string{"Domicile dev"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(devCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("dev TLS: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("dev TLS: CA certificate: %w", err)
	}
	if err := writeKey(f.CAKey, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(f.CA, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// sign issues tmpl, with a random serial number, signed by parent's key.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
}

// writeKey writes key as a PKCS#8 PEM file of mode 0600.
func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("dev TLS: encode key: %w", err)
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

// writePEM replaces path with one PEM block, atomically: a reader (a
// server reloading on SIGHUP) sees the old file or the new one.
func writePEM(path, typ string, der []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("dev TLS: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("dev TLS: %w", err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("dev TLS: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("dev TLS: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dev TLS: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("dev TLS: %w", err)
	}
	return nil
}
