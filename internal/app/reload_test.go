package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/web"
)

// supportSeesEmail is the example policy with the support role's email
// shown in clear instead of masked: a change a reload may make.
func supportSeesEmail(t *testing.T) []byte {
	t.Helper()
	const old = "        email: masked\n        phone: clear\n        national_id: none"
	s := string(examples.Policy)
	if strings.Count(s, old) != 1 {
		t.Fatal("the example policy's support role changed; update the test")
	}
	return []byte(strings.Replace(s, old, "        email: clear\n        phone: clear\n        national_id: none", 1))
}

// reloadNode is one eu-central node serving over HTTP, with an admin and a
// support principal.
type reloadNode struct {
	r              *Region
	s              *server
	admin, support *client.Client
	metrics        *web.Metrics
}

// policyMetrics returns the node's domicile_policy_version and the digest
// label of domicile_policy_info.
func (n *reloadNode) policyMetrics(t *testing.T) (version float64, digest string) {
	t.Helper()
	mfs, err := n.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "domicile_policy_version":
				version = m.GetGauge().GetValue()
			case "domicile_policy_info":
				for _, l := range m.GetLabel() {
					if l.GetName() == "digest" {
						digest = l.GetValue()
					}
				}
			}
		}
	}
	return version, digest
}

func (n *reloadNode) close(t *testing.T) {
	t.Helper()
	n.s.shutdown(context.Background())
	if err := n.r.Close(); err != nil {
		t.Fatal(err)
	}
}

var reloadTokens = struct{ admin, support string }{access.NewToken(), access.NewToken()}

func startReloadNode(t *testing.T, dir string, doc []byte, mtime time.Time) *reloadNode {
	return startReloadNodePoll(t, dir, doc, mtime, 10*time.Millisecond)
}

