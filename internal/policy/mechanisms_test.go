package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// mechBase is the start of the policies the table tests below complete;
// a case's lines are numbered from the line after it.
const mechBase = `version: 1
regions:
  - name: cn-north
    suite: cn
    jurisdictions: [CN]
    time_zone: Asia/Shanghai
    transfer_thresholds: {preset: pipl}
  - name: eu-central
    suite: intl
    jurisdictions: [EU, EEA]
  - name: us-east
    suite: intl
    residency: standard
    jurisdictions: ["*"]
collections:
  - name: customers
    fields: [{name: name, type: string}, {name: national_id, type: national_id}]
  - name: employees
    fields: [{name: name, type: string}]
`

// mech is a valid mechanism in flow style, with overrides: "key: value"
// pairs replacing or adding keys; a value of "-" removes the key.
func mech(overrides ...string) string {
	keys := []string{"name", "region", "kind", "reference", "to", "valid_from"}
	vals := map[string]string{"name": "m", "region": "cn-north", "kind": "standard-contract",
		"reference": `"CAC filing 2026-0001"`, "to": "[US]", "valid_from": "2026-01-01"}
	for _, o := range overrides {
		k, v, _ := strings.Cut(o, ": ")
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	var parts []string
	for _, k := range keys {
		if vals[k] != "-" {
			parts = append(parts, k+": "+vals[k])
		}
	}
	return "  - {" + strings.Join(parts, ", ") + "}\n"
}

// rule is a valid transfer rule from cn-north in flow style, with
// overrides as for mech.
func rule(overrides ...string) string {
	keys := []string{"name", "from", "to", "basis", "collection", "fields"}
	vals := map[string]string{"name": "r", "from": "cn-north", "to": "[US]", "basis": "standard-contract",
		"collection": "customers", "fields": "[name]"}
	for _, o := range overrides {
		k, v, _ := strings.Cut(o, ": ")
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	var parts []string
	for _, k := range keys {
		if vals[k] != "-" {
			parts = append(parts, k+": "+vals[k])
		}
	}
	return "  - {" + strings.Join(parts, ", ") + "}\n"
}

// parseOne parses mechBase+src and returns the single problem it must
// have, with its line relative to src.
func parseOne(t *testing.T, src string) (*Error, int) {
	t.Helper()
	p, err := Parse("p.yaml", []byte(mechBase+src))
	var list *ErrorList
	if !errors.As(err, &list) || p != nil {
		t.Fatalf("Parse = %v, %v; want an *ErrorList", p, err)
	}
	if len(*list) != 1 {
		t.Fatalf("want 1 problem, got:\n%v", list)
	}
	e := (*list)[0]
	return e, e.Line - strings.Count(mechBase, "\n")
}

func TestMechanismErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		src       string
		line      int // within src
		msg, hint string
	}{
		{"kind/misspelt", "mechanisms:\n" + mech("kind: standard-contrat"), 2,
			`unknown mechanism kind "standard-contrat"`, `did you mean "standard-contract"?`},
		{"kind/unknown", "mechanisms:\n" + mech("kind: treaty"), 2,
			`unknown mechanism kind "treaty"`, "the kinds are standard-contract, certification, security-assessment, adequacy, scc, bcr, derogation, contract-necessity, hr-management, emergency"},
		{"kind/missing", "mechanisms:\n" + mech("kind: -"), 2, `mechanism has no kind`, `add "kind: ..."`},
		{"region/misspelt", "mechanisms:\n" + mech("region: cn-nort"), 2,
			`mechanism for unknown region "cn-nort"`, `did you mean "cn-north"?`},
		{"region/unknown", "mechanisms:\n" + mech("region: mars"), 2,
			`mechanism for unknown region "mars"`, "name the exporting region, one of cn-north, eu-central, us-east"},
		{"region/missing", "mechanisms:\n" + mech("region: -"), 2, `mechanism has no region`, `add "region: ..."`},
		{"reference/missing", "mechanisms:\n" + mech("reference: -"), 2,
			`standard-contract mechanism "m" has no reference`, `add "reference: ..." with the filing or approval reference`},
		{"reference/empty", "mechanisms:\n  - name: m\n    region: cn-north\n    kind: adequacy\n    reference: \"  \"\n    to: [US]\n    valid_from: 2026-01-01\n", 5,
			`adequacy mechanism "m" has no reference`, `add "reference: ..."`},
		{"reference/misspelt", "mechanisms:\n" + mech("reference: -", "referense: x"), 2,
			`unknown key "referense" in mechanism`, `did you mean "reference"?`},
		{"name/invalid", "mechanisms:\n" + mech("name: CN_US"), 2, `invalid mechanism name "CN_US"`, "use lower-case letters"},
		{"name/duplicate", "mechanisms:\n" + mech("to: [US]") + mech("to: [JP]"), 3,
			`duplicate mechanism "m" (first on line ` + fmt.Sprint(strings.Count(mechBase, "\n")+2) + `)`, "give each mechanism its own name"},
		{"to/missing", "mechanisms:\n" + mech("to: -"), 2, `mechanism has no to`, `add "to: ..."`},
		{"to/empty", "mechanisms:\n" + mech("to: []"), 2, `to is empty`, "list at least one destination"},
		{"to/uk", "mechanisms:\n" + mech("to: [UK]"), 2, `unknown destination "UK"`, `the ISO 3166-1 code is "GB"`},
		{"to/lower", "mechanisms:\n" + mech("to: [us]"), 2, `unknown destination "us"`, `write codes in upper case: "US"`},
		{"to/twice", "mechanisms:\n" + mech("to: [US, US]"), 2, `destination "US" listed twice`, "remove the second entry"},
		{"collections/unknown", "mechanisms:\n" + mech("collections: [customer]"), 2,
			`mechanism covers unknown collection "customer"`, `did you mean "customers"?`},
		{"collections/empty", "mechanisms:\n" + mech("collections: []"), 2, `collections is empty`, "remove the key to cover all"},
		{"recipients/empty-name", "mechanisms:\n" + mech(`recipients: [""]`), 2, `empty recipient`, "name the organisation"},
		{"valid_from/missing", "mechanisms:\n" + mech("valid_from: -"), 2, `mechanism has no valid_from`, `add "valid_from: ..."`},
		{"valid_from/month-13", "mechanisms:\n" + mech("valid_from: 2026-13-01"), 2, `invalid valid_from "2026-13-01"`, "write a date as YYYY-MM-DD"},
		{"valid_from/us-style", "mechanisms:\n" + mech("valid_from: 01/02/2026"), 2, `invalid valid_from "01/02/2026"`, "write a date as YYYY-MM-DD"},
		{"valid_from/timestamp", "mechanisms:\n" + mech("valid_from: 2026-01-01T00:00:00Z"), 2, `invalid valid_from "2026-01-01T00:00:00Z"`, "YYYY-MM-DD"},
		{"valid_from/empty", "mechanisms:\n" + mech("valid_from: "), 2, `valid_from is empty`, "fill in the value"},
		{"valid_until/malformed", "mechanisms:\n" + mech("valid_until: 2026-02-30"), 2, `invalid valid_until "2026-02-30"`, "YYYY-MM-DD"},
		{"valid_until/before", "mechanisms:\n  - name: m\n    region: cn-north\n    kind: scc\n    reference: x\n    to: [US]\n    valid_from: 2026-01-01\n    valid_until: 2025-12-31\n", 8,
			`valid_until 2025-12-31 is before valid_from 2026-01-01`, "on or after valid_from"},
		{"assessment/too-long", "mechanisms:\n  - name: a\n    region: cn-north\n    kind: security-assessment\n    reference: x\n    to: [US]\n    valid_from: 2026-01-01\n    valid_until: 2029-01-01\n", 8,
			`security assessment "a" is valid for more than 3 years (2026-01-01 to 2029-01-01)`, "end it on 2028-12-31 at the latest"},
		{"assessment/leap-day", "mechanisms:\n" + mech("kind: security-assessment", "valid_from: 2028-02-29", "valid_until: 2031-03-01"), 2,
			`is valid for more than 3 years (2028-02-29 to 2031-03-01)`, "end it on 2031-02-28 at the latest"},
		{"assessment/open-ended", "mechanisms:\n" + mech("kind: security-assessment"), 2,
			`security assessment "m" has no valid_until`, "until 2028-12-31 at the latest"},
		{"overlap/same-destination", "mechanisms:\n" + mech("name: a", "valid_until: 2026-12-31") + mech("name: b", "valid_from: 2026-12-31"), 3,
			`mechanism "b" overlaps "a" (line ` + fmt.Sprint(strings.Count(mechBase, "\n")+2) + `): both are standard-contract mechanisms of region cn-north covering US from 2026-12-31`,
			`end the earlier one before the later one starts: give "a" "valid_until: 2026-12-30" (a renewal starts the day after)`},
		{"overlap/same-start", "mechanisms:\n" + mech("name: a", "valid_until: 2026-12-31") + mech("name: b"), 3,
			`mechanism "b" overlaps "a"`, "end the earlier one before the later one starts (a renewal starts the day after), or remove one of them"},
		{"overlap/open-ended", "mechanisms:\n" + mech("name: a") + mech("name: b", "valid_from: 2030-06-01"), 3,
			`mechanism "b" overlaps "a"`, "a renewal starts the day after"},
		{"overlap/later-first", "mechanisms:\n" + mech("name: a", "valid_from: 2027-01-01") + mech("name: b", "valid_until: 2027-01-01"), 2,
			`mechanism "a" overlaps "b" (line ` + fmt.Sprint(strings.Count(mechBase, "\n")+3) + `): both are standard-contract mechanisms of region cn-north covering US from 2027-01-01`,
			`give "b" "valid_until: 2026-12-31"`},
		{"overlap/group", "mechanisms:\n" + mech("name: a", "to: [EU]") + mech("name: b", "to: [JP, DE]"), 3,
			`covering DE from 2026-01-01`, "a renewal starts the day after"},
		{"overlap/star", "mechanisms:\n" + mech("name: a", `to: ["*"]`) + mech("name: b", "to: [JP]"), 3,
			`covering JP from`, "a renewal starts the day after"},
		{"overlap/any-recipient", "mechanisms:\n" + mech("name: a", "recipients: [acme-us]") + mech("name: b"), 3,
			`mechanism "b" overlaps "a"`, "a renewal starts the day after"},
		{"overlap/exempt-kind", "mechanisms:\n" + mech("name: a", "kind: emergency") + mech("name: b", "kind: emergency"), 3,
			`both are emergency mechanisms`, "a renewal starts the day after"},
		{"rule/unknown-mechanism", "mechanisms:\n" + mech("name: cn-us") + "transfers:\n" + rule("mechanism: cn-su"), 4,
			`transfer rule "r" names unknown mechanism "cn-su"`, `did you mean "cn-us"?`},
		{"rule/unknown-mechanism-list", "mechanisms:\n" + mech("name: cn-us") + "transfers:\n" + rule("mechanism: other"), 4,
			`names unknown mechanism "other"`, "name a mechanism of region cn-north: cn-us"},
		{"rule/no-mechanisms", "transfers:\n" + rule("mechanism: cn-us"), 2,
			`names unknown mechanism "cn-us"`, "add the mechanism under mechanisms:, with region cn-north"},
		{"rule/other-region", "mechanisms:\n" + mech("name: eu", "region: eu-central") + "transfers:\n" + rule("mechanism: eu"), 4,
			`transfer rule "r" from region cn-north names mechanism "eu" (line ` + fmt.Sprint(strings.Count(mechBase, "\n")+2) + `) of region eu-central`, "name a mechanism of region cn-north"},
		{"rule/destination", "mechanisms:\n" + mech() + "transfers:\n" + rule("to: [US, JP, SG]", "mechanism: m"), 4,
			`mechanism "m" (line ` + fmt.Sprint(strings.Count(mechBase, "\n")+2) + `) does not cover destination JP, SG of transfer rule "r"`, "add JP, SG to the mechanism's to (now US)"},
		{"rule/group", "mechanisms:\n" + mech("to: [DE, FR]") + "transfers:\n" + rule("to: [EU]", "mechanism: m"), 4,
			`does not cover destination EU of transfer rule "r"`, "now DE, FR"},
		{"rule/star", "mechanisms:\n" + mech("to: [EEA]") + "transfers:\n" + rule(`to: ["*"]`, "mechanism: m"), 4,
			`does not cover destination "*" of transfer rule "r"`, "now EEA"},
		{"rule/collection", "mechanisms:\n" + mech("collections: [employees]") + "transfers:\n" + rule("mechanism: m"), 4,
			`mechanism "m" (line ` + fmt.Sprint(strings.Count(mechBase, "\n")+2) + `) does not cover collection customers of transfer rule "r"`, "add customers to the mechanism's collections (now employees)"},
		{"rule/block-style-line", "mechanisms:\n" + mech() + "transfers:\n  - name: r\n    from: cn-north\n    to: [JP]\n    basis: consent\n    collection: customers\n    fields: [name]\n    mechanism: m\n", 4,
			`does not cover destination JP`, "now US"},
		{"rule/misspelt-key", "mechanisms:\n" + mech() + "transfers:\n" + rule("mechansim: m"), 4,
			`unknown key "mechansim" in transfer`, `did you mean "mechanism"?`},
		{"section/misspelt", "mechanisms:\n" + mech("valid_untill: 2027-01-01"), 2,
			`unknown key "valid_untill" in mechanism`, `did you mean "valid_until"?`},
		{"section/not-a-list", "mechanisms: {name: m}\n", 1, `mechanisms must be a list`, "each starting with"},
		{"top/misspelt", "mechanism:\n" + mech(), 1, `unknown key "mechanism" in policy`, `did you mean "mechanisms"?`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, line := parseOne(t, tt.src)
			if line != tt.line || !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) || e.File != "p.yaml" {
				t.Errorf("got %v (line %d of the case)\nwant line %d: %s (hint: %s)", e, line, tt.line, tt.msg, tt.hint)
			}
		})
	}
}

