package policy

import (
	"math"
	"strings"
	"testing"
	"time"
)

var pipl = &Thresholds{ExemptBelow: PIPLExemptBelow, ContractMax: PIPLContractMax, SensitiveContractBelow: PIPLSensitiveContractBelow}

func TestRequired(t *testing.T) {
	for _, tt := range []struct {
		nonSensitive, sensitive int64
		want                    Level
	}{
		{0, 0, LevelExempt},
		{1, 0, LevelExempt},
		{99_999, 0, LevelExempt},
		{100_000, 0, LevelContract},
		{1_000_000, 0, LevelContract},
		{1_000_001, 0, LevelAssessment},
		{0, 1, LevelContract},
		{99_999, 1, LevelContract},
		{0, 9_999, LevelContract},
		{1_000_000, 9_999, LevelContract},
		{0, 10_000, LevelAssessment},
		{99_999, 10_000, LevelAssessment},
		{1_000_001, 9_999, LevelAssessment},
		{math.MaxInt64, math.MaxInt64, LevelAssessment},
	} {
		if got := pipl.Required(tt.nonSensitive, tt.sensitive); got != tt.want {
			t.Errorf("Required(%d, %d) = %v, want %v", tt.nonSensitive, tt.sensitive, got, tt.want)
		}
	}
	var none *Thresholds
	if got := none.Required(5_000_000, 50_000); got != LevelNone {
		t.Errorf("nil Required = %v, want none", got)
	}
}

func TestLimit(t *testing.T) {
	for _, tt := range []struct {
		l         Level
		sensitive bool
		want      int64
	}{
		{LevelNone, false, 99_999},
		{LevelNone, true, 0},
		{LevelExempt, false, 99_999},
		{LevelExempt, true, 0},
		{LevelContract, false, 1_000_000},
		{LevelContract, true, 9_999},
		{LevelAssessment, false, math.MaxInt64},
		{LevelAssessment, true, math.MaxInt64},
	} {
		if got := pipl.Limit(tt.l, tt.sensitive); got != tt.want {
			t.Errorf("Limit(%v, %v) = %d, want %d", tt.l, tt.sensitive, got, tt.want)
		}
	}
	var none *Thresholds
	if got := none.Limit(LevelExempt, true); got != math.MaxInt64 {
		t.Errorf("nil Limit = %d", got)
	}
}

// TestLimitAgreesWithRequired checks that a count is within Limit(l)
// exactly when Required asks for no more than l, around every boundary.
func TestLimitAgreesWithRequired(t *testing.T) {
	scaled := &Thresholds{ExemptBelow: 10, ContractMax: 100, SensitiveContractBelow: 5}
	for _, th := range []*Thresholds{pipl, scaled} {
		for _, l := range []Level{LevelExempt, LevelContract, LevelAssessment} {
			var counts []int64
			for _, b := range []int64{0, th.ExemptBelow, th.ContractMax, th.SensitiveContractBelow} {
				counts = append(counts, b-1, b, b+1)
			}
			for _, n := range counts {
				if n < 0 {
					continue
				}
				if got, want := n <= th.Limit(l, false), th.Required(n, 0) <= l; got != want {
					t.Errorf("%+v: %d non-sensitive: within Limit(%v) %v, Required %v", *th, n, l, got, th.Required(n, 0))
				}
				if got, want := n <= th.Limit(l, true), th.Required(0, n) <= l; got != want {
					t.Errorf("%+v: %d sensitive: within Limit(%v) %v, Required %v", *th, n, l, got, th.Required(0, n))
				}
			}
		}
	}
}

