package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/unseal"
)

// sealNode is a `domicile serve` node of eu-central started with
// --start-sealed over a region that an earlier start created with secret.
type sealNode struct {
	base   string
	admin  *client.Client
	anon   *client.Client
	id     string // a record written before the node was sealed
	secret []byte
	done   chan error
	cancel context.CancelFunc
}

func startSealedNode(t *testing.T, hsm func(context.Context) ([]byte, error)) *sealNode {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "eu")
	secret := []byte("the eu-central unseal secret, for tests")
	token := access.NewToken()

	// A first start, unsealed, writes a record.
	r, err := OpenRegion(ctx, RegionConfig{Policy: examplePolicy(t), Name: "eu-central", Dir: dir, Secret: secret, KDF: benchKDF})
	if err != nil {
		t.Fatal(err)
	}
	admin := access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "DE"}
	if err := EnsurePrincipals(ctx, []*Region{r}, []Bootstrap{{Account: admin, Token: token}}); err != nil {
		t.Fatal(err)
	}
	s, err := listen("127.0.0.1:0", r.Handler, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(s.URL(), token)
	out, err := c.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "c-1", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Erika Mustermann", "email": "erika@example.com"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	s.shutdown(ctx)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// The node under test starts sealed.
	sctx, cancel := context.WithCancel(ctx)
	n := &sealNode{id: out.Records[0].ID, secret: secret, done: make(chan error, 1), cancel: cancel}
	urls := make(chan string, 1)
	go func() {
		n.done <- Serve(sctx, ServeConfig{Policy: examplePolicy(t), Region: "eu-central", Dir: dir, KDF: benchKDF,
			AdminToken: token, AdminLocation: "DE", Listen: "127.0.0.1:0", StartSealed: true, HSMUnseal: hsm,
			Listening: func(u string) { urls <- u }})
	}()
	select {
	case n.base = <-urls:
	case err := <-n.done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not listen")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-n.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	n.admin, _ = client.New(n.base, token)
	n.anon, _ = client.New(n.base, "")
	return n
}

// problemOf returns err's problem, failing the test when it is none.
func problemOf(t *testing.T, err error) client.Problem {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want an API problem, got %v", err)
	}
	return ce.Problem
}

func wantSealed(t *testing.T, n *sealNode) {
	t.Helper()
	_, err := n.admin.Get(context.Background(), n.id)
	p := problemOf(t, err)
	if p.Code != "region_sealed" || p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Hint, "domicile keys unseal --region eu-central") {
		t.Fatalf("sealed region answered %+v", p)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503} {
		resp, err := http.Get(n.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("sealed: GET %s: %s, want %d", path, resp.Status, want)
		}
	}
}

func split(t *testing.T, secret []byte, n, m int) []string {
	t.Helper()
	shares, err := unseal.Split(secret, n, m, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, n)
	for i, s := range shares {
		out[i] = s.String()
	}
	return out
}

// corrupt changes one character of a share's data.
func corrupt(share string) string {
	b := []byte(share)
	i := len(b) - 3
	if b[i] == 'a' {
		b[i] = 'b'
	} else {
		b[i] = 'a'
	}
	return string(b)
}

