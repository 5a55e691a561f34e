// Package tlsconf loads the certificates that Domicile's servers present
// and the CAs they verify peers with: key pairs checked with errors that
// say what to do, a certificate that is replaced on demand (SIGHUP)
// without dropping connections, CA pools, and the local CA of
// `domicile dev --tls`.
//
// It only builds crypto/tls configurations; the protocol is Go's
// crypto/tls. It never logs or returns the contents of a private key.
package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// The problems LoadKeyPair and LoadCAPool report, wrapped in an *Error.
var (
	// ErrMissing: the file does not exist.
	ErrMissing = errors.New("file does not exist")
	// ErrNoCertificate: the file holds no PEM CERTIFICATE block.
	ErrNoCertificate = errors.New("no PEM certificate in the file")
	// ErrNoKey: the file holds no unencrypted PEM private key.
	ErrNoKey = errors.New("no PEM private key in the file")
	// ErrMismatch: the private key is not the certificate's.
	ErrMismatch = errors.New("the private key does not match the certificate")
	// ErrExpired: the certificate's validity has ended.
	ErrExpired = errors.New("the certificate has expired")
	// ErrNotYetValid: the certificate's validity has not begun.
	ErrNotYetValid = errors.New("the certificate is not valid yet")
)

// Error is a problem with one TLS file. Err is one of the Err* values
// above or the cause from the file system or the x509 parser; Hint says
// what to do about it.
type Error struct {
	Path string
	Err  error
	Hint string
}

// Error returns "PATH: problem".
func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Hint returns the hint of the *Error in err's chain, or "".
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// readFile reads a TLS file, turning a missing or unreadable one into an
// *Error.
func readFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Path: path, Err: ErrMissing, Hint: "check the path of the " + what}
	case err != nil:
		return nil, &Error{Path: path, Err: err, Hint: "check the " + what + "'s permissions: this process's user must be able to read it"}
	}
	return b, nil
}

// pemBlocks returns the file's PEM blocks of the given types.
func pemBlocks(b []byte, types ...string) []*pem.Block {
	var out []*pem.Block
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		for _, t := range types {
			if blk.Type == t {
				out = append(out, blk)
			}
		}
	}
}

// parseCertificates returns the certificates of a PEM file, leaf first.
func parseCertificates(path string, b []byte, what string) ([]*x509.Certificate, error) {
	blocks := pemBlocks(b, "CERTIFICATE")
	if len(blocks) == 0 {
		hint := "the " + what + " must be PEM (-----BEGIN CERTIFICATE-----)"
		if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
			hint = "this file holds a private key: are the certificate and key files swapped?"
		}
		return nil, &Error{Path: path, Err: ErrNoCertificate, Hint: hint}
	}
	var certs []*x509.Certificate
	for _, blk := range blocks {
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, &Error{Path: path, Err: fmt.Errorf("parse certificate: %w", err), Hint: "the " + what + " is damaged; export it again as PEM"}
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// parseKey returns the private key of a PEM key file. Its errors never
// carry key material.
func parseKey(path string, b []byte) (crypto.Signer, error) {
	blocks := pemBlocks(b, "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")
	if len(blocks) == 0 {
		hint := "the key file must be an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"
		switch {
		case bytes.Contains(b, []byte("ENCRYPTED PRIVATE KEY")), bytes.Contains(b, []byte("Proc-Type: 4,ENCRYPTED")):
			hint = "the key is encrypted: decrypt it for the server (openssl pkey -in KEY -out KEY.plain) and keep the file mode 0600"
		case bytes.Contains(b, []byte("BEGIN CERTIFICATE")):
			hint = "this file holds a certificate: are the certificate and key files swapped?"
		}
		return nil, &Error{Path: path, Err: ErrNoKey, Hint: hint}
	}
	blk := blocks[0]
	var key any
	var err error
	switch blk.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		// The parser's message names the format, never the key.
		return nil, &Error{Path: path, Err: fmt.Errorf("parse private key: %v", err), Hint: "the key file is damaged or not PKCS#8, PKCS#1 or SEC 1 PEM; export it again"}
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, &Error{Path: path, Err: fmt.Errorf("unsupported private key type %T", key), Hint: "use an ECDSA, RSA or Ed25519 key"}
}

// LoadKeyPair reads a PEM certificate chain (the leaf first, then its
// intermediates) and the PEM private key of its leaf, and checks them:
// both files exist and parse, the key is the certificate's, and the
// certificate is valid at now. Every failure is an *Error whose Err is
// ErrMissing, ErrNoCertificate, ErrNoKey, ErrMismatch, ErrExpired,
// ErrNotYetValid or a parse error, and whose Hint says what to do.
func LoadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := readFile(certFile, "certificate file")
	if err != nil {
		return nil, err
	}
	chain, err := parseCertificates(certFile, certPEM, "certificate file")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile(keyFile, "key file")
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyFile, keyPEM)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, &Error{Path: keyFile, Err: ErrMismatch,
			Hint: "give the key that " + certFile + " was issued for (" + describe(leaf) + "); the certificate's own key comes first in a chain file"}
	}
	if err := checkValidity(certFile, leaf, now); err != nil {
		return nil, err
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// checkValidity refuses a certificate outside its validity period.
func checkValidity(path string, c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return &Error{Path: path, Err: fmt.Errorf("%w (on %s)", ErrExpired, c.NotAfter.UTC().Format(time.RFC3339)),
			Hint: "renew it, replace the file and send the process SIGHUP (or start it again)"}
	case now.Before(c.NotBefore):
		return &Error{Path: path, Err: fmt.Errorf("%w (from %s)", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339)),
			Hint: "check this machine's clock, or wait until the certificate is valid"}
	}
	return nil
}

// describe names a certificate for messages: its subject and names.
func describe(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	s := "subject " + c.Subject.String()
	if len(names) > 0 {
		s += ", names " + strings.Join(names, ",")
	}
	return s
}

// LoadCAPool reads the PEM CA certificates of file into a new pool. It
// refuses a file without certificates and an expired CA, as an *Error
// with a hint.
func LoadCAPool(file string, now time.Time) (*x509.CertPool, error) {
	b, err := readFile(file, "CA file")
	if err != nil {
		return nil, err
	}
	certs, err := parseCertificates(file, b, "CA file")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if err := checkValidity(file, c, now); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Err = fmt.Errorf("CA %s: %w", c.Subject, e.Err)
				e.Hint = "renew the CA and the certificates it signed, or drop it from the file"
			}
			return nil, err
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// Server returns the configuration of a TLS server that presents r's
// current certificate. With clientCAs it requires every client to present
// a certificate that one of them signed (mutual TLS).
func Server(r *Reloader, clientCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	if clientCAs != nil {
		c.ClientCAs = clientCAs
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// Client returns the configuration of a TLS client that trusts roots (nil:
// the system's roots) and, when r is not nil, presents r's current
// certificate to servers that ask for one.
func Client(roots *x509.CertPool, r *Reloader) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if r != nil {
		c.GetClientCertificate = r.GetClientCertificate
	}
	return c
}