func TestHeadroom(t *testing.T) {
	for _, tt := range []struct {
		l                       Level
		nonSensitive, sensitive int64
		wantNon, wantSensitive  int64
	}{
		{LevelContract, 800_000, 9_500, 200_000, 499},
		{LevelContract, 1_000_000, 9_999, 0, 0},
		{LevelContract, 1_000_001, 10_000, -1, -1},
		{LevelExempt, 99_000, 0, 999, 0},
		{LevelAssessment, 5_000_000, 50_000, math.MaxInt64, math.MaxInt64},
	} {
		n, s := pipl.Headroom(tt.l, tt.nonSensitive, tt.sensitive)
		if n != tt.wantNon || s != tt.wantSensitive {
			t.Errorf("Headroom(%v, %d, %d) = %d, %d; want %d, %d", tt.l, tt.nonSensitive, tt.sensitive, n, s, tt.wantNon, tt.wantSensitive)
		}
	}
	if n, _ := pipl.Headroom(LevelContract, math.MinInt64, 0); n != math.MaxInt64 {
		t.Errorf("Headroom of a negative count = %d, want it saturated", n)
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[Level]string{LevelNone: "none", LevelExempt: "exempt", LevelContract: "standard contract or certification",
		LevelAssessment: "security assessment", Level(9): "level 9"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int(l), got, want)
		}
	}
	if !(LevelNone < LevelExempt && LevelExempt < LevelContract && LevelContract < LevelAssessment) {
		t.Error("levels out of order")
	}
}

// regionWith is a one-region policy whose region has the given extra lines
// (indented four spaces) from line 6 on.
func regionWith(extra string) string {
	return "version: 1\nregions:\n  - name: cn-north\n    suite: cn\n    jurisdictions: [CN]\n" + extra
}

func TestParseThresholds(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
		want        *Thresholds
	}{
		{"absent", "", nil},
		{"preset", "    transfer_thresholds: {preset: pipl}\n", pipl},
		{"override", "    transfer_thresholds:\n      preset: pipl\n      exempt_below: 10\n      contract_max: 100\n      sensitive_contract_below: 3\n",
			&Thresholds{10, 100, 3}},
		{"partial-override", "    transfer_thresholds: {preset: pipl, sensitive_contract_below: 2}\n", &Thresholds{100_000, 1_000_000, 2}},
		{"no-preset", "    transfer_thresholds: {exempt_below: 1, contract_max: 1, sensitive_contract_below: 1}\n", &Thresholds{1, 1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(regionWith(tt.extra)))
			if err != nil {
				t.Fatal(err)
			}
			got := p.Regions[0].Thresholds
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("thresholds = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestThresholdAndZoneErrors(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
		line        int
		msg, hint   string
	}{
		{"preset/unknown", "    transfer_thresholds: {preset: gdpr}\n", 6, `unknown transfer threshold preset "gdpr"`, "the presets are pipl"},
		{"preset/misspelt", "    transfer_thresholds: {preset: pipI}\n", 6, `unknown transfer threshold preset "pipI"`, `did you mean "pipl"?`},
		{"key/misspelt", "    transfer_thresholds:\n      preset: pipl\n      exempt_bellow: 10\n", 8, `unknown key "exempt_bellow" in transfer_thresholds`, `did you mean "exempt_below"?`},
		{"key/misspelt-no-preset", "    transfer_thresholds:\n      exempt_below: 1\n      contract_mx: 5\n      sensitive_contract_below: 1\n", 8,
			`unknown key "contract_mx" in transfer_thresholds`, `did you mean "contract_max"?`},
		{"key/missing", "    transfer_thresholds: {exempt_below: 1, contract_max: 5}\n", 6,
			`transfer_thresholds has no sensitive_contract_below`, `add "sensitive_contract_below: ...", or "preset: pipl"`},
		{"zero", "    transfer_thresholds:\n      preset: pipl\n      exempt_below: 0\n", 8, `exempt_below must be positive, not 0`, "above 0"},
		{"negative", "    transfer_thresholds:\n      preset: pipl\n      sensitive_contract_below: -5\n", 8, `sensitive_contract_below must be positive, not -5`, "above 0"},
		{"not-a-number", "    transfer_thresholds: {preset: pipl, contract_max: lots}\n", 6, `contract_max must be a whole number`, "write a whole number"},
		{"contract-below-exempt", "    transfer_thresholds:\n      preset: pipl\n      contract_max: 50000\n", 8,
			`contract_max 50000 is below exempt_below 100000`, "make contract_max at least exempt_below (100000)"},
		{"contract-below-exempt-override", "    transfer_thresholds:\n      exempt_below: 10\n      contract_max: 9\n      sensitive_contract_below: 1\n", 8,
			`contract_max 9 is below exempt_below 10`, "at least exempt_below (10)"},
		{"not-a-mapping", "    transfer_thresholds: pipl\n", 6, `transfer_thresholds must be a mapping`, `write the transfer_thresholds as "key: value" lines`},
		{"zone/unknown", "    time_zone: Asia/Shangai\n", 6, `unknown time zone "Asia/Shangai"`, "write an IANA time zone name such as Asia/Shanghai"},
		{"zone/local", "    time_zone: Local\n", 6, `unknown time zone "Local"`, "IANA time zone name"},
		{"zone/offset", "    time_zone: \"+08:00\"\n", 6, `unknown time zone "+08:00"`, "IANA time zone name"},
		{"zone/path", "    time_zone: ../../etc/passwd\n", 6, `unknown time zone "../../etc/passwd"`, "IANA time zone name"},
		{"zone/misspelt-key", "    timezone: UTC\n", 6, `unknown key "timezone" in region`, `did you mean "time_zone"?`},
		{"sensitive/not-bool", "collections:\n  - name: c\n    fields: [{name: f, type: string, sensitive: yes please}]\n", 8, `sensitive must be true or false`, "write true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(regionWith(tt.extra)))
			list, ok := err.(*ErrorList)
			if !ok || p != nil || len(*list) != 1 {
				t.Fatalf("Parse = %v, %v; want one problem", p, err)
			}
			e := (*list)[0]
			if e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got %v\nwant line %d: %s (hint: %s)", e, tt.line, tt.msg, tt.hint)
			}
		})
	}
}