// TestSealStateMachine: a node started sealed answers region_sealed,
// takes shares one by one (refusing bad ones by name, never echoing
// them), unseals at the threshold without a restart and serves the data
// written before; sealed through the API it refuses again, and unseals
// with its HSM; the audit log records each step.
func TestSealStateMachine(t *testing.T) {
	ctx := context.Background()
	var hsmCalls atomic.Int32
	var n *sealNode
	n = startSealedNode(t, func(context.Context) ([]byte, error) {
		hsmCalls.Add(1)
		return bytes.Clone(n.secret), nil
	})
	wantSealed(t, n)
	shares := split(t, n.secret, 5, 3)
	other := split(t, []byte("another secret altogether"), 5, 3)

	st, err := n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: shares[0]})
	if err != nil || !st.Sealed || st.Progress != 1 || st.Threshold != 3 || !st.HSM {
		t.Fatalf("first share: %+v, %v", st, err)
	}
	refusals := []struct {
		name string
		req  client.UnsealRequest
		want string
	}{
		{"fail/checksum", client.UnsealRequest{Share: corrupt(shares[1])}, "checksum"},
		{"fail/format", client.UnsealRequest{Share: "not-a-share"}, "not a domicile share"},
		{"fail/duplicate", client.UnsealRequest{Share: shares[0]}, "given already"},
		{"fail/mixed", client.UnsealRequest{Share: other[1]}, "another split"},
		{"fail/two-at-once", client.UnsealRequest{Share: shares[1], Reset: true}, "exactly one"},
		{"fail/empty", client.UnsealRequest{}, "exactly one"},
	}
	for _, tt := range refusals {
		_, err := n.anon.Unseal(ctx, "eu-central", tt.req)
		p := problemOf(t, err)
		if p.Code != "invalid_request" || p.Status != 400 || !strings.Contains(p.Detail, tt.want) {
			t.Errorf("%s: %+v", tt.name, p)
		}
		if len(tt.req.Share) > 40 && strings.Contains(p.Detail+p.Hint, tt.req.Share[20:36]) {
			t.Errorf("%s: the problem echoes the share: %+v", tt.name, p)
		}
	}
	if _, err := n.anon.Unseal(ctx, "us-east", client.UnsealRequest{Share: shares[1]}); problemOf(t, err).Code != "unknown_region" {
		t.Errorf("another region's unseal: %v", err)
	}
	// A raw body naming a secret file is refused: no such field.
	resp, err := http.Post(n.base+"/v1/regions/eu-central/unseal", "application/json", strings.NewReader(`{"secret_file":"/etc/shadow"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("secret_file: %s, want 400", resp.Status)
	}

	if st, err = n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: shares[3]}); err != nil || !st.Sealed || st.Progress != 2 {
		t.Fatalf("second share: %+v, %v", st, err)
	}
	wantSealed(t, n)
	if st, err = n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: shares[4]}); err != nil || st.Sealed {
		t.Fatalf("third share: %+v, %v", st, err)
	}
	rec, err := n.admin.Get(ctx, n.id)
	if err != nil || rec.ID != n.id || rec.Fields["name"] == "" {
		t.Fatalf("after unseal: %+v, %v", rec, err)
	}
	// Unsealed, the route tells its state and takes nothing.
	if st, err = n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: shares[0]}); err != nil || st.Sealed || st.Progress != 0 {
		t.Fatalf("unseal of an unsealed region: %+v, %v", st, err)
	}

	// Sealing needs an admin.
	if _, err := n.anon.Seal(ctx, "eu-central"); problemOf(t, err).Code != "unauthenticated" {
		t.Fatalf("seal without a token: %v", err)
	}
	// Reads in flight while sealing end in an answer, never a 500.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad atomic.Value
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := n.admin.Get(ctx, n.id)
				var ce *client.Error
				if err != nil && (!errors.As(err, &ce) || ce.Problem.Code != "region_sealed") {
					bad.Store(err)
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if st, err = n.admin.Seal(ctx, "eu-central"); err != nil || !st.Sealed {
		t.Fatalf("seal: %+v, %v", st, err)
	}
	wantSealed(t, n)
	if st, err = n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{HSM: true}); err != nil || st.Sealed || hsmCalls.Load() != 1 {
		t.Fatalf("unseal with the HSM: %+v, %v (%d calls)", st, err, hsmCalls.Load())
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err, _ := bad.Load().(error); err != nil {
		t.Errorf("a read while sealing: %v", err)
	}
	if _, err := n.admin.Get(ctx, n.id); err != nil {
		t.Fatalf("after the HSM unseal: %v", err)
	}

	// The audit log has the seal and both unseals, in order.
	entries, err := n.admin.AuditEntries(ctx, "eu-central", url.Values{"action": {"admin"}, "limit": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, e := range entries.Entries {
		if e.Rule == "seal" || strings.HasPrefix(e.Rule, "unseal:") {
			rules = append(rules, e.Rule)
		}
	}
	if want := []string{"unseal:shamir", "seal", "unseal:pkcs11"}; strings.Join(rules, " ") != strings.Join(want, " ") {
		t.Errorf("audit rules %q, want %q", rules, want)
	}
}

// TestUnsealWrongSecretAndReset: shares that combine into another
// region's secret are refused and dropped; a reset drops shares.
func TestUnsealWrongSecretAndReset(t *testing.T) {
	ctx := context.Background()
	n := startSealedNode(t, nil)
	wrong := split(t, []byte("the unseal secret of another region"), 3, 2)
	if _, err := n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: wrong[0]}); err != nil {
		t.Fatal(err)
	}
	_, err := n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: wrong[1]})
	if p := problemOf(t, err); p.Code != "invalid_request" || !strings.Contains(p.Detail, "not into region eu-central's unseal secret") {
		t.Fatalf("wrong secret: %+v", p)
	}
	if _, err := n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{HSM: true}); problemOf(t, err).Code != "invalid_request" {
		t.Fatalf("hsm on a node without one: %v", err)
	}
	good := split(t, n.secret, 3, 2)
	st, err := n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: good[0]})
	if err != nil || st.Progress != 1 {
		t.Fatalf("after the wrong secret, shares start again: %+v, %v", st, err)
	}
	if st, err = n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Reset: true}); err != nil || st.Progress != 0 || !st.Sealed {
		t.Fatalf("reset: %+v, %v", st, err)
	}
	for i, s := range []string{good[2], good[1]} {
		if st, err = n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: s}); err != nil {
			t.Fatalf("share %d: %v", i, err)
		}
	}
	if st.Sealed {
		t.Fatalf("2 of 2 shares: %+v", st)
	}
	wantJSON, _ := json.Marshal(st)
	if !bytes.Contains(wantJSON, []byte(`"sealed":false`)) {
		t.Errorf("status %s", wantJSON)
	}
}

// TestUnsealRateLimit: refusals spend the node's budget; over it even a
// good share waits for Retry-After.
func TestUnsealRateLimit(t *testing.T) {
	now := time.Unix(1e9, 0)
	b := newFailBudget(unsealBurst, unsealRefill, func() time.Time { return now })
	for i := range unsealBurst {
		if ok, _ := b.admit(); !ok {
			t.Fatalf("refused after %d failures", i)
		}
		b.fail()
	}
	ok, retry := b.admit()
	if ok || retry <= 0 || retry > unsealRefill {
		t.Fatalf("over budget: admitted %v, retry %v", ok, retry)
	}
	now = now.Add(unsealRefill)
	if ok, _ := b.admit(); !ok {
		t.Fatal("not admitted after a refill")
	}

	n := startSealedNode(t, nil)
	ctx := context.Background()
	for range unsealBurst {
		n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: "dms1-bad"})
	}
	share := split(t, n.secret, 3, 2)[0]
	_, err := n.anon.Unseal(ctx, "eu-central", client.UnsealRequest{Share: share})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Problem.Code != "rate_limited" || ce.Problem.Status != http.StatusTooManyRequests {
		t.Fatalf("over budget: %v", err)
	}
}
