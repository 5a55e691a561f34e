package region_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/region"
)

// newConsentEnv is newEnv with a transfer rule to Germany resting on the
// subject's consent.
func newConsentEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOf(t, strings.Replace(string(examples.Policy), "\ntransfers:\n", `
transfers:
  - name: cn-to-de-consent
    from: cn-north
    to: [DE]
    basis: consent
    collection: customers
    fields: [name, phone]
`, 1))
}

// newEnvOf is newEnv's cn-north under the policy src, on embedded
// storage, or on the PostgreSQL database db when one is given (another
// env on the same db is another node of the region).
func newEnvOf(t *testing.T, src string, db ...string) *env {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.RegionConfig{Policy: pol, Name: "cn-north",
		Dir: filepath.Join(t.TempDir(), "cn-north"), Secret: []byte("region test"),
		KDF: keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}}
	if len(db) > 0 {
		cfg.Store = db[0]
	}
	r, err := app.OpenRegion(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &env{t: t, r: r, s: r.Service, logs: &logBuffer{}}
}

// TestConsentGivenAndWithdrawn: a transfer rule resting on consent lets a
// subject's fields leave in clear only while the subject's live consent
// covers the destination, the recipient and the purpose; the read is then
// counted in the ledger. Withdrawn, the next request masks them again.
// Detokenizing an fpe token (which names no subject) under such a rule is
// refused, consent or not; erasure removes the consents.
func TestConsentGivenAndWithdrawn(t *testing.T) {
	ctx := context.Background()
	e := newConsentEnv(t)
	admin := func() region.Caller { return e.caller("admin-cn", "CN", "support", "admin") }
	ids := e.create(admin(), "cust-7", 1)
	out, err := e.s.Create(ctx, admin(), []region.NewRecord{{Collection: "customers", Subject: "cust-7", Jurisdiction: "CN", Fields: customer}}, "")
	if err != nil {
		t.Fatal(err)
	}
	phoneToken := ""
	for _, tk := range out.Records[0].Tokens {
		if tk.Field == "phone" {
			phoneToken = tk.Token
		}
	}
	de := func() region.Caller { return e.caller("agent-de", "DE", "support", "support") }
	read := func() (*region.Record, []entry.Entry) {
		t.Helper()
		c := de()
		r, err := e.s.Get(ctx, c, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		return r, e.audited(c.RequestID)
	}
	transfers := func(es []entry.Entry) int {
		n := 0
		for _, en := range es {
			if en.Action == entry.Transfer && en.Outcome == entry.OK {
				n++
			}
		}
		return n
	}
	detok := func() *errcode.Error {
		t.Helper()
		res, err := e.s.Detokenize(ctx, de(), []region.DetokenizeItem{{Token: phoneToken, Collection: "customers", Field: "phone"}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Err
	}

	r, es := read()
	if r.Fields["name"] == customer["name"] || r.Access.Fields["name"] == "clear" || transfers(es) != 0 ||
		!slices.ContainsFunc(r.Access.Reasons, func(s string) bool { return strings.Contains(s, "no live consent") }) {
		t.Fatalf("without consent: name %q (%s), reasons %v, %d transfer entries; want masked, no transfer", r.Fields["name"], r.Access.Fields["name"], r.Access.Reasons, transfers(es))
	}
	if err := detok(); err == nil || err.Code != errcode.TransferRequired {
		t.Fatalf("detokenize without consent: %v, want transfer_required", err)
	}
	// A consent for another purpose or recipient does not cover the read.
	for _, other := range []region.Consent{
		{Destination: "DE", Purpose: "analytics", Evidence: "form-1"},
		{Destination: "DE", Purpose: "support", Recipient: "someone-else", Evidence: "form-2"},
		{Destination: "FR", Purpose: "support", Evidence: "form-3"},
	} {
		if _, err := e.s.GiveConsent(ctx, admin(), "cn-north", "cust-7", other); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := read(); r.Access.Fields["name"] == "clear" {
		t.Fatal("a consent for another purpose, recipient or destination let the name leave")
	}

	given, err := e.s.GiveConsent(ctx, admin(), "cn-north", "cust-7", region.Consent{Destination: "EU", Purpose: "support", Evidence: "form-4"})
	if err != nil {
		t.Fatal(err)
	}
	r, es = read()
	if r.Fields["name"] != customer["name"] || r.Access.Rule != "cn-to-de-consent" || transfers(es) != 1 {
		t.Fatalf("with consent: name %q, rule %q, %d transfer entries; want clear under cn-to-de-consent, counted", r.Fields["name"], r.Access.Rule, transfers(es))
	}
	if err := detok(); err == nil || !strings.Contains(err.Msg, "names no subject") {
		t.Fatalf("detokenize of an fpe token under a consent rule: %v, want a refusal saying the token names no subject", err)
	}

	if _, err := e.s.WithdrawConsent(ctx, admin(), "cn-north", "cust-7", given.ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := read(); r.Access.Fields["name"] == "clear" {
		t.Fatal("the name left after the consent was withdrawn")
	}
	if err := detok(); err == nil {
		t.Fatal("detokenize after withdrawal returned the value")
	}
	list, err := e.s.Consents(ctx, admin(), "cn-north", "cust-7")
	if err != nil || len(list) != 4 {
		t.Fatalf("consents: %d, %v; want 4", len(list), err)
	}
	for _, c := range list {
		if c.ID == given.ID && c.Live() {
			t.Fatalf("consent %s still live after withdrawal", c.ID)
		}
	}
	var ce *errcode.Error
	if _, err := e.s.GiveConsent(ctx, admin(), "cn-north", "cust-7", region.Consent{Destination: "XX", Purpose: "support", Evidence: "f"}); !errors.As(err, &ce) || ce.Code != errcode.InvalidRequest {
		t.Fatalf("consent to an unknown destination: %v", err)
	}
	if _, err := e.s.WithdrawConsent(ctx, admin(), "cn-north", "cust-7", "cns_nope"); !errors.As(err, &ce) || ce.Code != errcode.NotFound {
		t.Fatalf("withdrawing an unknown consent: %v", err)
	}

	if _, err := e.s.EraseSubject(ctx, admin(), "cust-7"); err != nil {
		t.Fatal(err)
	}
	if list, err := e.s.Consents(ctx, admin(), "cn-north", "cust-7"); err != nil || len(list) != 0 {
		t.Fatalf("consents after erasure: %v, %v; want none", list, err)
	}
}
