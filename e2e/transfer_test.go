package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// transferPolicyFile is the load policy with cn-north's PIPL thresholds
// scaled down (no mechanism needed below 3 individuals, a standard
// contract up to 12, sensitive information of at most 1 individual under a
// contract), a US transfer rule under the example's standard contract and
// a JP rule under a contract that expired.
func transferPolicyFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(loadPolicyFile())
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for old, repl := range map[string]string{
		"    transfer_thresholds:\n      preset: pipl\n": "    transfer_thresholds:\n      preset: pipl\n      exempt_below: 3\n      contract_max: 12\n      sensitive_contract_below: 2\n",
		"\nmechanisms:\n": `
mechanisms:
  - name: cn-jp-expired
    region: cn-north
    kind: standard-contract
    reference: "CAC filing 2024-0001"
    to: [JP]
    valid_from: 2024-01-01
    valid_until: 2025-12-31
`,
		// The example's contract ends in 2028; the test must not.
		"    valid_until: 2028-12-31\n": "    valid_until: 2099-12-31\n",
		"\ntransfers:\n": `
transfers:
  - name: cn-to-us
    from: cn-north
    to: [US]
    basis: standard-contract
    mechanism: cn-us-standard-contract
    collection: customers
    fields: [name, phone]
  - name: cn-to-de-consent
    from: cn-north
    to: [DE]
    basis: consent
    collection: customers
    fields: [name, phone]
  - name: cn-to-jp
    from: cn-north
    to: [JP]
    basis: standard-contract
    mechanism: cn-jp-expired
    collection: customers
    fields: [name, phone]
`,
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("the load policy has no %q", old)
		}
		src = strings.Replace(src, old, repl, 1)
	}
	p := filepath.Join(t.TempDir(), "transfer-policy.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// twoCNNodes starts two nodes of cn-north on one fresh PostgreSQL
// database, under transferPolicyFile.
func twoCNNodes(t *testing.T) (a, b *server) {
	t.Helper()
	db := pgtest.NewDatabase(t) // fails, never skips, when CI is set
	args := []string{"serve", "--region", "cn-north", "--store", db, "--listen", "127.0.0.1:0", "--admin-location", "CN", "--policy", transferPolicyFile(t)}
	return startProc(t, nodeEnv("cn-north"), args...), startProc(t, nodeEnv("cn-north"), args...)
}

// newAgent creates a principal with the support role at location and
// returns clients acting as it, for support, on each of nodes.
func newAgent(t *testing.T, id, location string, nodes ...*server) []*client.Client {
	t.Helper()
	p, err := nodes[0].client(t).CreatePrincipal(context.Background(), client.PrincipalRequest{ID: id, Kind: "person", Roles: []string{"support"}, Location: location})
	if err != nil {
		t.Fatal(err)
	}
	var out []*client.Client
	for _, n := range nodes {
		out = append(out, mustClient(t, n.URL, p.Token).ForPurpose("support"))
	}
	return out
}

// TestPostgresTransferLedger is issue 15's counting scenario on two
// PostgreSQL nodes of cn-north: a US support agent reads Chinese customers
// through both nodes at once, overlapping subjects included; every
// individual counts once, and the ledger's count equals an independent
// recount from the audit log. The transfer that would take the year past
// the standard contract's limit is refused before any value leaves,
// counted nowhere, and raises an alert; a transfer under an expired
// mechanism is refused too.
func TestPostgresTransferLedger(t *testing.T) {
	ctx := context.Background()
	a, b := twoCNNodes(t)

	admin := a.client(t)
	const n = 14
	ids := make([]string, n)
	for i := range n {
		out, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: fmt.Sprintf("cust-%d", i), Jurisdiction: "CN",
			Fields: map[string]string{"name": fmt.Sprintf("Wang %d", i), "email": fmt.Sprintf("w%d@example.cn", i), "phone": fmt.Sprintf("+861380013%04d", i)}}}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = out.Records[0].ID
	}
	readers := newAgent(t, "agent-us", "US", a, b)

	// 12 individuals, the contract's limit, read from 8 clients over both
	// nodes, each client reading an overlapping window of 6.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			c := readers[w%2]
			for k := range 6 {
				id := ids[(w+k)%12]
				r, err := c.Get(ctx, id)
				if err != nil {
					errs <- fmt.Errorf("read %s: %w", id, err)
					return
				}
				if r.Access.Rule != "cn-to-us" || r.Fields["name"] == "" || strings.Contains(r.Fields["name"], "*") {
					errs <- fmt.Errorf("read %s from the US: rule %q, name %q; want the clear name under cn-to-us", id, r.Access.Rule, r.Fields["name"])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The same individuals again, on the other node: nothing new.
	for i := range 12 {
		if _, err := readers[(i+1)%2].Get(ctx, ids[i]); err != nil {
			t.Fatalf("second read of %s: %v", ids[i], err)
		}
	}
	if got := recount(t, admin, 12); got != 12 {
		t.Fatalf("the audit log's transfer entries name %d individuals, want 12", got)
	}

	// The 13th individual would need a security assessment.
	_, err := readers[1].Get(ctx, ids[12])
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Problem.Code != "transfer_mechanism_insufficient" || !strings.Contains(ce.Problem.Detail, "need a security assessment") {
		t.Fatalf("13th individual: %v, want transfer_mechanism_insufficient naming the security assessment", err)
	}
	if got := recount(t, admin, 12); got != 12 {
		t.Fatalf("after the refusal the log names %d individuals, want 12", got)
	}
	// The signed report says the same as the recount.
	rep, err := mustClient(t, b.URL, e2eToken).TransferReport(ctx, "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Report.Individuals.NonSensitive != 12 || len(rep.Report.Transfers) != 1 || rep.Report.Transfers[0].Individuals != 12 ||
		rep.Report.Transfers[0].Mechanism != "cn-us-standard-contract" || rep.Report.Required != "standard contract or certification" {
		t.Fatalf("report %+v, want 12 individuals to the US under cn-us-standard-contract", rep.Report)
	}
	alerts, err := admin.Alerts(ctx, client.AlertFilter{Rule: "transfer-mechanism-insufficient"})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts.Alerts) == 0 || alerts.Alerts[0].Principal != "agent-us" {
		t.Fatalf("alerts after the refusal: %+v", alerts.Alerts)
	}
	// Individuals already counted still go.
	if _, err := readers[0].Get(ctx, ids[3]); err != nil {
		t.Fatalf("a counted individual after the refusal: %v", err)
	}

	// No personal value in the ledger: its audit entries (in an export of
	// the whole log) name records, fields and keyed references only.
	rc, err := admin.AuditExport(ctx, "cn-north")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for _, v := range []string{fmt.Sprintf("Wang %d", i), fmt.Sprintf("w%d@example.cn", i), fmt.Sprintf("861380013%04d", i), fmt.Sprintf("cust-%d", i)} {
			if strings.Contains(string(exp), v) {
				t.Fatalf("the audit log holds a personal value or subject id (%q)", v)
			}
		}
	}

	// Japan's contract expired: refused from the first individual.
	jp := a.principal(t, "agent-jp", "JP", "support").ForPurpose("support")
	_, err = jp.Get(ctx, ids[0])
	if !errors.As(err, &ce) || ce.Problem.Code != "transfer_mechanism_insufficient" || !strings.Contains(ce.Problem.Detail, "expired on 2025-12-31") {
		t.Fatalf("read under an expired mechanism: %v", err)
	}
}

