package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
)

// TLS end to end (issue 17): a region node and gateways on HTTPS with
// certificates from CAs made here, mutual TLS on both hops, a certificate
// reloaded on SIGHUP, and the CLI over https with --cacert.

// e2eCA is a CA made for one test; its certificate is in File.
type e2eCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	File string
	dir  string
}

func newE2ECA(t *testing.T, dir, name string) *e2eCA {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &e2eCA{cert: cert, key: key, File: filepath.Join(dir, name+".pem"), dir: dir}
	writePEMFile(t, ca.File, "CERTIFICATE", der)
	return ca
}

// issue makes a certificate for 127.0.0.1 and localhost, good for servers
// and clients, and returns its certificate and key files.
func (ca *e2eCA) issue(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, cn+".pem"), filepath.Join(ca.dir, cn+"-key.pem")
	writePEMFile(t, certFile, "CERTIFICATE", der)
	writePEMFile(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

// pool is a pool of the CA alone.
func (ca *e2eCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEMFile(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceFile puts from's content at to, atomically, as a deployment tool
// would.
func replaceFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

var httpsLine = regexp.MustCompile(`(?:listening on|running at) (https://127\.0\.0\.1:\d+)`)

// startTLSProc starts the binary with args and waits until it says it
// serves at an https:// URL. It is stopped when t ends.
func startTLSProc(t *testing.T, extraEnv []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	s := &server{t: t, cmd: cmd, Token: e2eToken}
	if err := spawn(s, matchURL(httpsLine)); err != nil {
		t.Fatalf("domicile %s %v", args[0], err)
	}
	s.stopWith(t)
	return s
}

// tlsClient is a client of the API at u as the administrator, trusting
// roots and presenting cert (none when cert is nil).
func tlsClient(t *testing.T, u string, roots *x509.CertPool, cert *tls.Certificate) *client.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c, err := client.New(u, e2eToken, client.WithTLSConfig(cfg), client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// peerName dials u with TLS and returns the common name of the
// certificate the server presents.
func peerName(t *testing.T, u string, roots *x509.CertPool, cert tls.Certificate) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	d := &tls.Dialer{Config: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	c, err := d.DialContext(context.Background(), "tcp", pu.Host)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA := newE2ECA(t, dir, "server-ca") // signs the node's and the gateways' server certificates
	clientCA := newE2ECA(t, dir, "client-ca") // signs the certificates of callers and of the gateway towards nodes
	rogueCA := newE2ECA(t, dir, "rogue-ca")   // signs certificates nobody should accept
	nodeCert, nodeKey := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	c1, k1 := serverCA.issue(t, "node-1")
	replaceFile(t, c1, nodeCert)
	replaceFile(t, k1, nodeKey)
	gwCert, gwKey := serverCA.issue(t, "gateway")
	gwClientCert, gwClientKey := clientCA.issue(t, "gateway-client")
	rogueClientCert, rogueClientKey := rogueCA.issue(t, "rogue-gateway")
	callerCertFile, callerKeyFile := clientCA.issue(t, "caller")
	callerCert, err := tls.LoadX509KeyPair(callerCertFile, callerKeyFile)
	if err != nil {
		t.Fatal(err)
	}

	node := startTLSProc(t, nodeEnv("eu-central"), "serve", "--region", "eu-central", "--data", filepath.Join(dir, "eu"),
		"--listen", "127.0.0.1:0", "--admin-location", "DE", "--policy", loadPolicyFile(),
		"--tls-cert", nodeCert, "--tls-key", nodeKey, "--client-ca", clientCA.File)
	gateway := func(callerCA, backendCert, backendKey string) *server {
		args := []string{"gateway", "--listen", "127.0.0.1:0", "--policy", loadPolicyFile(), "--tls-cert", gwCert, "--tls-key", gwKey,
			"--backend-ca", serverCA.File, "--backend-cert", backendCert, "--backend-key", backendKey}
		if callerCA != "" {
			args = append(args, "--client-ca", callerCA)
		}
		for _, r := range exampleRegions {
			u := "https://127.0.0.1:9" // nothing listens: only eu-central is asked
			if r == "eu-central" {
				u = node.URL
			}
			args = append(args, "--region", r+"="+u)
		}
		return startTLSProc(t, nil, args...)
	}
	mtlsGW := gateway(clientCA.File, gwClientCert, gwClientKey)
	openGW := gateway("", gwClientCert, gwClientKey)
	rogueGW := gateway("", rogueClientCert, rogueClientKey)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Through the mTLS gateway with a caller certificate: a record is
	// created in eu-central over TLS on both hops.
	out, err := tlsClient(t, mtlsGW.URL, serverCA.pool(), &callerCert).Create(ctx, []client.NewRecord{{Collection: "customers",
		Subject: "tls-1", Jurisdiction: "DE", Fields: map[string]string{"name": "Anna Schmidt", "email": "anna@example.com"}}}, "")
	if err != nil {
		t.Fatalf("create through the mTLS gateway: %v\ngateway:\n%s\nnode:\n%s", err, mtlsGW.stderr, node.stderr)
	}
	id := out.Records[0].ID

	t.Run("fail/caller-without-certificate", func(t *testing.T) {
		if _, err := tlsClient(t, mtlsGW.URL, serverCA.pool(), nil).Get(ctx, id); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("a caller without a certificate: %v, want a TLS refusal", err)
		}
		rogue, err := tls.LoadX509KeyPair(rogueClientCert, rogueClientKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tlsClient(t, mtlsGW.URL, serverCA.pool(), &rogue).Get(ctx, id); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("a caller whose certificate another CA signed: %v, want a TLS refusal", err)
		}
	})

	t.Run("fail/gateway-certificate-not-from-node-client-ca", func(t *testing.T) {
		_, err := tlsClient(t, rogueGW.URL, serverCA.pool(), nil).Get(ctx, id)
		if err == nil || !strings.Contains(err.Error(), "unavailable") {
			t.Fatalf("through a gateway whose certificate the node's client CA did not sign: %v, want region unavailable", err)
		}
		// The node logs the handshake it refused on its own goroutine,
		// possibly after the gateway has answered.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(node.stderr.String(), "TLS handshake failed"); time.Sleep(20 * time.Millisecond) { // a bound, not a speed limit
			if time.Now().After(deadline) {
				t.Errorf("the node did not log the refused handshake:\n%s", node.stderr)
				break
			}
		}
		if _, err := tlsClient(t, openGW.URL, serverCA.pool(), nil).Get(ctx, id); err != nil {
			t.Fatalf("the same request through a gateway with the right certificate: %v", err)
		}
	})

	t.Run("ok/cli-records-get-with-cacert", func(t *testing.T) {
		cmd := exec.Command(binary, "records", "get", id, "--addr", openGW.URL, "--cacert", serverCA.File, "--purpose", "support")
		cmd.Env = append(os.Environ(), "DOMICILE_TOKEN="+e2eToken, "DOMICILE_CACERT=")
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), id) {
			t.Fatalf("records get --cacert: %v\n%s", err, b)
		}
		cmd = exec.Command(binary, "records", "get", id, "--addr", openGW.URL)
		cmd.Env = append(os.Environ(), "DOMICILE_TOKEN="+e2eToken, "DOMICILE_CACERT=")
		if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "certificate") || !strings.Contains(string(b), "hint: trust the server's CA with --cacert") {
			t.Fatalf("records get without --cacert: %v\n%s", err, b)
		}
		// The mTLS gateway: the CLI presents a client certificate, or is
		// told to.
		cmd = exec.Command(binary, "records", "get", id, "--addr", mtlsGW.URL, "--cacert", serverCA.File, "--purpose", "support",
			"--client-cert", callerCertFile, "--client-key", callerKeyFile)
		cmd.Env = append(os.Environ(), "DOMICILE_TOKEN="+e2eToken, "DOMICILE_CACERT=")
		if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), id) {
			t.Fatalf("records get --client-cert through the mTLS gateway: %v\n%s", err, b)
		}
		cmd = exec.Command(binary, "records", "get", id, "--addr", mtlsGW.URL, "--cacert", serverCA.File)
		cmd.Env = append(os.Environ(), "DOMICILE_TOKEN="+e2eToken, "DOMICILE_CACERT=")
		if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "--client-cert") {
			t.Fatalf("records get without a client certificate through the mTLS gateway: %v\n%s", err, b)
		}
	})

	t.Run("ok/sighup-reloads-the-certificate", func(t *testing.T) {
		if got := peerName(t, node.URL, serverCA.pool(), callerCert); got != "node-1" {
			t.Fatalf("the node presents %s, want node-1", got)
		}
		c2, k2 := serverCA.issue(t, "node-2")
		replaceFile(t, k2, nodeKey)
		replaceFile(t, c2, nodeCert)
		if err := node.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return peerName(t, node.URL, serverCA.pool(), callerCert) == "node-2" },
			func() string { return "the node still presents node-1 after SIGHUP:\n" + node.stderr.String() })
		// A bad new pair (the key of another certificate) is refused,
		// logged, and the node keeps node-2.
		_, k3 := serverCA.issue(t, "node-3")
		replaceFile(t, k3, nodeKey)
		node.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, func() bool { return strings.Contains(node.stderr.String(), "TLS reload failed") },
			func() string { return "no reload failure logged:\n" + node.stderr.String() })
		if got := peerName(t, node.URL, serverCA.pool(), callerCert); got != "node-2" {
			t.Fatalf("after a failed reload the node presents %s, want node-2", got)
		}
		// Requests still pass through the gateway (new connections
		// verify node-2 against the same CA).
		if _, err := tlsClient(t, openGW.URL, serverCA.pool(), nil).Get(ctx, id); err != nil {
			t.Fatalf("through the gateway after the reload: %v", err)
		}
		if strings.Contains(node.stderr.String(), "PRIVATE KEY") {
			t.Error("the node logged key material")
		}
	})
}

