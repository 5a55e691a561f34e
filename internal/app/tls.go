package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/tlsconf"
)

// TLSConfig names the files a server speaks TLS with. The zero value
// serves plain HTTP.
type TLSConfig struct {
	// CertFile and KeyFile are the server's PEM certificate chain and
	// private key. The server reads them again on SIGHUP; a pair that
	// fails to load is logged and the previous one kept.
	CertFile, KeyFile string
	// ClientCAFile, if set, is a PEM file of the CAs whose certificates
	// the server requires from every client (mutual TLS).
	ClientCAFile string
}

// enabled reports whether the server speaks TLS.
func (c TLSConfig) enabled() bool { return c.CertFile != "" || c.KeyFile != "" || c.ClientCAFile != "" }

// BackendTLSConfig is how the gateway speaks TLS to region nodes addressed
// by https:// URLs. The zero value trusts the system's roots and presents
// no certificate.
type BackendTLSConfig struct {
	// CAFile is the PEM file of the CAs that signed the nodes'
	// certificates (empty: the system's roots).
	CAFile string
	// CertFile and KeyFile are the gateway's own certificate and key,
	// presented to nodes that require one (serve --client-ca); reloaded
	// on SIGHUP like a server's.
	CertFile, KeyFile string
}

// enabled reports whether any backend TLS file is set.
func (c BackendTLSConfig) enabled() bool {
	return c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
}

// serverTLS is a loaded TLS configuration and the key pairs to reload on
// SIGHUP.
type serverTLS struct {
	config  *tls.Config
	reloads []*tlsconf.Reloader
}

// tlsError is a failure to load TLS files, as a *StartError of StageTLS.
func tlsError(what string, err error) error {
	return &StartError{Stage: StageTLS, Err: fmt.Errorf("%s: %w", what, err)}
}

// load reads the server's TLS files; nil when TLS is off.
func (c TLSConfig) load(log *slog.Logger) (*serverTLS, error) {
	if !c.enabled() {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, tlsError("TLS", errors.New("a server needs both a certificate and its key"))
	}
	r, err := tlsconf.NewReloader(c.CertFile, c.KeyFile, log)
	if err != nil {
		return nil, tlsError("TLS certificate", err)
	}
	s := &serverTLS{reloads: []*tlsconf.Reloader{r}}
	var pool *x509.CertPool
	if c.ClientCAFile != "" {
		if pool, err = tlsconf.LoadCAPool(c.ClientCAFile, time.Now()); err != nil {
			return nil, tlsError("client CA", err)
		}
		log.Info("TLS requires client certificates", "client_ca", c.ClientCAFile)
	}
	s.config = tlsconf.Server(r, pool)
	return s, nil
}

// backendTransport returns the transport the gateway reaches the regions'
// nodes with, and the key pair to reload on SIGHUP; nil, nil when no
// backend TLS file is set (the gateway's default transport). Backend TLS
// files need https:// nodes: presenting a certificate to an http:// node
// would be a mistake worth stopping for.
func (c BackendTLSConfig) backendTransport(regions map[string][]*url.URL, log *slog.Logger) (http.RoundTripper, []*tlsconf.Reloader, error) {
	if !c.enabled() {
		return nil, nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names := make([]string, 0, len(regions))
	for name := range regions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, u := range regions[name] {
			if u.Scheme != "https" {
				return nil, nil, tlsError("backend TLS", fmt.Errorf("region %s's node %s is not an https:// URL", name, u.Redacted()))
			}
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, nil, tlsError("backend TLS", errors.New("the gateway's certificate needs both the certificate and its key"))
	}
	var pool *x509.CertPool
	if c.CAFile != "" {
		var err error
		if pool, err = tlsconf.LoadCAPool(c.CAFile, time.Now()); err != nil {
			return nil, nil, tlsError("backend CA", err)
		}
	}
	var r *tlsconf.Reloader
	var reloads []*tlsconf.Reloader
	if c.CertFile != "" {
		var err error
		if r, err = tlsconf.NewReloader(c.CertFile, c.KeyFile, log); err != nil {
			return nil, nil, tlsError("backend certificate", err)
		}
		reloads = append(reloads, r)
	}
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t = t.Clone()
	t.TLSClientConfig = tlsconf.Client(pool, r)
	return t, reloads, nil
}

// watchReload reloads the key pairs on every SIGHUP until the returned
// stop is called. A pair that fails to load is logged with why, and the
// previous one is kept.
func watchReload(log *slog.Logger, reloads []*tlsconf.Reloader) (stop func()) {
	if len(reloads) == 0 {
		return func() {}
	}
	return onSIGHUP(func() { // reload.go
		for _, r := range reloads {
			if err := r.Reload(); err != nil {
				cert, _ := r.Files()
				log.Error("TLS reload failed: still serving the previous certificate", "cert", cert, "err", err, "hint", tlsconf.Hint(err))
			}
		}
	})
}

// tlsListener serves TLS on the connections of a listener. It hands
// net/http wrapped connections (so that web.Listener can still rewrite
// net/http's own plain answers into problem+json), which handshake on
// their first read and log a failed handshake, such as a client without
// the required certificate.
type tlsListener struct {
	net.Listener
	config *tls.Config
	log    *slog.Logger
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, l.config), log: l.log}, nil
}

// handshakeConn is a server-side TLS connection that logs a failed
// handshake.
type handshakeConn struct {
	*tls.Conn
	log  *slog.Logger
	once sync.Once
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	c.once.Do(func() {
		// net/http has set the read deadline: the handshake is bounded
		// by ReadHeaderTimeout.
		err := c.Conn.HandshakeContext(context.Background())
		var re tls.RecordHeaderError
		switch {
		case err == nil, errors.Is(err, io.EOF):
		case errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader):
			// As net/http does: answer plain HTTP in plain HTTP. The raw
			// connection is web.Listener's, which turns the answer into
			// problem+json.
			io.WriteString(re.Conn, plainHTTPAnswer)
			re.Conn.Close()
			c.log.Warn("TLS handshake failed: the client spoke plain HTTP", "remote", c.RemoteAddr().String())
		default:
			c.log.Warn("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		}
	})
	return c.Conn.Read(b)
}

// plainHTTPAnswer is net/http's own answer to plain HTTP on a TLS port.
const plainHTTPAnswer = "HTTP/1.1 400 Bad Request: client sent an HTTP request to an HTTPS server; use an https:// address\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"400 Bad Request: client sent an HTTP request to an HTTPS server; use an https:// address"

// looksLikeHTTP reports whether a TLS record header is the start of a
// plain HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

// devTLS makes the local CA of `domicile dev --tls` in DATA/tls and the
// server configuration it serves with.
func devTLS(dataDir string, log *slog.Logger) (*serverTLS, tlsconf.DevFiles, error) {
	files, err := tlsconf.EnsureDev(filepath.Join(dataDir, "tls"), time.Now())
	if err != nil {
		return nil, files, tlsError("dev TLS", err)
	}
	s, err := TLSConfig{CertFile: files.Cert, KeyFile: files.Key}.load(log)
	return s, files, err
}
