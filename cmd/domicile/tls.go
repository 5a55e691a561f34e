package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/tlsconf"
)

// TLS flags of the server commands and of the API commands.

// tlsFlags are a server's --tls-cert, --tls-key and --client-ca.
type tlsFlags struct {
	cert, key, clientCA string
}

// addTLSFlags adds the server TLS flags to fs; clientCAUsage says whose
// certificates --client-ca requires.
func addTLSFlags(fs *flag.FlagSet, clientCAUsage string) *tlsFlags {
	f := &tlsFlags{}
	fs.StringVar(&f.cert, "tls-cert", "", "serve HTTPS with this PEM certificate `FILE` (the chain, leaf first); reloaded on SIGHUP")
	fs.StringVar(&f.key, "tls-key", "", "the PEM private key `FILE` of --tls-cert (mode 0600); reloaded on SIGHUP")
	fs.StringVar(&f.clientCA, "client-ca", "", clientCAUsage)
	return f
}

// config checks the flags go together and returns them for app.
func (f *tlsFlags) config(cmd string) (app.TLSConfig, error) {
	switch {
	case (f.cert == "") != (f.key == ""):
		return app.TLSConfig{}, usageErrorf("%s: --tls-cert and --tls-key go together", cmd).
			withHint("pass both: the certificate and its private key")
	case f.clientCA != "" && f.cert == "":
		return app.TLSConfig{}, usageErrorf("%s: --client-ca needs --tls-cert and --tls-key", cmd).
			withHint("client certificates are only asked for over TLS: pass the server's certificate and key too")
	}
	return app.TLSConfig{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.clientCA}, nil
}

// backendTLSFlags are the gateway's TLS flags towards region nodes.
type backendTLSFlags struct {
	cert, key, ca string
}

// addBackendTLSFlags adds the gateway's --backend-* flags to fs.
func addBackendTLSFlags(fs *flag.FlagSet) *backendTLSFlags {
	f := &backendTLSFlags{}
	fs.StringVar(&f.ca, "backend-ca", "", "PEM `FILE` of the CA that signed the region nodes' certificates (default: the system's roots); nodes are https:// URLs in --region")
	fs.StringVar(&f.cert, "backend-cert", "", "PEM certificate `FILE` the gateway presents to nodes started with serve --client-ca; reloaded on SIGHUP")
	fs.StringVar(&f.key, "backend-key", "", "the PEM private key `FILE` of --backend-cert (mode 0600); reloaded on SIGHUP")
	return f
}

// config checks the flags go together and returns them for app.
func (f *backendTLSFlags) config() (app.BackendTLSConfig, error) {
	if (f.cert == "") != (f.key == "") {
		return app.BackendTLSConfig{}, usageErrorf("gateway: --backend-cert and --backend-key go together").
			withHint("pass both: the gateway's client certificate and its private key")
	}
	return app.BackendTLSConfig{CAFile: f.ca, CertFile: f.cert, KeyFile: f.key}, nil
}

// tlsHint adds what to do to an error loading TLS files; other errors
// pass unchanged.
func tlsHint(err error) error {
	if app.StageOf(err) != app.StageTLS {
		return err
	}
	if h := tlsconf.Hint(err); h != "" {
		return withHint(err, h)
	}
	return withHint(err, "address the nodes by https:// URLs in --region, or leave out the --backend-* flags")
}

// tlsOption returns the client option that trusts --cacert or
// DOMICILE_CACERT (else the system's roots) and presents --client-cert (or
// DOMICILE_CLIENT_CERT). Without a client certificate, asked reports
// whether a server asked for one; nil with one.
func (f *apiFlags) tlsOption(e *env, cmd string) (_ client.Option, asked *atomic.Bool, _ error) {
	or := func(v, env string) string {
		if v == "" {
			return e.getenv(env)
		}
		return v
	}
	file, certFile, keyFile := or(f.cacert, "DOMICILE_CACERT"), or(f.clientCert, "DOMICILE_CLIENT_CERT"), or(f.clientKey, "DOMICILE_CLIENT_KEY")
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if file != "" {
		pool, err := tlsconf.LoadCAPool(file, time.Now())
		if err != nil {
			hint := tlsconf.Hint(err)
			if errors.Is(err, tlsconf.ErrMissing) {
				hint = "check --cacert or DOMICILE_CACERT; `domicile dev --tls` writes its CA to DATA/tls/ca.pem"
			}
			return nil, nil, withHint(fmt.Errorf("%s: --cacert: %w", cmd, err), hint)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, nil, usageErrorf("%s: --client-cert and --client-key go together", cmd).withHint("give both, or neither")
		}
		kp, err := tlsconf.LoadKeyPair(certFile, keyFile, time.Now())
		if err != nil {
			return nil, nil, withHint(fmt.Errorf("%s: --client-cert: %w", cmd, err), tlsconf.Hint(err))
		}
		cfg.Certificates = []tls.Certificate{*kp}
	} else {
		asked = new(atomic.Bool)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked.Store(true)
			return &tls.Certificate{}, nil // none: the server decides
		}
	}
	return client.WithTLSConfig(cfg), asked, nil
}

// isCertificateRequired reports whether err is a TLS server's refusal of
// a connection that presented no client certificate. crypto/tls reports
// the peer's alert with an unexported type, so its text is matched.
func isCertificateRequired(err error) bool {
	return strings.Contains(err.Error(), "tls: certificate required")
}

// devTLSBanner returns what the dev banner adds for TLS: the export of
// DOMICILE_CACERT and curl's --cacert flag, or nothing without TLS.
func devTLSBanner(caFile string) (export, curl string) {
	if caFile == "" {
		return "", ""
	}
	return " DOMICILE_CACERT=" + caFile, " --cacert $DOMICILE_CACERT"
}