func TestTimeZone(t *testing.T) {
	for _, tt := range []struct{ extra, want string }{
		{"", "UTC"},
		{"    time_zone: UTC\n", "UTC"},
		{"    time_zone: Asia/Shanghai\n", "Asia/Shanghai"},
		{"    time_zone: Europe/Berlin\n", "Europe/Berlin"},
		{"    time_zone: America/Sao_Paulo\n", "America/Sao_Paulo"},
	} {
		p, err := Parse("p.yaml", []byte(regionWith(tt.extra)))
		if err != nil {
			t.Fatal(err)
		}
		loc := p.Regions[0].TimeZone
		if loc == nil || loc.String() != tt.want {
			t.Errorf("%q: TimeZone = %v, want %s", tt.extra, loc, tt.want)
		}
	}
	p, err := Parse("p.yaml", []byte(regionWith("    time_zone: Asia/Shanghai\n")))
	if err != nil {
		t.Fatal(err)
	}
	// The ledger's year starts on 1 January in the region's zone: 16:00
	// UTC on 31 December is already the new year in Shanghai.
	newYear := time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC).In(p.Regions[0].TimeZone)
	if newYear.Year() != 2027 || newYear.YearDay() != 1 {
		t.Errorf("31 Dec 16:00 UTC in Shanghai = %v", newYear)
	}
}

func TestSensitiveDefault(t *testing.T) {
	p, err := Parse("p.yaml", []byte(regionWith("collections:\n  - name: c\n    fields:\n"+
		"      - {name: id, type: national_id}\n"+
		"      - {name: other_id, type: national_id, sensitive: false}\n"+
		"      - {name: diagnosis, type: text, sensitive: true}\n"+
		"      - {name: name, type: string}\n"+
		"      - {name: email, type: email, sensitive: false}\n"+
		"      - {name: phone, type: phone}\n"+
		"      - {name: born, type: date}\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"id": true, "other_id": false, "diagnosis": true, "name": false, "email": false, "phone": false, "born": false}
	for _, f := range p.Collections[0].Fields {
		if f.Sensitive != want[f.Name] {
			t.Errorf("field %s: Sensitive = %v, want %v", f.Name, f.Sensitive, want[f.Name])
		}
	}
}
