package access

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/policy"
)

func engine(t testing.TB, extra string) *Engine {
	t.Helper()
	src := string(examples.Policy)
	if extra != "" {
		src = strings.Replace(src, "\ntransfers:\n", "\ntransfers:\n"+extra, 1)
	}
	pol, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(pol)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const cnToUS = `  - name: cn-to-us-scc
    from: cn-north
    to: [US]
    basis: standard-contract
    collection: customers
    fields: [name, email]
`

// fields renders a decision's fields as "name=clear phone=masked:last4 ...".
// withAbroad returns an engine whose region has the given abroad rule.
func (e *Engine) withAbroad(t testing.TB, region string, a policy.Abroad) *Engine {
	t.Helper()
	pol := *e.pol
	pol.Regions = append([]policy.Region(nil), pol.Regions...)
	for i := range pol.Regions {
		if pol.Regions[i].Name == region {
			pol.Regions[i].Abroad = a
		}
	}
	out, err := New(&pol)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fields(d Decision) string {
	var parts []string
	for _, k := range sortedKeys(d.Fields) {
		parts = append(parts, k+"="+d.Fields[k].String())
	}
	return strings.Join(parts, " ")
}

func TestDecideDocumented(t *testing.T) {
	plain, withRule := engine(t, ""), engine(t, cnToUS)
	p := func(id, loc string, roles ...string) Principal { return Principal{ID: id, Roles: roles, Location: loc} }
	read := func(region, purpose, j string) Request {
		return Request{Action: policy.PermRead, Purpose: purpose, Region: region, Collection: "customers", Jurisdiction: j}
	}
	for _, tc := range []struct {
		name   string
		e      *Engine
		p      Principal
		req    Request
		code   string // "" = allowed
		fields string
		rule   string
	}{
		{"ok/support-us-reads-cn-masked", plain, p("a", "US", "support"), read("cn-north", "support", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=masked:first1 phone=masked:last4", "abroad-masked"},
		{"ok/support-cn-reads-cn-clear", plain, p("b", "CN", "support"), read("cn-north", "support", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=clear phone=clear", "in-region"},
		{"ok/support-cn-without-purpose-masked", plain, p("b", "CN", "support"), read("cn-north", "", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=masked:first1 phone=masked:last4", "in-region"},
		{"ok/support-cn-other-purpose-masked", plain, p("b", "CN", "support"), read("cn-north", "analytics", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=masked:first1 phone=masked:last4", "in-region"},
		{"ok/admin-us-reads-cn-no-rule", plain, p("c", "US", "admin"), read("cn-north", "support", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=masked:first1 national_id=masked:last4 phone=masked:last4", "abroad-masked"},
		{"ok/admin-us-reads-cn-with-scc", withRule, p("c", "US", "admin"), read("cn-north", "support", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=clear name=clear national_id=masked:last4 phone=masked:last4", "cn-to-us-scc"},
		{"ok/admin-de-reads-cn-rule-is-for-us-only", withRule, p("c", "DE", "admin"), read("cn-north", "support", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=masked:first1 national_id=masked:last4 phone=masked:last4", "abroad-masked"},
		{"ok/admin-cn-reads-cn-clear", plain, p("c", "CN", "admin"), read("cn-north", "dsr", "CN"), "",
			"address=clear date_of_birth=clear email=clear name=clear national_id=clear phone=clear", "in-region"},
		{"ok/admin-cn-reads-us-standard-region", plain, p("c", "CN", "admin"), read("us-east", "support", "US"), "",
			"address=clear date_of_birth=clear email=clear name=clear national_id=clear phone=clear", "standard"},
		{"ok/support-gb-reads-eu-adequacy", plain, p("d", "GB", "support"), read("eu-central", "support", "DE"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=clear phone=clear", "eu-to-gb-adequacy"},
		{"ok/support-fr-reads-eu-in-region", plain, p("d", "FR", "support"), read("eu-central", "support", "DE"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=clear phone=clear", "in-region"},
		{"ok/support-no-reads-eu-eea-in-region", plain, p("d", "NO", "support"), read("eu-central", "support", "DE"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=clear phone=clear", "in-region"},
		{"ok/fraud-analyst-own-country", plain, p("e", "CN", "fraud-analyst"), read("cn-north", "fraud-investigation", "CN"), "",
			"address=clear date_of_birth=clear email=clear name=clear national_id=clear phone=clear", "in-region"},
		{"fail/fraud-analyst-other-country", plain, p("e", "DE", "fraud-analyst"), read("us-east", "fraud-investigation", "US"), CodeConditionFailed, "", ""},
		{"ok/analytics-hashes-only", plain, p("f", "US", "analytics"), read("us-east", "analytics", "US"), "",
			"date_of_birth=masked:year email=masked:hash phone=masked:hash", "standard"},
		{"fail/ingest-cannot-read", plain, p("g", "US", "ingest"), read("us-east", "", "US"), CodePermissionDenied, "", ""},
		{"ok/ingest-creates-from-abroad", plain, p("g", "US", "ingest"), Request{Action: policy.PermCreate, Region: "cn-north", Collection: "customers", Jurisdiction: "CN"}, "", "", "in-region"},
		{"ok/admin-updates-refuse-region-from-abroad", engine(t, "").withAbroad(t, "cn-north", policy.AbroadRefuse), p("c", "US", "admin"), Request{Action: policy.PermUpdate, Region: "cn-north", Collection: "customers", Jurisdiction: "CN"}, "", "", "in-region"},
		{"fail/admin-reads-refuse-region-from-abroad", engine(t, "").withAbroad(t, "cn-north", policy.AbroadRefuse), p("c", "US", "admin"), read("cn-north", "support", "CN"), CodeTransferRequired, "", ""},
		{"fail/support-cannot-erase", plain, p("a", "CN", "support"), Request{Action: policy.PermErase, Region: "cn-north", Collection: "customers"}, CodePermissionDenied, "", ""},
		{"fail/support-not-admin", plain, p("a", "CN", "support"), Request{Action: policy.PermAdmin, Region: "cn-north"}, CodePermissionDenied, "", ""},
		{"fail/unknown-purpose", plain, p("a", "CN", "support"), read("cn-north", "marketing", "CN"), CodePurposeUnknown, "", ""},
		{"fail/region-not-reachable", plain, Principal{ID: "h", Roles: []string{"support"}, Location: "CN", Regions: []string{"eu-central"}}, read("cn-north", "support", "CN"), CodeRegionDenied, "", ""},
		{"fail/no-roles", plain, p("i", "US"), read("us-east", "support", "US"), CodePermissionDenied, "", ""},
		{"ok/two-roles-most-revealing", plain, p("j", "CN", "support", "analytics"), read("cn-north", "support", "CN"), "",
			"address=masked:redact date_of_birth=masked:year email=masked:email name=clear phone=clear", "in-region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.e.Decide(tc.p, tc.req)
			if tc.code != "" {
				if d.Allowed || d.Code != tc.code {
					t.Fatalf("decision %+v, want denial %s", d, tc.code)
				}
				if len(d.Reasons) == 0 {
					t.Errorf("denial without a reason")
				}
				return
			}
			if !d.Allowed {
				t.Fatalf("denied %s: %v", d.Code, d.Reasons)
			}
			if got := fields(d); got != tc.fields {
				t.Errorf("fields\n got %s\nwant %s", got, tc.fields)
			}
			if d.Rule != tc.rule {
				t.Errorf("rule %q, want %q", d.Rule, tc.rule)
			}
		})
	}
}

// TestDecideInvariants sweeps every role x purpose x location x region x
// action, with and without a transfer rule, and checks what the policy
// promises whatever the combination.
func TestDecideInvariants(t *testing.T) {
	locations := []string{"CN", "RU", "DE", "FR", "NO", "GB", "US", "BR", "JP"}
	purposes := append([]string{""}, engine(t, "").pol.Purposes...)
	n := 0
	for _, e := range []*Engine{engine(t, ""), engine(t, cnToUS)} {
		pol := e.pol
		coll, _ := pol.Collection("customers")
		for _, role := range pol.Roles {
			for _, region := range pol.Regions {
				for _, loc := range locations {
					for _, purpose := range purposes {
						for _, action := range policy.Permissions {
							n++
							p := Principal{ID: "x", Roles: []string{role.Name}, Location: loc}
							req := Request{Action: action, Purpose: purpose, Region: region.Name, Collection: "customers", Jurisdiction: loc}
							d := e.Decide(p, req)
							name := fmt.Sprintf("%s/%s/%s/%q/%s", role.Name, region.Name, loc, purpose, action)
							// Deny by default: allowed only with the permission.
							if d.Allowed != role.Has(action) && d.Code != CodeConditionFailed {
								t.Fatalf("%s: allowed=%v but role has %s = %v", name, d.Allowed, action, role.Has(action))
							}
							if !d.Allowed {
								if d.Fields != nil {
									t.Fatalf("%s: a denial carries fields", name)
								}
								continue
							}
							for f, tr := range d.Fields {
								fa, listed := role.Collections["customers"][f]
								if !listed || fa.Kind == policy.AccessNone {
									t.Fatalf("%s: field %s visible though the role does not list it", name, f)
								}
								if tr.Kind == policy.AccessClear {
									if fa.Kind != policy.AccessClear {
										t.Fatalf("%s: field %s clear though the role masks it", name, f)
									}
									if !slices.Contains(role.Purposes, purpose) {
										t.Fatalf("%s: field %s clear without an allowed purpose", name, f)
									}
									if region.Residency == policy.Strict && !region.Covers(loc) {
										ok := false
										for _, tr := range pol.Transfers {
											ok = ok || (tr.From == region.Name && tr.Allows("customers", f, loc))
										}
										if !ok {
											t.Fatalf("%s: field %s leaves %s in clear without a transfer rule", name, f, region.Name)
										}
										if !d.Transfer {
											t.Fatalf("%s: a read from abroad not marked as a transfer", name)
										}
									}
								}
								if tr.Kind == policy.AccessMasked && !slices.Contains(policy.Masks, tr.Mask) {
									t.Fatalf("%s: field %s has unknown mask %q", name, f, tr.Mask)
								}
							}
							_ = coll
						}
					}
				}
			}
		}
	}
	t.Logf("%d combinations checked", n)
}

func TestMasks(t *testing.T) {
	m := Masker{}
	for _, tc := range []struct{ mask, in, want string }{
		{policy.MaskLast4, "+86 138 0013 8000", "*************8000"},
		{policy.MaskLast4, "123", "***"},
		{policy.MaskFirst1, "王伟", "王*"},
		{policy.MaskFirst1, "Jürgen Müller", "J************"},
		{policy.MaskEmail, "wang.wei@example.com", "w***@example.com"},
		{policy.MaskEmail, "no-at-sign", "[redacted]"},
		{policy.MaskYear, "1949-12-31", "1949"},
		{policy.MaskYear, "garbage", "[redacted]"},
		{policy.MaskRedact, "anything", "[redacted]"},
		{policy.MaskHash, "x", "[redacted]"}, // no key: never the value
	} {
		if got := m.Apply(tc.mask, tc.in); got != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.mask, tc.in, got, tc.want)
		}
	}
}
