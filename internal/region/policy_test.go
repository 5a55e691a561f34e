package region

import (
	"strings"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
)

// edit returns the example policy with each old string replaced by the
// following new one; each old string must occur exactly once.
func edit(t *testing.T, pairs ...string) []byte {
	t.Helper()
	s := string(examples.Policy)
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(s, pairs[i]); n != 1 {
			t.Fatalf("example policy holds %q %d times, want once", pairs[i], n)
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return []byte(s)
}

func mustParse(t *testing.T, doc []byte) *policy.Policy {
	t.Helper()
	p, err := ParsePolicy("test", doc)
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

func TestCheckPolicyChange(t *testing.T) {
	const ruRegion = "  - name: ru-central\n    suite: intl\n    residency: strict\n    jurisdictions: [RU]\n"
	tests := []struct {
		name  string
		pairs []string
		want  []string // substrings of the refusal; none: allowed
	}{
		{name: "ok/unchanged"},
		{name: "ok/mask", pairs: []string{"        email: masked\n        phone: clear\n        national_id: none", "        email: clear\n        phone: masked\n        national_id: none"}},
		{name: "ok/purpose", pairs: []string{"purposes: [support, fraud-investigation, dsr, analytics, operations]", "purposes: [support, fraud-investigation, dsr, analytics, operations, audit]"}},
		{name: "ok/role-permissions", pairs: []string{"    permissions: [read, search, detokenize]\n    purposes: [support]", "    permissions: [read, search]\n    purposes: [support]"}},
		{name: "ok/guard-limit", pairs: []string{"      max: 300\n      response: lock", "      max: 600\n      response: lock"}},
		{name: "ok/residency-mode", pairs: []string{"    suite: intl\n    residency: standard", "    suite: intl\n    residency: strict"}},
		{name: "ok/field-added", pairs: []string{"        max_length: 500\n        mask: redact\n", "        max_length: 500\n        mask: redact\n      - name: nickname\n        type: string\n"}},
		{name: "ok/field-limit", pairs: []string{"        max_length: 500\n        mask: redact\n", "        max_length: 900\n        mask: redact\n"}},
		{name: "fail/suite", pairs: []string{"    suite: cn\n", "    suite: intl\n"}, want: []string{"region cn-north changes suite from cn to intl"}},
		{name: "fail/region-removed", pairs: []string{ruRegion, ""}, want: []string{"region ru-central is removed", "RU (ru-central to us-east)"}},
		{name: "fail/region-added", pairs: []string{ruRegion, ruRegion + "  - name: br-south\n    suite: intl\n    jurisdictions: [BR]\n"},
			want: []string{"region br-south is added", "BR (us-east to br-south)"}},
		{name: "fail/jurisdiction-moved", pairs: []string{"    jurisdictions: [RU]\n", "    jurisdictions: [RU, BR]\n"}, want: []string{"jurisdictions move to another region: BR (us-east to ru-central)"}},
		{name: "fail/index", pairs: []string{"        index: true\n        max_length: 254", "        index: false\n        max_length: 254"}, want: []string{"field customers.email changes its index"}},
		{name: "fail/token", pairs: []string{"token: deterministic", "token: random"}, want: []string{"field customers.email changes its token"}},
		{name: "fail/type", pairs: []string{"      - name: address\n        type: string", "      - name: address\n        type: text"}, want: []string{"field customers.address changes its type"}},
	}
	old := mustParse(t, examples.Policy)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := mustParse(t, edit(t, tt.pairs...))
			err := CheckPolicyChange(old, next)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if errcode.CodeOf(err) != errcode.PolicyChangeRefused {
				t.Fatalf("err = %v, want code %s", err, errcode.PolicyChangeRefused)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to say %q", err, w)
				}
			}
		})
	}
}

func TestCheckPolicyChangeDroppedJurisdiction(t *testing.T) {
	// Without a catch-all region, a country the old policy mapped and the
	// new one maps nowhere would strand its data.
	base := edit(t, `    jurisdictions: ["*"]   # quoted: a bare * means something else in YAML`, "    jurisdictions: [US, BR]",
		"default_region: us-east\n", "")
	old := mustParse(t, base)
	next := mustParse(t, []byte(strings.Replace(string(base), "    jurisdictions: [US, BR]", "    jurisdictions: [US]", 1)))
	err := CheckPolicyChange(old, next)
	if errcode.CodeOf(err) != errcode.PolicyChangeRefused || !strings.Contains(err.Error(), "left without a region: BR") {
		t.Fatalf("err = %v, want BR left without a region", err)
	}
	// The other way, a newly covered country is allowed.
	if err := CheckPolicyChange(next, old); err != nil {
		t.Fatalf("adding a jurisdiction: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		want []string
	}{
		{name: "fail/syntax", doc: []byte("version: 1\nregions: [\n"), want: []string{"line "}},
		{name: "fail/unknown-suite", doc: edit(t, "    suite: cn\n", "    suite: gost\n"), want: []string{"line ", "suite"}},
		{name: "fail/unknown-key", doc: edit(t, "default_region: us-east\n", "default_region: us-east\ndefualt: 1\n"), want: []string{"line ", "defualt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy("test", tt.doc)
			if errcode.CodeOf(err) != errcode.InvalidPolicy {
				t.Fatalf("err = %v, want code %s", err, errcode.InvalidPolicy)
			}
			var e *errcode.Error
			e, _ = err.(*errcode.Error)
			for _, w := range tt.want {
				if !strings.Contains(e.Msg, w) {
					t.Errorf("message %q lacks %q", e.Msg, w)
				}
			}
		})
	}
	if _, err := ParsePolicy("test", examples.Policy); err != nil {
		t.Fatalf("example policy: %v", err)
	}
}
