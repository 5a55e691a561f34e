package region_test

import (
	"context"
	"log/slog"
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
	"github.com/domicile/domicile/internal/vault"
)

// exportPolicy is the example policy with a second collection (notes) and
// the commented-out transfer rule that lets US staff see Chinese
// customers' names and e-mails under the standard contract.
func exportPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	src := string(examples.Policy)
	insert := func(before, text string) {
		at := strings.Index(src, before)
		if at < 0 {
			t.Fatalf("the example policy has no %q", before)
		}
		src = src[:at] + text + src[at:]
	}
	insert("\n# Purposes.", "\n  - name: notes\n    fields:\n      - name: text\n        type: string\n        max_length: 500\n        mask: redact\n")
	insert("  # The United Kingdom has an EU adequacy decision", `  - name: cn-to-us-scc
    from: cn-north
    to: [US]
    basis: standard-contract
    collection: customers
    fields: [name, email]
    mechanism: cn-us-standard-contract
`)
	pol, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// newExportEnv is newEnv under exportPolicy.
func newExportEnv(t testing.TB) *env {
	t.Helper()
	logs := &logBuffer{}
	r, err := app.OpenRegion(context.Background(), app.RegionConfig{Policy: exportPolicy(t), Name: "cn-north",
		Dir: filepath.Join(t.TempDir(), "cn-north"), Secret: []byte("region test"),
		KDF:    keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &env{t: t, r: r, s: r.Service, logs: logs}
}

// exportAll pages through the export of customers as c makes it (a fresh
// request id per page), with between called after each page.
func exportAll(t *testing.T, e *env, mk func() region.Caller, limit int, between func()) ([]region.Record, [][]string, []string) {
	t.Helper()
	var recs []region.Record
	var refused [][]string
	var requests []string
	cursor := ""
	for range 100 {
		c := mk()
		p, err := e.s.ExportCollection(context.Background(), c, "customers", cursor, limit)
		if err != nil {
			t.Fatalf("export page after %q: %v", cursor, err)
		}
		requests = append(requests, c.RequestID)
		recs = append(recs, p.Records...)
		refused = append(refused, p.Refused...)
		if p.Next == "" {
			return recs, refused, requests
		}
		cursor = p.Next
		if between != nil {
			between()
		}
	}
	t.Fatal("the export does not end")
	return nil, nil, nil
}

func TestExportCollection(t *testing.T) {
	e := newExportEnv(t)
	ctx := context.Background()
	admin := func() region.Caller { return e.caller("admin-cn", "CN", "support", "admin") }
	ids := e.create(admin(), "cust-1", 3)
	ids = append(ids, e.create(admin(), "cust-2", 2)...)
	// Another collection's records, written below the access layer: the
	// export of customers must skip them.
	if _, err := e.r.Vault.Create(ctx, []vault.NewRecord{{Collection: "notes", Subject: "cust-1", Jurisdiction: "CN",
		Fields: map[string]string{"text": "called back"}}}, vault.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)

	tests := []struct {
		name string
		who  func() region.Caller
		// want is the treatment of each field ("" for refused).
		want     map[string]string
		rule     string
		transfer bool
	}{
		{"ok/admin-in-region-clear", admin, map[string]string{"name": "clear", "email": "clear", "phone": "clear",
			"national_id": "clear", "date_of_birth": "clear"}, "in-region", false},
		{"ok/support-in-region-masked-and-refused", func() region.Caller { return e.caller("agent", "CN", "support", "support") },
			map[string]string{"name": "clear", "email": "masked:email", "phone": "clear", "national_id": "", "date_of_birth": "masked:year"}, "in-region", false},
		{"ok/support-without-purpose-masked", func() region.Caller { return e.caller("agent", "CN", "", "support") },
			map[string]string{"name": "masked:first1", "email": "masked:email", "phone": "masked:last4", "national_id": "", "date_of_birth": "masked:year"}, "in-region", false},
		{"ok/support-abroad-transfer-rule", func() region.Caller { return e.caller("agent-us", "US", "support", "support") },
			map[string]string{"name": "clear", "email": "masked:email", "phone": "masked:last4", "national_id": "", "date_of_birth": "masked:year"}, "cn-to-us-scc", true},
		{"ok/analytics-digests", func() region.Caller { return e.caller("bi", "CN", "", "analytics") },
			map[string]string{"name": "", "email": "masked:hash", "phone": "masked:hash", "national_id": "", "date_of_birth": "masked:year"}, "in-region", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{0, 2} {
				recs, refused, requests := exportAll(t, e, tc.who, limit, nil)
				var got []string
				for i, r := range recs {
					got = append(got, r.ID)
					if r.Collection != "customers" {
						t.Errorf("exported %s of collection %s", r.ID, r.Collection)
					}
					if r.Access.Rule != tc.rule || r.Access.Transfer != tc.transfer {
						t.Errorf("%s: rule %q transfer %v, want %q %v", r.ID, r.Access.Rule, r.Access.Transfer, tc.rule, tc.transfer)
					}
					for f, treat := range tc.want {
						v, shown := r.Fields[f]
						switch {
						case treat == "" && (shown || !slices.Contains(refused[i], f)):
							t.Errorf("%s: field %s shown (%v) or not marked refused (%v)", r.ID, f, shown, refused[i])
						case treat != "" && r.Access.Fields[f] != treat:
							t.Errorf("%s: field %s is %q, want %q", r.ID, f, r.Access.Fields[f], treat)
						case treat == "clear" && v != customer[f]:
							t.Errorf("%s: clear field %s does not hold the value", r.ID, f)
						case treat != "" && treat != "clear" && v == customer[f]:
							t.Errorf("%s: %s field %s holds the clear value", r.ID, treat, f)
						}
					}
				}
				if !slices.Equal(got, ids) {
					t.Errorf("limit %d: exported %v, want %v", limit, got, ids)
				}
				// One export entry per page, naming the records it revealed.
				var audited []string
				for _, req := range requests {
					var n int
					for _, en := range e.audited(req) {
						if en.Action == entry.Export {
							n++
							audited = append(audited, en.Records...)
							if en.Collection != "customers" {
								t.Errorf("export entry of collection %q", en.Collection)
							}
						}
					}
					if n != 1 {
						t.Errorf("request %s left %d export entries, want 1", req, n)
					}
				}
				if !slices.Equal(audited, ids) {
					t.Errorf("audited %v, want %v", audited, ids)
				}
			}
		})
	}

	// The exports abroad with a clear name were transfers, counted once per
	// individual: cust-1 and cust-2.
	sr, err := e.s.TransferReport(ctx, admin(), "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sr.Report.Individuals.NonSensitive + sr.Report.Individuals.Sensitive; got != 2 {
		t.Errorf("the transfer report counts %d individuals, want 2 (%+v)", got, sr.Report.Individuals)
	}
}

// Pages with writes between them: the export lists every record that
// lives throughout once, in id order, never a deleted one.
func TestExportCollectionPagesUnderWrites(t *testing.T) {
	e := newExportEnv(t)
	ctx := context.Background()
	admin := func() region.Caller { return e.caller("admin-cn", "CN", "support", "admin") }
	ids := e.create(admin(), "cust-1", 6)
	slices.Sort(ids)
	doomed := ids[len(ids)-1]
	first := true
	recs, _, _ := exportAll(t, e, admin, 2, func() {
		if first {
			first = false
			if err := e.s.Delete(ctx, admin(), doomed); err != nil {
				t.Fatal(err)
			}
		}
		e.create(admin(), "cust-2", 1)
	})
	var got []string
	for _, r := range recs {
		if slices.Contains(got, r.ID) {
			t.Errorf("%s exported twice", r.ID)
		}
		got = append(got, r.ID)
	}
	if slices.Contains(got, doomed) {
		t.Errorf("exported %s, deleted before its page", doomed)
	}
	for _, id := range ids[:len(ids)-1] {
		if !slices.Contains(got, id) {
			t.Errorf("the export misses %s", id)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("the export is not in id order: %v", got)
	}
}

func TestExportCollectionRefused(t *testing.T) {
	e := newExportEnv(t)
	ctx := context.Background()
	e.create(e.caller("admin-cn", "CN", "support", "admin"), "cust-1", 1)
	tests := []struct {
		name       string
		c          region.Caller
		collection string
		cursor     string
		limit      int
		want       errcode.Code
	}{
		{"fail/no-read-permission", e.caller("svc", "CN", "", "ingest"), "customers", "", 0, errcode.PermissionDenied},
		{"fail/no-roles", e.caller("clerk", "CN", "support"), "customers", "", 0, errcode.PermissionDenied},
		// A role whose condition needs a record's jurisdiction is refused
		// at the gate, as for a subject listing.
		{"fail/conditional-role", e.caller("fa", "CN", "fraud-investigation", "fraud-analyst"), "customers", "", 0, errcode.ConditionNotMet},
		{"fail/unknown-collection", e.caller("admin-cn", "CN", "support", "admin"), "orders", "", 0, errcode.UnknownCollection},
		{"fail/bad-cursor", e.caller("admin-cn", "CN", "support", "admin"), "customers", "nope", 0, errcode.InvalidCursor},
		{"fail/negative-limit", e.caller("admin-cn", "CN", "support", "admin"), "customers", "", -3, errcode.InvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.r.Vault.Decrypted()
			p, err := e.s.ExportCollection(ctx, tc.c, tc.collection, tc.cursor, tc.limit)
			if got := errcode.CodeOf(err); got != tc.want {
				t.Fatalf("got %v (code %q), page %v; want %s", err, got, p, tc.want)
			}
			if n := e.r.Vault.Decrypted() - before; n != 0 {
				t.Errorf("a refused export decrypted %d values", n)
			}
		})
	}
}