// recount counts the distinct subjects of cn-north's successful transfer
// entries, from the audit log: the ledger's figure, recomputed.
// recount is the number of individuals the log's transfer entries name.
// A listing stops at an index another node has reserved and not yet
// written (the log's rule), so it is read again, for a bounded time, until
// it names want.
func recount(t *testing.T, admin *client.Client, want int) int {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) { // a bound, not a speed limit
		if got = recountOnce(t, admin); got == want || time.Now().After(deadline) {
			return got
		}
	}
}

func recountOnce(t *testing.T, admin *client.Client) int {
	t.Helper()
	// Entries another node wrote are listed once integrated: a checkpoint
	// integrates everything stored.
	if _, err := admin.AuditCheckpoint(context.Background(), "cn-north"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	q := map[string][]string{"action": {"transfer"}, "limit": {"1000"}}
	for {
		page, err := admin.AuditEntries(context.Background(), "cn-north", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			if e.Outcome != "ok" {
				continue
			}
			for _, s := range e.Subjects {
				seen[string(s)] = true
			}
		}
		if page.Next == "" {
			return len(seen)
		}
		q["cursor"] = []string{page.Next}
	}
}

func mustClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPostgresConsentAcrossNodes is issue 15's consent scenario on two
// PostgreSQL nodes: a reader in Germany sees a Chinese customer's name
// masked until the customer's consent is recorded (on node A), then in
// clear on node B, counted; once the consent is withdrawn on A, the next
// read on B is masked again.
func TestPostgresConsentAcrossNodes(t *testing.T) {
	ctx := context.Background()
	a, b := twoCNNodes(t)
	admin := a.client(t)
	out, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: "li-na", Jurisdiction: "CN",
		Fields: map[string]string{"name": "Li Na", "phone": "+8613900139000"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Records[0].ID
	reader := newAgent(t, "agent-de", "DE", b)[0]
	clear := func() bool {
		t.Helper()
		r, err := reader.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Fields["name"] == "Li Na"
	}
	if clear() {
		t.Fatal("the name left for Germany without the subject's consent")
	}
	con, err := admin.GiveConsent(ctx, "cn-north", "li-na", client.ConsentRequest{Destination: "DE", Purpose: "support", Evidence: "consent-form-0042"})
	if err != nil {
		t.Fatal(err)
	}
	if !clear() {
		t.Fatal("with the consent recorded on node A, node B still masks the name")
	}
	if got := recount(t, admin, 1); got != 1 {
		t.Fatalf("the read under consent was counted for %d individuals, want 1", got)
	}
	if _, err := admin.WithdrawConsent(ctx, "cn-north", "li-na", con.ID); err != nil {
		t.Fatal(err)
	}
	if clear() {
		t.Fatal("node B showed the name after the consent was withdrawn on node A")
	}
	list, err := mustClient(t, b.URL, e2eToken).Consents(ctx, "cn-north", "li-na")
	if err != nil || len(list.Consents) != 1 || list.Consents[0].Withdrawn == nil {
		t.Fatalf("consents: %+v, %v", list, err)
	}
}
