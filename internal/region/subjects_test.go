package region_test

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/subjects"
)

// TestExportSubject: a subject's package holds its records as the caller
// may see them, its consents, the transfers of its data and every access
// to it, and nothing of another subject that an access also touched; it
// verifies with the region's audit keys. After erasure the package has no
// records or consents, and shows the erasure. A caller abroad gets the
// records as it may see them there, and a caller without admin nothing.
func TestExportSubject(t *testing.T) {
	ctx := context.Background()
	e := newConsentEnv(t)
	admin := func(loc string) region.Caller { return e.caller("admin-"+loc, loc, "dsr", "admin") }
	mine := e.create(admin("CN"), "cust-7", 2)
	other := e.create(admin("CN"), "cust-8", 1)
	if _, err := e.s.GiveConsent(ctx, admin("CN"), "cn-north", "cust-7", region.Consent{Destination: "DE", Purpose: "support", Evidence: "form-9"}); err != nil {
		t.Fatal(err)
	}
	de := e.caller("agent-de", "DE", "support", "support")
	if _, err := e.s.Get(ctx, de, mine[0]); err != nil {
		t.Fatal(err)
	}
	// A search that finds both subjects' records: one entry names both.
	found, err := e.s.Search(ctx, e.caller("agent-cn", "CN", "support", "support"), region.Search{Collection: "customers", Field: "email", Value: customer["email"], Jurisdiction: "CN"})
	if err != nil || len(found.Records) != 3 {
		t.Fatalf("search: %v, %d records; want 3", err, len(found.Records))
	}

	c := admin("CN")
	sp, err := e.s.ExportSubject(ctx, c, "cn-north", "cust-7")
	if err != nil {
		t.Fatal(err)
	}
	p := sp.Package
	if len(p.Records) != 2 || p.Records[0].Fields["name"] != customer["name"] || p.Records[0].Treatment["name"] != "clear" || p.Records[0].Subject != "cust-7" {
		t.Fatalf("records %+v; want cust-7's 2 records in clear", p.Records)
	}
	if len(p.Consents) != 1 || p.Consents[0].Evidence != "form-9" {
		t.Errorf("consents %+v; want the one given", p.Consents)
	}
	if len(p.Transfers) != 1 || p.Transfers[0].Principal != "agent-de" || p.Transfers[0].Destination != "DE" || p.Transfers[0].Mechanism == "" ||
		!slices.Equal(p.Transfers[0].Records, mine[:1]) {
		t.Errorf("transfers %+v; want agent-de's read of %s to DE", p.Transfers, mine[0])
	}
	var sawSearch, sawExport bool
	for _, a := range p.Accesses {
		for _, id := range a.Records {
			if !slices.Contains(mine, id) {
				t.Errorf("access %d names record %s, not cust-7's", a.Index, id)
			}
		}
		sawSearch = sawSearch || (a.Action == "search" && a.Principal == "agent-cn" && len(a.Records) == 2)
		sawExport = sawExport || (a.Action == "export" && a.Principal == c.Account.ID)
	}
	if !sawSearch || !sawExport || p.AuditSize == 0 {
		t.Errorf("accesses %+v (of %d entries); want the search, with cust-7's records only, and the export itself", p.Accesses, p.AuditSize)
	}
	for _, id := range other {
		if strings.Contains(string(sp.Payload), id) {
			t.Errorf("the package names cust-8's record %s", id)
		}
	}
	if p.SubjectRef != hex.EncodeToString(e.r.Keyring.SubjectRef("cust-7")) {
		t.Errorf("subject ref %s, want the keyed reference", p.SubjectRef)
	}

	// It verifies with the region's keys; an edited payload does not.
	hist, err := e.r.Keyring.AuditKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []crypto.PublicKey
	for _, k := range hist {
		keys = append(keys, k.Public)
	}
	su := e.r.Keyring.Suite()
	if _, err := subjects.Verify(&sp.Envelope, e.r.Audit.Origin(), keys, su.Signature(), su.Hash()); err != nil {
		t.Fatalf("the package does not verify: %v", err)
	}
	bad := sp.Envelope
	bad.Payload = []byte(strings.Replace(string(bad.Payload), `"agent-de"`, `"agent-fr"`, 1))
	if _, err := subjects.Verify(&bad, e.r.Audit.Origin(), keys, su.Signature(), su.Hash()); !errors.Is(err, subjects.ErrPackage) {
		t.Errorf("an edited package verifies: %v", err)
	}

	// Abroad, without a transfer rule for the purpose: masked, not sent.
	us, err := e.s.ExportSubject(ctx, admin("US"), "cn-north", "cust-7")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range us.Package.Records {
		if strings.Contains(string(us.Payload), customer["name"]) || r.Treatment["name"] == "clear" {
			t.Errorf("a package for a principal in the US holds cust-7's name in clear")
		}
	}

	// Abroad, under the consent rule: the package itself is a transfer,
	// recorded and shown in the next package.
	deAdmin := e.caller("dpo-de", "DE", "support", "admin")
	if _, err := e.s.ExportSubject(ctx, deAdmin, "cn-north", "cust-7"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.audited(deAdmin.RequestID)); n < 3 || !slices.ContainsFunc(e.audited(deAdmin.RequestID), func(en entry.Entry) bool { return en.Action == entry.Transfer }) {
		t.Errorf("the export to Germany left %d entries and no transfer entry", n)
	}

	// Erased: no records, no consents; the erasure and the history stay.
	if _, err := e.s.EraseSubject(ctx, e.caller("admin-CN", "CN", "dsr", "admin"), "cust-7"); err != nil {
		t.Fatal(err)
	}
	after, err := e.s.ExportSubject(ctx, admin("CN"), "cn-north", "cust-7")
	if err != nil {
		t.Fatal(err)
	}
	if a := after.Package; len(a.Records) != 0 || len(a.Consents) != 0 || len(a.Erasures) != 1 || len(a.Accesses) <= len(p.Accesses) || len(a.Transfers) != 2 {
		t.Errorf("after erasure: %d records, %d consents, %d erasures, %d accesses, %d transfers; want 0, 0, 1, more than %d, 2",
			len(a.Records), len(a.Consents), len(a.Erasures), len(a.Accesses), len(a.Transfers), len(p.Accesses))
	}

	for _, c := range []struct {
		name    string
		caller  region.Caller
		region  string
		subject string
		code    errcode.Code
	}{
		{"not admin", e.caller("agent-cn", "CN", "support", "support"), "cn-north", "cust-7", errcode.PermissionDenied},
		{"other region", admin("CN"), "eu-central", "cust-7", errcode.UnknownRegion},
		{"empty subject", admin("CN"), "cn-north", "", errcode.InvalidSubject},
		{"long subject", admin("CN"), "cn-north", strings.Repeat("s", 257), errcode.InvalidSubject},
	} {
		_, err := e.s.ExportSubject(ctx, c.caller, c.region, c.subject)
		if ce, ok := errors.AsType[*errcode.Error](err); !ok || ce.Code != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}
