package client

import (
	"crypto/tls"
	"net/http"
)

// WithTLSConfig makes the client speak TLS with cfg: the CAs it trusts
// (RootCAs; nil trusts the system's) and the certificate it presents to a
// server that requires one (Certificates or GetClientCertificate). The
// client keeps its own connection pool; cfg must not be changed after the
// call. It replaces an earlier WithHTTPClient, and a later one replaces
// it.
//
// For example, to trust the CA of `domicile dev --tls`:
//
//	pem, _ := os.ReadFile("data/tls/ca.pem")
//	pool := x509.NewCertPool()
//	pool.AppendCertsFromPEM(pem)
//	c, err := client.New("https://127.0.0.1:8700", token, client.WithTLSConfig(&tls.Config{RootCAs: pool}))
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) {
		if cfg == nil {
			return
		}
		t, ok := defaultTransport().(*http.Transport)
		if !ok {
			t = &http.Transport{Proxy: http.ProxyFromEnvironment}
		}
		t.TLSClientConfig = cfg.Clone()
		c.hc = &http.Client{Transport: t}
	}
}