// TestDevTLS: `domicile dev --tls` makes a local CA, says how to trust it,
// and the CLI works with DOMICILE_CACERT.
func TestDevTLS(t *testing.T) {
	data := t.TempDir()
	s := startTLSProc(t, nil, "dev", "--data", data, "--listen", "127.0.0.1:0", "--no-seed", "--tls")
	ca := filepath.Join(data, "tls", "ca.pem")
	waitFor(t, func() bool { return strings.Contains(s.stdout.String(), "--cacert") },
		func() string { return "the banner has no curl --cacert example:\n" + s.stdout.String() })
	if !strings.Contains(s.stdout.String(), ca) {
		t.Errorf("the banner does not name %s:\n%s", ca, s.stdout)
	}
	for _, key := range []string{"ca-key.pem", "server-key.pem"} {
		fi, err := os.Stat(filepath.Join(data, "tls", key))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", key, fi.Mode().Perm())
		}
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DOMICILE_ADDR="+s.URL, "DOMICILE_TOKEN="+strings.TrimSpace(string(tok)), "DOMICILE_CACERT="+ca)
	put := exec.Command(binary, "records", "put", "--collection", "customers", "--jurisdiction", "DE", "--subject", "dev-tls-1",
		"--field", "name=Anna Schmidt", "--field", "email=anna@example.com")
	put.Env = env
	b, err := put.CombinedOutput()
	if err != nil {
		t.Fatalf("records put over https: %v\n%s", err, b)
	}
	id := regexp.MustCompile(`rec_[A-Za-z0-9_-]+`).FindString(string(b))
	if id == "" {
		t.Fatalf("records put printed no id:\n%s", b)
	}
	get := exec.Command(binary, "records", "get", id)
	get.Env = env
	if b, err := get.CombinedOutput(); err != nil || !strings.Contains(string(b), id) {
		t.Fatalf("records get over https: %v\n%s", err, b)
	}
}

// waitFor polls ok for a few seconds; it fails the test with msg() when ok
// never holds.
func waitFor(t *testing.T, ok func() bool, msg func() string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal(msg())
}
