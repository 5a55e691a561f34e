package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/domicile/domicile/client"
)

func TestWithTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"regions":[]}`))
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	ctx := context.Background()

	c, err := client.New(srv.URL, "", client.WithTLSConfig(&tls.Config{RootCAs: roots}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Regions(ctx); err != nil {
		t.Errorf("ok/trusted-ca: %v", err)
	}
	c, err = client.New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Regions(ctx); err == nil {
		t.Error("fail/unknown-ca: a server certificate of an unknown CA was accepted")
	}
}
