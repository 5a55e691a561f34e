package tlsconf

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// expiringWithin is how close to its end a certificate is reported as
// expiring soon.
const expiringWithin = 14 * 24 * time.Hour

// Reloader holds a key pair loaded from two files and replaces it, as a
// whole, when Reload succeeds; handshakes in flight and established
// connections keep the pair they started with. A Reloader is safe for
// concurrent use.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time
	cur               atomic.Pointer[tls.Certificate]
}

// NewReloader loads the key pair of certFile and keyFile (see
// LoadKeyPair). log, if not nil, is told what was loaded and warned of a
// certificate that expires soon and of a key file that others may read;
// it never sees the key.
func NewReloader(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again and, when they hold a valid key pair,
// serves it from now on. When they do not, it keeps the pair it has and
// returns why (an *Error, see LoadKeyPair); the caller logs it.
func (r *Reloader) Reload() error {
	now := r.now()
	c, err := LoadKeyPair(r.certFile, r.keyFile, now)
	if err != nil {
		return err
	}
	r.cur.Store(c)
	r.log.Info("TLS certificate loaded", "cert", r.certFile, "subject", c.Leaf.Subject.String(),
		"not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	for _, w := range warnings(c, r.keyFile, now) {
		r.log.Warn(w, "cert", r.certFile, "key", r.keyFile)
	}
	return nil
}

// Files returns the certificate and key files the pair is read from.
func (r *Reloader) Files() (certFile, keyFile string) { return r.certFile, r.keyFile }

// Certificate returns the pair served now.
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load() }

// GetCertificate returns the pair served now; it is a
// tls.Config.GetCertificate for servers.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// GetClientCertificate returns the pair served now; it is a
// tls.Config.GetClientCertificate for clients that present one.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// warnings are what is worth fixing about a valid pair.
func warnings(c *tls.Certificate, keyFile string, now time.Time) []string {
	var out []string
	if left := c.Leaf.NotAfter.Sub(now); left < expiringWithin {
		out = append(out, fmt.Sprintf("the TLS certificate expires in %s: renew it, replace the file and send SIGHUP", left.Round(time.Minute)))
	}
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		out = append(out, fmt.Sprintf("the TLS key file has mode %04o: others may read it; chmod 600 it", fi.Mode().Perm()))
	}
	return out
}
