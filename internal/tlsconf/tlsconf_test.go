package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a CA made for one test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	file string // its PEM certificate
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, name+".pem")
	if err := writePEM(file, "CERTIFICATE", der, 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// issue writes a certificate for cn signed by the CA, valid from nb to
// na, and its key, and returns the two files.
func (ca *testCA) issue(t *testing.T, dir, cn string, nb, na time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := sign(tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
	if err := writePEM(certFile, "CERTIFICATE", der, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeKey(keyFile, key); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func (ca *testCA) valid(t *testing.T, dir, cn string) (string, string) {
	now := time.Now()
	return ca.issue(t, dir, cn, now.Add(-time.Hour), now.Add(time.Hour*24))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKeyPair(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	now := time.Now()
	cert, key := ca.valid(t, dir, "a")
	_, otherKey := ca.valid(t, dir, "b")
	expCert, expKey := ca.issue(t, dir, "expired", now.Add(-48*time.Hour), now.Add(-time.Hour))
	futCert, futKey := ca.issue(t, dir, "future", now.Add(time.Hour), now.Add(48*time.Hour))
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not pem"), 0o600)
	encrypted := filepath.Join(dir, "enc.pem")
	os.WriteFile(encrypted, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	missing := filepath.Join(dir, "nope.pem")

	for _, tc := range []struct {
		name, cert, key string
		want            error
		hint            string
	}{
		{"ok/valid", cert, key, nil, ""},
		{"fail/missing-cert", missing, key, ErrMissing, "check the path"},
		{"fail/missing-key", cert, missing, ErrMissing, "check the path"},
		{"fail/mismatch", cert, otherKey, ErrMismatch, "give the key that"},
		{"fail/expired", expCert, expKey, ErrExpired, "renew it"},
		{"fail/not-yet-valid", futCert, futKey, ErrNotYetValid, "clock"},
		{"fail/swapped", key, cert, ErrNoCertificate, "swapped"},
		{"fail/not-pem", garbage, key, ErrNoCertificate, "must be PEM"},
		{"fail/encrypted-key", cert, encrypted, ErrNoKey, "decrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadKeyPair(tc.cert, tc.key, now)
			if tc.want == nil {
				if err != nil || c.Leaf == nil || c.Leaf.Subject.CommonName != "a" {
					t.Fatalf("LoadKeyPair = %v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if h := Hint(err); !strings.Contains(h, tc.hint) {
				t.Errorf("hint %q, want it to say %q", h, tc.hint)
			}
			var e *Error
			if !errors.As(err, &e) || e.Path == "" || !strings.HasPrefix(err.Error(), e.Path+": ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	cert, key := filepath.Join(dir, "live.pem"), filepath.Join(dir, "live-key.pem")
	c1, k1 := ca.valid(t, dir, "first")
	copyFile(t, c1, cert)
	copyFile(t, k1, key)
	var logs bytes.Buffer
	r, err := NewReloader(cert, key, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.Subject.CommonName
	}
	if served() != "first" {
		t.Fatalf("serves %s", served())
	}

	t.Run("ok/new-pair", func(t *testing.T) {
		c2, k2 := ca.valid(t, dir, "second")
		copyFile(t, c2, cert)
		copyFile(t, k2, key)
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		if served() != "second" {
			t.Fatalf("after reload serves %s", served())
		}
	})
	t.Run("fail/mismatched-key-keeps-old", func(t *testing.T) {
		c3, _ := ca.valid(t, dir, "third")
		copyFile(t, c3, cert) // the key file still holds second's key
		if err := r.Reload(); !errors.Is(err, ErrMismatch) {
			t.Fatalf("reload = %v, want ErrMismatch", err)
		}
		if served() != "second" {
			t.Fatalf("after a failed reload serves %s", served())
		}
	})
	t.Run("fail/expired-keeps-old", func(t *testing.T) {
		now := time.Now()
		c4, k4 := ca.issue(t, dir, "fourth", now.Add(-48*time.Hour), now.Add(-time.Hour))
		copyFile(t, c4, cert)
		copyFile(t, k4, key)
		if err := r.Reload(); !errors.Is(err, ErrExpired) {
			t.Fatalf("reload = %v, want ErrExpired", err)
		}
		if served() != "second" {
			t.Fatalf("after a failed reload serves %s", served())
		}
	})
	t.Run("fail/missing-keeps-old", func(t *testing.T) {
		os.Remove(cert)
		if err := r.Reload(); !errors.Is(err, ErrMissing) {
			t.Fatalf("reload = %v, want ErrMissing", err)
		}
		if served() != "second" {
			t.Fatalf("after a failed reload serves %s", served())
		}
	})
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the log shows key material")
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	now := time.Now()
	cert, key := ca.issue(t, dir, "soon", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if _, err := NewReloader(cert, key, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"expires in", "chmod 600"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestLoadCAPool(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	_, key := ca.valid(t, dir, "a")
	if _, err := LoadCAPool(ca.file, time.Now()); err != nil {
		t.Fatalf("ok: %v", err)
	}
	if _, err := LoadCAPool(key, time.Now()); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("a key file as CA: %v", err)
	}
	if _, err := LoadCAPool(filepath.Join(dir, "nope"), time.Now()); !errors.Is(err, ErrMissing) {
		t.Errorf("missing CA: %v", err)
	}
	if _, err := LoadCAPool(ca.file, time.Now().Add(48*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired CA: %v", err)
	}
}

// handshake runs a TLS handshake between the two configurations over
// loopback TCP and returns the client's and the server's errors.
func handshake(t *testing.T, server, client *tls.Config) (cerr, serr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(c, server)
		err = s.Handshake()
		if err == nil {
			// TLS 1.3 servers learn of a refused certificate only after
			// their side of the handshake.
			_, err = s.Write([]byte("x"))
		}
		if err == nil {
			_, err = s.Read(make([]byte, 1))
		}
		done <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(conn, client)
	cerr = c.Handshake()
	if cerr == nil {
		_, cerr = c.Read(make([]byte, 1))
	}
	if cerr == nil {
		_, cerr = c.Write([]byte("y"))
	}
	serr = <-done
	conn.Close()
	return cerr, serr
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	other := newTestCA(t, dir, "other")
	pool, err := LoadCAPool(ca.file, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sc, sk := ca.valid(t, dir, "server")
	srv, err := NewReloader(sc, sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, ck := ca.valid(t, dir, "client")
	good, err := NewReloader(cc, ck, nil)
	if err != nil {
		t.Fatal(err)
	}
	oc, ok := other.valid(t, dir, "stranger")
	stranger, err := NewReloader(oc, ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	withName := func(c *tls.Config) *tls.Config { c.ServerName = "localhost"; return c }

	if cerr, serr := handshake(t, Server(srv, pool), withName(Client(pool, good))); cerr != nil || serr != nil {
		t.Errorf("ok/mtls: client %v, server %v", cerr, serr)
	}
	if cerr, serr := handshake(t, Server(srv, nil), withName(Client(pool, nil))); cerr != nil || serr != nil {
		t.Errorf("ok/server-only: client %v, server %v", cerr, serr)
	}
	if _, serr := handshake(t, Server(srv, pool), withName(Client(pool, nil))); serr == nil {
		t.Error("fail/no-client-cert: the server accepted a client without a certificate")
	}
	if _, serr := handshake(t, Server(srv, pool), withName(Client(pool, stranger))); serr == nil {
		t.Error("fail/unknown-client-ca: the server accepted a client certificate of another CA")
	}
	otherPool, _ := LoadCAPool(other.file, time.Now())
	if cerr, _ := handshake(t, Server(srv, nil), withName(Client(otherPool, nil))); cerr == nil {
		t.Error("fail/unknown-server-ca: the client accepted a server certificate of another CA")
	}
}

func TestEnsureDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	f, err := EnsureDev(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{f.CAKey, f.Key} {
		fi, err := os.Stat(key)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", key, fi.Mode().Perm())
		}
	}
	pool, err := LoadCAPool(f.CA, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := LoadKeyPair(f.Cert, f.Key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("server key is %T, want ECDSA", pair.PrivateKey)
	}
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	caBefore, _ := os.ReadFile(f.CA)
	if _, err := EnsureDev(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if caAfter, _ := os.ReadFile(f.CA); !bytes.Equal(caBefore, caAfter) {
		t.Error("a second start replaced a valid dev CA")
	}
	if _, err := EnsureDev(dir, time.Now().Add(devCAValidity)); err != nil {
		t.Fatal(err)
	}
	if caAfter, _ := os.ReadFile(f.CA); bytes.Equal(caBefore, caAfter) {
		t.Error("an expiring dev CA was kept")
	}
}
