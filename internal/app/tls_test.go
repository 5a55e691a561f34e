package app

import (
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/tlsconf"
)

func TestTLSConfigLoad(t *testing.T) {
	f, err := tlsconf.EnsureDev(filepath.Join(t.TempDir(), "tls"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope.pem")
	for _, tc := range []struct {
		name string
		c    TLSConfig
		want error // nil: loads
	}{
		{"ok/off", TLSConfig{}, nil},
		{"ok/server", TLSConfig{CertFile: f.Cert, KeyFile: f.Key}, nil},
		{"ok/mtls", TLSConfig{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.CA}, nil},
		{"fail/missing-key", TLSConfig{CertFile: f.Cert, KeyFile: missing}, tlsconf.ErrMissing},
		{"fail/swapped", TLSConfig{CertFile: f.Key, KeyFile: f.Cert}, tlsconf.ErrNoCertificate},
		{"fail/mismatch", TLSConfig{CertFile: f.Cert, KeyFile: f.CAKey}, tlsconf.ErrMismatch},
		{"fail/client-ca-missing", TLSConfig{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: missing}, tlsconf.ErrMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := tc.c.load(nil)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if (st != nil) != tc.c.enabled() {
					t.Fatalf("load = %v for %+v", st, tc.c)
				}
				return
			}
			if !errors.Is(err, tc.want) || StageOf(err) != StageTLS {
				t.Fatalf("err = %v (stage %q), want %v at stage tls", err, StageOf(err), tc.want)
			}
		})
	}
}

func TestBackendTransport(t *testing.T) {
	f, err := tlsconf.EnsureDev(filepath.Join(t.TempDir(), "tls"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	https := map[string][]*url.URL{"eu-central": {{Scheme: "https", Host: "10.0.0.1:8710"}}}
	plain := map[string][]*url.URL{"eu-central": {{Scheme: "https", Host: "10.0.0.1:8710"}, {Scheme: "http", Host: "10.0.0.2:8710"}}}

	if tr, reloads, err := (BackendTLSConfig{}).backendTransport(plain, nil); tr != nil || reloads != nil || err != nil {
		t.Errorf("ok/off: %v %v %v", tr, reloads, err)
	}
	tr, reloads, err := BackendTLSConfig{CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}.backendTransport(https, nil)
	if err != nil || tr == nil || len(reloads) != 1 {
		t.Errorf("ok/mtls: %v %v %v", tr, reloads, err)
	}
	if _, _, err := (BackendTLSConfig{CAFile: f.CA}).backendTransport(plain, nil); StageOf(err) != StageTLS {
		t.Errorf("fail/http-node: %v", err)
	}
	if _, _, err := (BackendTLSConfig{CertFile: f.Cert}).backendTransport(https, nil); StageOf(err) != StageTLS {
		t.Errorf("fail/cert-without-key: %v", err)
	}
}
