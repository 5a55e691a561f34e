package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
)

// exportPolicyFile is the example policy with the transfer rule it shows
// commented out: US staff see Chinese customers' names and e-mails under
// the example's standard contract (made open-ended for the test).
func exportPolicyFile(t *testing.T) string {
	t.Helper()
	src := string(examples.Policy)
	for old, repl := range map[string]string{
		"    valid_until: 2028-12-31\n": "    valid_until: 2099-12-31\n",
		"\ntransfers:\n": `
transfers:
  - name: cn-to-us-scc
    from: cn-north
    to: [US]
    basis: standard-contract
    mechanism: cn-us-standard-contract
    collection: customers
    fields: [name, email]
`,
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("the example policy has no %q", old)
		}
		src = strings.Replace(src, old, repl, 1)
	}
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRecordsExport: 'records export' of a collection across regions, by
// the dev administrator (located in the US) and by a limited principal;
// the export from abroad shows up in cn-north's transfer report, every page
// is an audit entry, and the log still verifies. An export of clear values
// in the import format imports again.
func TestRecordsExport(t *testing.T) {
	s := startDev(t, t.TempDir(), nil, "--policy", exportPolicyFile(t), "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	work := t.TempDir()
	cli := func(token string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "DOMICILE_ADDR="+s.URL, "DOMICILE_TOKEN="+token, "DOMICILE_PURPOSE=support")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	type person struct{ subject, jurisdiction, name, email string }
	var people []person
	for i, j := range []string{"CN", "CN", "CN", "DE", "DE", "US", "US", "US"} {
		people = append(people, person{fmt.Sprintf("exp-%d", i), j, fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.com", i)})
	}
	for _, p := range people {
		if _, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: p.subject, Jurisdiction: p.jurisdiction,
			Fields: map[string]string{"name": p.name, "email": p.email, "phone": "+1 202 555 0142"}}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	bySubject := map[string]person{}
	for _, p := range people {
		bySubject[p.subject] = p
	}

	// The administrator, in the US, for purpose support, in pages of 3.
	stdout, stderr, err := cli(s.Token, "records", "export", "--collection", "customers", "--limit", "3")
	if err != nil {
		t.Fatalf("records export: %v\n%s", err, stderr)
	}
	if want := "exported 8 records of customers (cn-north 3, eu-central 2, us-east 3)"; !strings.Contains(stderr, want) {
		t.Errorf("summary %q, want %q", stderr, want)
	}
	var cnIDs []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r client.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		p := bySubject[r.Subject]
		switch r.Region {
		case "cn-north": // abroad, under the transfer rule: name and email leave
			cnIDs = append(cnIDs, r.ID)
			if r.Access.Rule != "cn-to-us-scc" || !r.Access.Transfer || r.Fields["name"] != p.name || r.Fields["email"] != p.email ||
				r.Access.Fields["phone"] == "clear" {
				t.Errorf("cn-north record %+v", r)
			}
		case "eu-central": // abroad without a rule: masked
			if r.Access.Rule != "abroad-masked" || r.Fields["name"] == p.name || r.Fields["email"] == p.email {
				t.Errorf("eu-central record %+v", r)
			}
		case "us-east":
			if r.Fields["name"] != p.name || r.Access.Fields["email"] != "clear" {
				t.Errorf("us-east record %+v", r)
			}
		default:
			t.Errorf("record of region %q", r.Region)
		}
	}
	if len(cnIDs) != 3 {
		t.Fatalf("%d cn-north records exported, want 3", len(cnIDs))
	}

	// The export from abroad is a transfer of three individuals.
	rep, err := admin.TransferReport(ctx, "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Report.Individuals.NonSensitive != 3 {
		t.Errorf("cn-north's transfer report counts %+v, want 3 non-sensitive individuals", rep.Report.Individuals)
	}
	// Each page of cn-north is one export entry naming its records.
	entries, err := admin.AuditEntries(ctx, "cn-north", url.Values{"action": {"export"}})
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, e := range entries.Entries {
		if e.Collection != "customers" {
			t.Errorf("export entry of collection %q", e.Collection)
		}
		audited = append(audited, e.Records...)
	}
	slices.Sort(audited)
	slices.Sort(cnIDs)
	if !slices.Equal(audited, cnIDs) {
		t.Errorf("cn-north's export entries name %v, want %v", audited, cnIDs)
	}

	// A limited principal (analytics, keyed digests only) sees no value.
	analyst := s.principal(t, "analyst-1", "US", "analytics")
	var seen int
	err = analyst.ExportCollection(ctx, "customers", client.ExportOptions{}, func(r client.Record) error {
		seen++
		p := bySubject[r.Subject]
		for f, v := range r.Fields {
			if v == p.name || v == p.email || r.Access.Fields[f] == "clear" {
				t.Errorf("analytics sees %s of %s in clear", f, r.ID)
			}
		}
		if _, ok := r.Fields["name"]; ok || !slices.Contains(r.Access.Refused, "name") {
			t.Errorf("analytics: name shown or not refused: %+v", r.Access)
		}
		return nil
	})
	if err != nil || seen != 8 {
		t.Fatalf("analytics export: %d records, %v", seen, err)
	}

	// Clear values in the import format import again.
	file := filepath.Join(work, "us.jsonl")
	if _, stderr, err := cli(s.Token, "records", "export", "--collection", "customers", "--region", "us-east", "--format", "import", "--out", file); err != nil {
		t.Fatalf("export --format import: %v\n%s", err, stderr)
	}
	out, stderr, err := cli(s.Token, "records", "import", file)
	if err != nil || !strings.Contains(out, "3 records stored") {
		t.Fatalf("import of the export: %v\n%s%s", err, out, stderr)
	}
	// Masked values do not: the import format refuses them.
	if _, stderr, err := cli(s.Token, "records", "export", "--collection", "customers", "--region", "eu-central", "--format", "import"); err == nil ||
		!strings.Contains(stderr, "not clear") {
		t.Errorf("export of masked values in the import format: %v\n%s", err, stderr)
	}
	rs, err := admin.Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Regions {
		if r.Name == "us-east" && r.Records["customers"] != 6 {
			t.Errorf("us-east holds %d customers after the round trip, want 6", r.Records["customers"])
		}
	}

	// The audit log, with the exports in it, verifies.
	pem, stderr, err := cli(s.Token, "audit", "keys", "--region", "cn-north", "--pem")
	if err != nil {
		t.Fatalf("audit keys: %v\n%s", err, stderr)
	}
	pemFile := filepath.Join(work, "cn-north-audit.pem")
	if err := os.WriteFile(pemFile, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := cli(s.Token, "audit", "verify", "--region", "cn-north", "--pubkey", pemFile); err != nil {
		t.Fatalf("audit verify: %v\n%s%s", err, out, stderr)
	}
}
