package region_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
)

// TestMigrateSuite: bad requests are refused with invalid_request and
// change nothing; a good one moves the keys and the audit log's tree to
// the new suite, records the migration and the link between the trees,
// and is repeatable.
func TestMigrateSuite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.caller("admin-cn", "CN", "operations", "admin")
	e.create(admin, "s1", 3)
	// The audit log integrates in the background: compare the rest.
	data := func() (n int) {
		for _, k := range e.storeKeys() {
			if !strings.HasPrefix(string(k), "a/") {
				n++
			}
		}
		return n
	}
	before := data()
	for _, q := range []region.MigrateSuite{
		{Region: "cn-north", Suite: "gost"},
		{Region: "cn-north", Suite: "intl", Pause: "soon"},
		{Region: "cn-north", Suite: "intl", Batch: -1},
	} {
		if _, _, err := e.s.MigrateSuite(ctx, admin, q); errcode.CodeOf(err) != errcode.InvalidRequest {
			t.Errorf("%+v: err = %v, want invalid_request", q, err)
		}
	}
	if after := data(); after != before {
		t.Fatalf("refused requests wrote %d keys", after-before)
	}
	if _, _, err := e.s.MigrateSuite(ctx, e.caller("clerk", "CN", "support", "support"), region.MigrateSuite{Region: "cn-north", Suite: "intl"}); err == nil {
		t.Fatal("a non-admin migrated the region")
	}

	c := e.caller("admin-cn", "CN", "operations", "admin")
	job, started, err := e.s.MigrateSuite(ctx, c, region.MigrateSuite{Region: "cn-north", Suite: "intl"})
	if err != nil || !started || job.Suite != "intl" {
		t.Fatalf("MigrateSuite = %+v, %v, %v", job, started, err)
	}
	if got := e.r.Keyring.Suite().ID(); got != "intl" {
		t.Errorf("keys are of suite %s", got)
	}
	if got := e.r.Audit.Hash().ID(); got != "SHA-256" {
		t.Errorf("the audit log hashes with %s", got)
	}
	var rules []string
	for _, en := range e.audited(c.RequestID) {
		rules = append(rules, en.Rule)
	}
	for _, want := range []string{"migrate:suite:cn->intl:", "rotate:audit:v2:key:", "migrate:audit:SM3->SHA-256:size:", "migrate:suite:intl:start"} {
		if !slices.ContainsFunc(rules, func(r string) bool { return strings.HasPrefix(r, want) }) {
			t.Errorf("no audit entry %s… among %q", want, rules)
		}
	}
	// Repeating the request changes nothing that was done.
	if _, _, err := e.s.MigrateSuite(ctx, e.caller("admin-cn", "CN", "operations", "admin"), region.MigrateSuite{Region: "cn-north", Suite: "intl"}); err != nil {
		t.Fatalf("repeated MigrateSuite: %v", err)
	}
	if v := e.r.Keyring.CurrentVersion("data"); v != 2 {
		t.Errorf("data v%d is current after a repeat, want v2", v)
	}
}