// startReloadNodePoll is startReloadNode looking for a newer stored
// policy every poll (negative: never).
func startReloadNodePoll(t *testing.T, dir string, doc []byte, mtime time.Time, poll time.Duration) *reloadNode {
	t.Helper()
	ctx := context.Background()
	pol, err := region.ParsePolicy("policy.yaml", doc)
	if err != nil {
		t.Fatal(err)
	}
	metrics := web.NewMetrics()
	r, err := OpenRegion(ctx, RegionConfig{Policy: pol, PolicyDoc: doc, PolicyTime: mtime, PolicyPoll: poll, Metrics: metrics,
		Name: "eu-central", Dir: dir, Secret: []byte("the eu-central unseal secret, for tests"), KDF: benchKDF})
	if err != nil {
		t.Fatal(err)
	}
	err = EnsurePrincipals(ctx, []*Region{r}, []Bootstrap{
		{Account: access.Account{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: "DE"}, Token: reloadTokens.admin},
		{Account: access.Account{ID: "agent", Kind: "person", Roles: []string{"support"}, Location: "DE"}, Token: reloadTokens.support}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := listen("127.0.0.1:0", r.Handler, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := client.New(s.URL(), reloadTokens.admin, client.WithPurpose("operations"))
	support, _ := client.New(s.URL(), reloadTokens.support, client.WithPurpose("support"))
	return &reloadNode{r: r, s: s, admin: admin, support: support, metrics: metrics}
}

// email returns the email of record id as the support agent reads it.
func (n *reloadNode) email(t *testing.T, id string) string {
	t.Helper()
	rec, err := n.support.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Fields["email"]
}

// TestPolicyReload: a reload through the API changes what the next read
// shows; bad policies are refused with their codes and the old one keeps
// serving; the change is audited; a restart keeps the stored policy over
// an older file and takes a newer file.
func TestPolicyReload(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "eu")
	n := startReloadNode(t, dir, examples.Policy, time.Time{})
	out, err := n.admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "c-1", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Erika Mustermann", "email": "erika@example.com"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Records[0].ID
	if got := n.email(t, id); got == "erika@example.com" {
		t.Fatalf("support sees the email in clear before the reload")
	}
	first, err := n.admin.Policy(ctx, "eu-central")
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != 1 || first.Source != region.PolicyFromFile || !strings.HasPrefix(first.Digest, "sha256:") {
		t.Fatalf("policy at start = %+v, want version 1 from the file, a sha256 digest", first)
	}

	next := supportSeesEmail(t)
	info, err := n.admin.ReloadPolicy(ctx, "eu-central", next)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 2 || info.Source != region.PolicyFromAPI || info.Digest == first.Digest {
		t.Fatalf("reload = %+v, want version 2 from the api with a new digest", info)
	}
	if got := n.email(t, id); got != "erika@example.com" {
		t.Fatalf("after the reload support sees %q, want the email in clear", got)
	}
	if v, d := n.policyMetrics(t); v != 2 || d != info.Digest {
		t.Fatalf("metrics after the reload: version %v digest %s, want 2 and %s", v, d, info.Digest)
	}
	// The same document again changes nothing.
	if again, err := n.admin.ReloadPolicy(ctx, "eu-central", next); err != nil || again.Version != 2 {
		t.Fatalf("the same policy again: %+v, %v; want version 2 unchanged", again, err)
	}

	refused := []struct {
		name string
		doc  []byte
		code errcode.Code
	}{
		{"fail/syntax", []byte("version: 1\nregions: [\n"), errcode.InvalidPolicy},
		{"fail/unknown-suite", []byte(strings.Replace(string(next), "    suite: cn\n", "    suite: gost\n", 1)), errcode.InvalidPolicy},
		{"fail/moved-jurisdiction", []byte(strings.Replace(string(next), "    jurisdictions: [RU]\n", "    jurisdictions: [RU, BR]\n", 1)), errcode.PolicyChangeRefused},
		{"fail/suite", []byte(strings.Replace(string(next), "    suite: cn\n", "    suite: intl\n", 1)), errcode.PolicyChangeRefused},
	}
	for _, tt := range refused {
		_, err := n.admin.ReloadPolicy(ctx, "eu-central", tt.doc)
		if p := problemOf(t, err); p.Code != string(tt.code) {
			t.Errorf("%s: code %s (%s), want %s", tt.name, p.Code, p.Detail, tt.code)
		}
		if got := n.email(t, id); got != "erika@example.com" {
			t.Fatalf("%s: after the refusal support sees %q: the old policy must keep serving", tt.name, got)
		}
	}
	if _, err := n.support.ReloadPolicy(ctx, "eu-central", examples.Policy); problemOf(t, err).Code != string(errcode.PermissionDenied) {
		t.Fatalf("support reloads the policy: %v, want permission_denied", err)
	}
	if now, err := n.admin.Policy(ctx, "eu-central"); err != nil || now.Version != 2 || now.Digest != info.Digest {
		t.Fatalf("after the refusals the policy is %+v, %v; want version 2", now, err)
	}

	// The accepted reload is in the audit log, with both digests.
	entries, err := n.admin.AuditEntries(ctx, "eu-central", url.Values{"action": {"admin"}, "limit": {"100"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "policy-reload:api:v2:" + first.Digest + ">" + info.Digest
	found := 0
	for _, e := range entries.Entries {
		if strings.HasPrefix(e.Rule, "policy-reload:") {
			found++
			if e.Rule != want || e.Principal != "admin" {
				t.Errorf("reload entry: rule %q principal %q, want %q by admin", e.Rule, e.Principal, want)
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d policy-reload entries in the audit log, want 1", found)
	}
	n.close(t)

	// A restart with the older file keeps the stored policy.
	n = startReloadNode(t, dir, examples.Policy, time.Now().Add(-time.Hour))
	if got := n.email(t, id); got != "erika@example.com" {
		t.Fatalf("restarted with an older file, support sees %q; want the stored policy", got)
	}
	if p, _ := n.admin.Policy(ctx, "eu-central"); p == nil || p.Version != 2 || p.Source != region.PolicyFromStore {
		t.Fatalf("restarted with an older file: %+v, want version 2 from the store", p)
	}
	n.close(t)

	// A restart with a file changed since is the newer: stored as version 3.
	n = startReloadNode(t, dir, examples.Policy, time.Now().Add(time.Hour))
	if got := n.email(t, id); got == "erika@example.com" {
		t.Fatalf("restarted with a newer file, support still sees the email in clear")
	}
	if p, _ := n.admin.Policy(ctx, "eu-central"); p == nil || p.Version != 3 || p.Source != region.PolicyFromFile || p.Digest != first.Digest {
		t.Fatalf("restarted with a newer file: %+v, want version 3 from the file", p)
	}
	n.close(t)

	// A document the region never stored is new, whatever its file's time
	// (the built-in policy of a newer binary has none): version 4.
	fresh := []byte(strings.Replace(string(supportSeesEmail(t)), "analytics, operations]", "analytics, operations, audit]", 1))
	n = startReloadNode(t, dir, fresh, time.Time{})
	defer n.close(t)
	if p, _ := n.admin.Policy(ctx, "eu-central"); p == nil || p.Version != 4 || p.Source != region.PolicyFromFile || p.Digest == info.Digest {
		t.Fatalf("restarted with a new document: %+v, want version 4 from the file", p)
	}
	if got := n.email(t, id); got != "erika@example.com" {
		t.Fatalf("restarted with a new document, support sees %q; want the email in clear", got)
	}
}

// TestPolicyConverges: a node swaps to a newer policy another node of its
// region stored (written here into the shared store as that node would).
func TestPolicyConverges(t *testing.T) {
	ctx := context.Background()
	n := startReloadNode(t, filepath.Join(t.TempDir(), "eu"), examples.Policy, time.Time{})
	defer n.close(t)
	out, err := n.admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "c-1", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Erika Mustermann", "email": "erika@example.com"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Records[0].ID
	doc := supportSeesEmail(t)
	pr, _ := n.r.cfg.Policy.Region("eu-central")
	head, _ := json.Marshal(policyHead{Version: 2, Digest: policyDigest(suiteOf(pr), doc), AcceptedAt: time.Now(), Source: region.PolicyFromAPI})
	var b store.Batch
	b.Put(policyHeadKey, head)
	b.Put(policyDocKey(2), doc)
	if err := n.r.Store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var p *client.PolicyInfo
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p, err = n.admin.Policy(ctx, "eu-central"); err == nil && p.Version == 2 {
			break
		}
	}
	if p == nil || p.Version != 2 || p.Source != region.PolicyFromStore {
		t.Fatalf("the node serves %+v (%v), want version 2 from the store", p, err)
	}
	if got := n.email(t, id); got != "erika@example.com" {
		t.Fatalf("after converging support sees %q, want the email in clear", got)
	}

	// A stored version the node may not reload to (a suite change) is
	// logged and not served.
	bad := []byte(strings.Replace(string(doc), "    suite: cn\n", "    suite: intl\n", 1))
	head, _ = json.Marshal(policyHead{Version: 3, Digest: policyDigest(suiteOf(pr), bad), AcceptedAt: time.Now(), Source: region.PolicyFromAPI})
	b.Reset()
	b.Put(policyHeadKey, head)
	b.Put(policyDocKey(3), bad)
	if err := n.r.Store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // several polls
	if p, err := n.admin.Policy(ctx, "eu-central"); err != nil || p.Version != 2 {
		t.Fatalf("after a refused stored version the node serves %+v, %v; want version 2", p, err)
	}
}

// TestGatewayPolicyReload: the gateway's SIGHUP reload routes a newly
// covered jurisdiction by the new file, and keeps the old policy for a
// broken file or a jurisdiction that would move.
func TestGatewayPolicyReload(t *testing.T) {
	noCatchAll := strings.Replace(string(examples.Policy), `    jurisdictions: ["*"]   # quoted: a bare * means something else in YAML`, "    jurisdictions: [US]", 1)
	noCatchAll = strings.Replace(noCatchAll, "default_region: us-east\n", "", 1)
	pol, err := region.ParsePolicy("policy.yaml", []byte(noCatchAll))
	if err != nil {
		t.Fatal(err)
	}
	gp := newGatewayPolicy(pol)
	file := filepath.Join(t.TempDir(), "policy.yaml")
	regionOf := func(j string) string {
		name, err := gp.resolver().RegionFor(j)
		if err != nil {
			return ""
		}
		return name
	}
	if regionOf("BR") != "" {
		t.Fatal("BR has a region before the reload")
	}
	tests := []struct {
		name, doc, br, ru string
	}{
		{"fail/syntax", "version: 1\nregions: [\n", "", "ru-central"},
		{"ok/new-jurisdiction", strings.Replace(noCatchAll, "    jurisdictions: [US]", "    jurisdictions: [US, BR]", 1), "us-east", "ru-central"},
		{"fail/moved", strings.Replace(noCatchAll, "    jurisdictions: [RU]\n", "    jurisdictions: [BR, RU]\n", 1), "us-east", "ru-central"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(file, []byte(tt.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		gp.reloadFile(slog.New(slog.DiscardHandler), file)
		if got := regionOf("BR"); got != tt.br {
			t.Errorf("%s: BR goes to %q, want %q", tt.name, got, tt.br)
		}
		if got := regionOf("RU"); got != tt.ru {
			t.Errorf("%s: RU goes to %q, want %q", tt.name, got, tt.ru)
		}
	}
}

// TestPolicyReloadSameAsStored: a node sent the document another node of
// its region has already stored (every node got SIGHUP) converges on that
// version instead of refusing or storing it twice.
func TestPolicyReloadSameAsStored(t *testing.T) {
	ctx := context.Background()
	n := startReloadNodePoll(t, filepath.Join(t.TempDir(), "eu"), examples.Policy, time.Time{}, -1)
	defer n.close(t)
	doc := supportSeesEmail(t)
	pr, _ := n.r.cfg.Policy.Region("eu-central")
	_, raw, _, err := readPolicyHead(ctx, n.r.Store)
	if err != nil {
		t.Fatal(err)
	}
	digest := policyDigest(suiteOf(pr), doc)
	head, _ := json.Marshal(policyHead{Version: 2, Digest: digest, AcceptedAt: time.Now(), Source: region.PolicyFromSignal})
	var b store.Batch
	b.Expect(policyHeadKey, raw)
	b.Put(policyHeadKey, head)
	b.Put(policyDocKey(2), doc)
	if err := n.r.Store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	info, err := n.r.ReloadPolicy(ctx, doc, "system:sighup", "", region.PolicyFromSignal)
	if err != nil || info.Version != 2 || info.Digest != digest {
		t.Fatalf("reload of the stored document: %+v, %v; want version 2", info, err)
	}
	// A different document while this node is behind is a conflict.
	other := []byte(strings.Replace(string(doc), "analytics, operations]", "analytics, operations, audit]", 1))
	head, _ = json.Marshal(policyHead{Version: 3, Digest: digest + "x", AcceptedAt: time.Now(), Source: region.PolicyFromAPI})
	b.Reset()
	b.Put(policyHeadKey, head)
	if err := n.r.Store.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if _, err := n.r.ReloadPolicy(ctx, other, "admin", "", region.PolicyFromAPI); errcode.CodeOf(err) != errcode.Conflict {
		t.Fatalf("reload while behind: %v, want %s", err, errcode.Conflict)
	}
}
