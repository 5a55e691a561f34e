package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// TestPolicyReload changes the running policy of `domicile dev` without a
// restart: SIGHUP with an edited --policy file takes effect on the next
// read; a broken file is refused and the old policy keeps serving (and the
// process lives); `domicile policy reload` sends a file through the API and
// refuses a change that would move a jurisdiction; `domicile policy
// status` shows the version each region serves; the audit log verifies
// and holds an entry for each accepted reload.
func TestPolicyReload(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	base := string(examples.Policy)
	const maskedEmail = "        email: masked\n        phone: clear\n        national_id: none"
	if strings.Count(base, maskedEmail) != 1 {
		t.Fatal("the example policy's support role changed; update the test")
	}
	clearEmail := strings.Replace(base, maskedEmail, "        email: clear\n        phone: clear\n        national_id: none", 1)
	polFile := filepath.Join(work, "policy.yaml")
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(polFile, base)
	s := startDev(t, filepath.Join(work, "data"), nil, "--no-seed", "--policy", polFile)
	admin := s.client(t)
	p, err := admin.CreatePrincipal(ctx, client.PrincipalRequest{ID: "agent", Kind: "person", Roles: []string{"support"}, Location: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(s.URL, p.Token, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "c-1", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Erika Mustermann", "email": "erika@example.com"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Records[0].ID
	email := func() string {
		t.Helper()
		rec, err := agent.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Fields["email"]
	}
	version := func() *client.PolicyInfo {
		t.Helper()
		p, err := admin.Policy(ctx, "eu-central")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// waitFor polls until cond holds; bounded, not a timing assertion.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("%s did not happen; stderr:\n%s", what, s.stderr)
	}
	cli := func(args ...string) (string, bool) {
		out, err := s.cli(args...)
		return out, err == nil
	}

	if got := email(); got == "erika@example.com" {
		t.Fatal("support sees the email in clear under the example policy")
	}
	first := version()
	if first.Version != 1 || first.Source != "file" {
		t.Fatalf("policy at start: %+v, want version 1 from the file", first)
	}

	// SIGHUP with an edited file.
	write(polFile, clearEmail)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the SIGHUP reload", func() bool { return version().Version == 2 })
	if got := email(); got != "erika@example.com" {
		t.Fatalf("after SIGHUP support sees %q, want the email in clear", got)
	}
	if p := version(); p.Source != "signal" {
		t.Fatalf("after SIGHUP: %+v, want source signal", p)
	}

	// SIGHUP with a broken file: refused, logged, the old policy serves.
	write(polFile, "version: 1\nregions: [\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the refusal's log line", func() bool { return strings.Contains(s.stderr.String(), "policy reload refused") })
	if got := email(); got != "erika@example.com" {
		t.Fatalf("after a broken SIGHUP support sees %q: the old policy must keep serving", got)
	}
	if p := version(); p.Version != 2 {
		t.Fatalf("after a broken SIGHUP: %+v, want version 2", p)
	}
	select {
	case <-s.done:
		t.Fatalf("the process died on SIGHUP:\n%s", s.stderr)
	default:
	}

	// The CLI: a refused change first, then the example policy again.
	moved := filepath.Join(work, "moved.yaml")
	write(moved, strings.Replace(clearEmail, "    jurisdictions: [RU]\n", "    jurisdictions: [RU, BR]\n", 1))
	text, ok := cli("policy", "reload", "--file", moved)
	if ok || !strings.Contains(text, "policy_change_refused") || !strings.Contains(text, "BR (us-east to ru-central)") {
		t.Fatalf("policy reload of a moved jurisdiction: ok=%v\n%s", ok, text)
	}
	exampleFile := filepath.Join(work, "example.yaml")
	write(exampleFile, base)
	text, ok = cli("policy", "reload", "--file", exampleFile)
	if !ok || strings.Count(text, "policy version 3 in force") != 4 {
		t.Fatalf("policy reload: ok=%v\n%s", ok, text)
	}
	if got := email(); got == "erika@example.com" {
		t.Fatal("after the CLI reload support still sees the email in clear")
	}
	text, ok = cli("policy", "status")
	if !ok || !strings.Contains(text, "eu-central") || !strings.Contains(text, first.Digest) {
		t.Fatalf("policy status: ok=%v\n%s", ok, text)
	}

	// The audit log holds both reloads and verifies.
	entries, err := admin.AuditEntries(ctx, "eu-central", url.Values{"action": {"admin"}, "limit": {"200"}})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, e := range entries.Entries {
		if strings.HasPrefix(e.Rule, "policy-reload:") {
			rules = append(rules, e.Principal+" "+e.Rule)
		}
	}
	if len(rules) != 2 || !strings.HasPrefix(rules[0], "system:sighup policy-reload:signal:v2:"+first.Digest+">") ||
		!strings.HasPrefix(rules[1], "admin policy-reload:api:v3:") || !strings.HasSuffix(rules[1], ">"+first.Digest) {
		t.Fatalf("policy-reload audit entries:\n%s", strings.Join(rules, "\n"))
	}
	pub, err := admin.AuditPublicKey(ctx, "eu-central")
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(work, "eu.pem")
	write(pubFile, string(pub))
	if text, ok := cli("audit", "verify", "--region", "eu-central", "--pubkey", pubFile); !ok || !strings.Contains(text, "ok:") {
		t.Fatalf("audit verify: ok=%v\n%s", ok, text)
	}
}

// TestPostgresPolicyConverges: two `domicile serve` nodes of eu-central on
// one PostgreSQL database. A policy sent to one node is stored once,
// audited once, and the other node swaps to it without a signal or a
// restart: its next read shows the new masking.
func TestPostgresPolicyConverges(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	var nodes [2]*server
	for i := range nodes {
		nodes[i] = startProc(t, nodeEnv("eu-central"), serveArgs("eu-central", db)...)
	}
	admin := func(i int) *client.Client {
		c, err := client.New(nodes[i].URL, e2eToken)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := range nodes {
		p, err := admin(i).Policy(ctx, "eu-central")
		if err != nil {
			t.Fatal(err)
		}
		if p.Version != 1 {
			t.Fatalf("node %d serves %+v at start, want version 1 (the file, stored once)", i, p)
		}
	}
	p, err := admin(0).CreatePrincipal(ctx, client.PrincipalRequest{ID: "agent", Kind: "person", Roles: []string{"support"}, Location: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(nodes[1].URL, p.Token, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := admin(0).Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "c-1", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Erika Mustermann", "email": "erika@example.com"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	email := func() string {
		t.Helper()
		rec, err := agent.Get(ctx, out.Records[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Fields["email"]
	}
	if got := email(); got == "erika@example.com" {
		t.Fatal("support sees the email in clear under the example policy")
	}

	src, err := os.ReadFile(loadPolicyFile())
	if err != nil {
		t.Fatal(err)
	}
	const maskedEmail = "        email: masked\n        phone: clear\n        national_id: none"
	doc := strings.Replace(string(src), maskedEmail, "        email: clear\n        phone: clear\n        national_id: none", 1)
	info, err := admin(0).ReloadPolicy(ctx, "eu-central", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 2 {
		t.Fatalf("reload through node 0: %+v, want version 2", info)
	}
	var got *client.PolicyInfo
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = admin(1).Policy(ctx, "eu-central"); err == nil && got.Version == 2 {
			break
		}
	}
	if got == nil || got.Version != 2 || got.Digest != info.Digest || got.Source != "store" {
		t.Fatalf("node 1 serves %+v (%v), want version 2 from the store with digest %s", got, err, info.Digest)
	}
	if e := email(); e != "erika@example.com" {
		t.Fatalf("node 1 converged, yet support sees %q; want the email in clear", e)
	}
	entries, err := admin(1).AuditEntries(ctx, "eu-central", url.Values{"action": {"admin"}, "limit": {"200"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries.Entries {
		if strings.HasPrefix(e.Rule, "policy-reload:") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d policy-reload audit entries in the region's log, want 1 (the node that accepted it)", n)
	}
}
