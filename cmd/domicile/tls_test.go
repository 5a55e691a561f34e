package main

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/tlsconf"
)

// TestTLSFlags: TLS flag mistakes fail before anything starts, and each
// error says what to do.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	f, err := tlsconf.EnsureDev(filepath.Join(dir, "tls"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope.pem")
	env := map[string]string{"DOMICILE_UNSEAL_EU_CENTRAL": "x", "DOMICILE_ADMIN_TOKEN": "dmc_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst", "DOMICILE_TOKEN": "t"}
	serve := []string{"serve", "--region", "eu-central", "--data", filepath.Join(dir, "eu"), "--listen", "127.0.0.1:0"}
	gw := []string{"gateway", "--listen", "127.0.0.1:0", "--region", "cn-north=http://127.0.0.1:9", "--region", "eu-central=https://127.0.0.1:9",
		"--region", "ru-central=https://127.0.0.1:9", "--region", "us-east=https://127.0.0.1:9"}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"fail/cert-without-key", append(serve, "--tls-cert", f.Cert), 2, []string{"--tls-cert and --tls-key go together", "hint: pass both"}},
		{"fail/client-ca-without-cert", append(serve, "--client-ca", f.CA), 2, []string{"--client-ca needs --tls-cert", "hint:"}},
		{"fail/missing-cert", append(serve, "--tls-cert", missing, "--tls-key", f.Key), 1, []string{missing + ": file does not exist", "hint: check the path"}},
		{"fail/mismatched-key", append(serve, "--tls-cert", f.Cert, "--tls-key", f.CAKey), 1, []string{"does not match the certificate", "hint: give the key that"}},
		{"fail/swapped", append(serve, "--tls-cert", f.Key, "--tls-key", f.Cert), 1, []string{"no PEM certificate", "hint: this file holds a private key: are the certificate and key files swapped?"}},
		{"fail/backend-cert-without-key", append(gw, "--backend-cert", f.Cert), 2, []string{"--backend-cert and --backend-key go together"}},
		{"fail/backend-tls-http-node", append(gw, "--backend-ca", f.CA), 1, []string{"region cn-north's node http://127.0.0.1:9 is not an https:// URL", "hint: address the nodes by https:// URLs"}},
		{"fail/cacert-missing", []string{"records", "get", "rec_1", "--addr", "https://127.0.0.1:9", "--cacert", missing}, 1, []string{"--cacert", "hint: check --cacert or DOMICILE_CACERT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code, stdout, stderr := cliRun(ctx, env, "", false, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stdout, "listening on") {
				t.Errorf("it started:\n%s", stdout)
			}
		})
	}
}

// TestClientCertificateAsked: a server that asks for a client certificate
// the CLI was not given, and then drops the connection without a TLS
// alert (as a TLS 1.3 server's refusal can reach the client: the
// client's handshake ends before the server checks its certificate), still
// gets the hint to pass one.
func TestClientCertificateAsked(t *testing.T) {
	dir := t.TempDir()
	f, err := tlsconf.EnsureDev(filepath.Join(dir, "tls"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{kp}, ClientAuth: tls.RequestClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			// Drop the connection without an alert.
			_ = c.(*tls.Conn).NetConn().Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := map[string]string{"DOMICILE_TOKEN": "t"}
	code, _, stderr := cliRun(ctx, env, "", false, "records", "get", "rec_1", "--addr", "https://"+ln.Addr().String(), "--cacert", f.CA)
	if code != 1 || !strings.Contains(stderr, "hint: the server requires a client certificate: pass --client-cert") {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
}