func TestMechanismsNotOverlapping(t *testing.T) {
	for _, tt := range []struct{ name, src string }{
		{"renewal", mech("name: a", "valid_until: 2026-12-31") + mech("name: b", "valid_from: 2027-01-01")},
		{"other-kind", mech("name: a") + mech("name: b", "kind: certification")},
		{"other-region", mech("name: a") + mech("name: b", "region: eu-central", "kind: scc")},
		{"other-destination", mech("name: a", "to: [US]") + mech("name: b", "to: [JP, EU]")},
		{"other-recipient", mech("name: a", "recipients: [acme-us]") + mech("name: b", "recipients: [beta-us, gamma-us]")},
		{"other-collection", mech("name: a", "collections: [customers]") + mech("name: b", "collections: [employees]")},
		{"assessment-3-years", mech("kind: security-assessment", "valid_from: 2026-01-01", "valid_until: 2028-12-31")},
		{"exempt-without-reference", mech("kind: contract-necessity", "reference: -") + mech("name: h", "kind: hr-management", "reference: -") + mech("name: e", "kind: emergency", "reference: -")},
		{"one-day", mech("valid_until: 2026-01-01")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("p.yaml", []byte(mechBase+"mechanisms:\n"+tt.src)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseMechanisms(t *testing.T) {
	p, err := Load("testdata/good/mechanisms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shanghai, berlin := mustZone(t, "Asia/Shanghai"), mustZone(t, "Europe/Berlin")
	m, ok := p.Mechanism("cn-us-standard-contract")
	want := &Mechanism{Name: "cn-us-standard-contract", Region: "cn-north", Kind: KindStandardContract, Reference: "CAC filing 2026-0001",
		To: []string{"US"}, Recipients: []string{"acme-us"}, Collections: []string{"customers"},
		ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai), ValidUntil: time.Date(2026, 12, 31, 0, 0, 0, 0, shanghai), Line: 38}
	if diff := cmp.Diff(want, m); !ok || diff != "" {
		t.Errorf("Mechanism(cn-us-standard-contract) (-want +got):\n%s", diff)
	}
	if m.ValidFrom.Location().String() != "Asia/Shanghai" {
		t.Errorf("valid_from in %v, want the region's zone", m.ValidFrom.Location())
	}
	adequacy, _ := p.Mechanism("eu-gb-adequacy")
	if !adequacy.ValidUntil.IsZero() || !adequacy.ValidFrom.Equal(time.Date(2021, 6, 28, 0, 0, 0, 0, berlin)) || adequacy.Recipients != nil || adequacy.Collections != nil {
		t.Errorf("eu-gb-adequacy = %+v", adequacy)
	}
	if _, ok := p.Mechanism("nosuch"); ok {
		t.Error("Mechanism(nosuch) found")
	}
	var names []string
	for _, m := range p.MechanismsOf("eu-central") {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, " "); got != "eu-gb-adequacy eu-us-scc eu-group-bcr eu-one-off" {
		t.Errorf("MechanismsOf(eu-central) = %s", got)
	}
	if got := p.MechanismsOf("us-east"); got != nil {
		t.Errorf("MechanismsOf(us-east) = %v", got)
	}
	if ms := p.MechanismsOf("cn-north"); len(ms) != 8 || ms[0] != m {
		t.Errorf("MechanismsOf(cn-north) = %d mechanisms, first %p, want 8 starting with %p", len(ms), ms[0], m)
	}
	var linked []string
	for _, tr := range p.Transfers {
		linked = append(linked, tr.Name+"="+tr.Mechanism)
	}
	if got := strings.Join(linked, " "); got != "cn-to-us=cn-us-standard-contract cn-to-asia=cn-sg-certification cn-anywhere=cn-global-assessment eu-to-gb=eu-gb-adequacy" {
		t.Errorf("transfer mechanisms = %s", got)
	}
}

func TestParseExampleMechanisms(t *testing.T) {
	p, err := Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shanghai := mustZone(t, "Asia/Shanghai")
	want := []Mechanism{
		{Name: "cn-us-standard-contract", Region: "cn-north", Kind: KindStandardContract, To: []string{"US"}, Collections: []string{"customers"},
			ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai), ValidUntil: time.Date(2028, 12, 31, 0, 0, 0, 0, shanghai)},
		{Name: "eu-gb-adequacy", Region: "eu-central", Kind: KindAdequacy, To: []string{"GB"},
			ValidFrom: time.Date(2021, 6, 28, 0, 0, 0, 0, mustZone(t, "Europe/Berlin"))},
	}
	if diff := cmp.Diff(want, p.Mechanisms, cmpopts.IgnoreFields(Mechanism{}, "Line", "Reference")); diff != "" {
		t.Errorf("example mechanisms (-want +got):\n%s", diff)
	}
	for _, m := range p.Mechanisms {
		if m.Reference == "" || m.Line == 0 {
			t.Errorf("mechanism %s: reference %q, line %d", m.Name, m.Reference, m.Line)
		}
	}
	if len(p.Transfers) != 1 || p.Transfers[0].Mechanism != "eu-gb-adequacy" {
		t.Errorf("transfers = %+v", p.Transfers)
	}
	cn, _ := p.Region("cn-north")
	if cn.TimeZone.String() != "Asia/Shanghai" || cn.Thresholds == nil || *cn.Thresholds != (Thresholds{100_000, 1_000_000, 10_000}) {
		t.Errorf("cn-north: zone %v, thresholds %+v", cn.TimeZone, cn.Thresholds)
	}
	eu, _ := p.Region("eu-central")
	us, _ := p.Region("us-east")
	if eu.TimeZone.String() != "Europe/Berlin" || eu.Thresholds != nil || us.TimeZone != time.UTC {
		t.Errorf("eu-central: %v %v; us-east: %v", eu.TimeZone, eu.Thresholds, us.TimeZone)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestMechanismKinds(t *testing.T) {
	for _, tt := range []struct {
		kind    string
		counted bool
		level   Level
	}{
		{KindStandardContract, true, LevelContract},
		{KindCertification, true, LevelContract},
		{KindSecurityAssessment, true, LevelAssessment},
		{KindAdequacy, true, LevelNone},
		{KindSCC, true, LevelNone},
		{KindBCR, true, LevelNone},
		{KindDerogation, true, LevelNone},
		{KindContractNecessity, false, LevelExempt},
		{KindHRManagement, false, LevelExempt},
		{KindEmergency, false, LevelExempt},
	} {
		m := &Mechanism{Kind: tt.kind}
		if m.Counted() != tt.counted || m.Level() != tt.level {
			t.Errorf("%s: Counted() = %v, Level() = %v; want %v, %v", tt.kind, m.Counted(), m.Level(), tt.counted, tt.level)
		}
	}
	if len(MechanismKinds) != 10 {
		t.Errorf("MechanismKinds = %v", MechanismKinds)
	}
}

func TestCovers(t *testing.T) {
	shanghai := mustZone(t, "Asia/Shanghai")
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, shanghai) }
	m := &Mechanism{Name: "m", Region: "cn-north", Kind: KindStandardContract, To: []string{"US", "EU"},
		Recipients: []string{"acme-us", "acme-eu"}, Collections: []string{"customers"},
		ValidFrom: day(2026, 1, 1), ValidUntil: day(2026, 12, 31)}
	open := &Mechanism{Kind: KindBCR, To: []string{"*"}, ValidFrom: day(2026, 1, 1)}
	mid := day(2026, 6, 1)
	for _, tt := range []struct {
		name                        string
		m                           *Mechanism
		collection, dest, recipient string
		at                          time.Time
		reason                      string // "" when covered
	}{
		{"ok", m, "customers", "US", "acme-us", mid, ""},
		{"ok/lower-case", m, "customers", "us", "acme-us", mid, ""},
		{"ok/group-member", m, "customers", "DE", "acme-eu", mid, ""},
		{"ok/first-instant", m, "customers", "US", "acme-us", day(2026, 1, 1), ""},
		{"ok/first-instant-utc", m, "customers", "US", "acme-us", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), ""},
		{"ok/last-instant", m, "customers", "US", "acme-us", day(2027, 1, 1).Add(-time.Nanosecond), ""},
		{"ok/open-ended", open, "anything", "JP", "anyone", day(2126, 1, 1), ""},
		{"ok/no-recipient-needed", open, "customers", "US", "", mid, ""},
		{"not-yet", m, "customers", "US", "acme-us", day(2026, 1, 1).Add(-time.Nanosecond), "valid from 2026-01-01"},
		{"not-yet/utc", m, "customers", "US", "acme-us", time.Date(2025, 12, 31, 15, 59, 59, 0, time.UTC), "valid from 2026-01-01"},
		{"expired", m, "customers", "US", "acme-us", day(2027, 1, 1), "expired on 2026-12-31"},
		{"expired/utc", m, "customers", "US", "acme-us", time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC), "expired on 2026-12-31"},
		{"destination", m, "customers", "JP", "acme-us", mid, "does not cover destination JP"},
		{"destination/lower", m, "customers", "jp", "acme-us", mid, "does not cover destination JP"},
		{"destination/eea-only", m, "customers", "NO", "acme-eu", mid, "does not cover destination NO"},
		{"recipient", m, "customers", "US", "beta-us", mid, "does not cover recipient beta-us"},
		{"recipient/unnamed", m, "customers", "US", "", mid, "does not cover an unnamed recipient (it covers acme-us, acme-eu)"},
		{"collection", m, "employees", "US", "acme-us", mid, "does not cover collection employees"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := tt.m.Covers(tt.collection, tt.dest, tt.recipient, tt.at)
			if ok != (tt.reason == "") || reason != tt.reason {
				t.Errorf("Covers(%q, %q, %q, %v) = %v, %q; want reason %q", tt.collection, tt.dest, tt.recipient, tt.at, ok, reason, tt.reason)
			}
		})
	}
}
