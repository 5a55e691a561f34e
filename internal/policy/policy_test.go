package policy

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// want is one expected problem, read from a "# want: LINE: SUBSTRING"
// comment at the top of a testdata/bad file.
type want struct {
	line int
	text string
}

func readWants(t *testing.T, data []byte) []want {
	t.Helper()
	var ws []want
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			continue
		}
		line, text, ok := strings.Cut(rest, ": ")
		n, err := strconv.Atoi(line)
		if !ok || err != nil {
			t.Fatalf("bad want comment %q", sc.Text())
		}
		ws = append(ws, want{n, text})
	}
	return ws
}

func TestBadPolicies(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/bad files")
	}
	for _, file := range files {
		t.Run("fail/"+strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wants := readWants(t, data)
			if len(wants) == 0 {
				t.Fatal("no # want: comments")
			}
			p, err := Parse(file, data)
			if p != nil {
				t.Error("Parse returned a policy along with errors")
			}
			var list *ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error = %v, want an *ErrorList", err)
			}
			got := *list
			for i := 1; i < len(got); i++ {
				if got[i].Line < got[i-1].Line {
					t.Errorf("errors not sorted by line:\n%v", list)
				}
			}
			used := make([]bool, len(got))
		next:
			for _, w := range wants {
				for i, e := range got {
					if !used[i] && e.Line == w.line && strings.Contains(e.Error(), w.text) {
						used[i] = true
						continue next
					}
				}
				t.Errorf("no error on line %d saying %q", w.line, w.text)
			}
			for i, e := range got {
				if !used[i] {
					t.Errorf("unexpected error: %v", e)
				}
				if e.File != file {
					t.Errorf("error names file %q, want %q", e.File, file)
				}
				if e.Hint == "" {
					t.Errorf("error without a hint: %v", e)
				}
			}
		})
	}
}

func TestGoodPolicies(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/good files")
	}
	for _, file := range files {
		t.Run("ok/"+strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			p, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if p.Source != file || len(p.Regions) == 0 {
				t.Errorf("Load(%q) = %+v", file, p)
			}
		})
	}
}

func TestExampleIsGoodTestdata(t *testing.T) {
	a, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/good/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("testdata/good/example.yaml differs from examples/policy.yaml; copy it over")
	}
}

func TestParseExample(t *testing.T) {
	p, err := Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, ok := p.Collection("customers")
	if !ok {
		t.Fatal("no customers collection")
	}
	want := []Field{
		{Name: "name", Type: TypeString, Normalizer: "name", MaxLength: 200, Mask: MaskFirst1},
		{Name: "email", Type: TypeEmail, Normalizer: "email", Index: true, MaxLength: 254, Mask: MaskEmail, Token: TokenDeterministic},
		{Name: "phone", Type: TypePhone, Normalizer: "phone", Index: true, MaxLength: 64, Mask: MaskLast4, Token: TokenFPE, TokenFormat: "e164"},
		{Name: "national_id", Type: TypeNationalID, Normalizer: "national_id", Index: true, MaxLength: 64, Mask: MaskLast4, Token: TokenRandom, Sensitive: true},
		{Name: "date_of_birth", Type: TypeDate, Normalizer: "date", MaxLength: DefaultMaxLength, Mask: MaskYear},
		{Name: "address", Type: TypeString, Normalizer: "none", MaxLength: 500, Mask: MaskRedact},
	}
	if diff := cmp.Diff(want, c.Fields, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".Line"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("customers fields (-want +got):\n%s", diff)
	}
	if f, ok := c.Field("email"); !ok || f.Line == 0 {
		t.Errorf("Field(email) = %+v, %v", f, ok)
	}
	if _, ok := c.Field("ssn"); ok {
		t.Error("Field(ssn) found")
	}
	if _, ok := p.Collection("orders"); ok {
		t.Error("Collection(orders) found")
	}
	r, ok := p.Region("eu-central")
	if !ok || r.Suite != "intl" || r.Residency != Strict || len(r.Countries()) != 30 {
		t.Errorf("Region(eu-central) = %+v, %v", r, ok)
	}
	if p.DefaultRegion != "us-east" {
		t.Errorf("DefaultRegion = %q", p.DefaultRegion)
	}
}

func TestRegionFor(t *testing.T) {
	p, err := Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, jurisdiction, want string
		err                      error
	}{
		{name: "ok/cn", jurisdiction: "CN", want: "cn-north"},
		{name: "ok/de", jurisdiction: "DE", want: "eu-central"},
		{name: "ok/no-eea", jurisdiction: "NO", want: "eu-central"},
		{name: "ok/is-eea", jurisdiction: "IS", want: "eu-central"},
		{name: "ok/ru", jurisdiction: "RU", want: "ru-central"},
		{name: "ok/us", jurisdiction: "US", want: "us-east"},
		{name: "ok/br", jurisdiction: "BR", want: "us-east"},
		{name: "ok/gb-not-eu", jurisdiction: "GB", want: "us-east"},
		{name: "ok/ch-not-eea", jurisdiction: "CH", want: "us-east"},
		{name: "ok/hk-not-cn", jurisdiction: "HK", want: "us-east"},
		{name: "ok/lower-case", jurisdiction: "cn", want: "cn-north"},
		{name: "ok/mixed-case", jurisdiction: "De", want: "eu-central"},
		{name: "fail/xx", jurisdiction: "XX", err: ErrUnknownJurisdiction},
		{name: "fail/empty", jurisdiction: "", err: ErrUnknownJurisdiction},
		{name: "fail/alpha-3", jurisdiction: "CHN", err: ErrUnknownJurisdiction},
		{name: "fail/group", jurisdiction: "EU", err: ErrUnknownJurisdiction},
		{name: "fail/star", jurisdiction: "*", err: ErrUnknownJurisdiction},
		{name: "fail/uk", jurisdiction: "UK", err: ErrUnknownJurisdiction},
		{name: "fail/space", jurisdiction: " CN", err: ErrUnknownJurisdiction},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := p.RegionFor(tt.jurisdiction)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("RegionFor(%q) = %v, %v; want %v", tt.jurisdiction, r, err, tt.err)
				}
				return
			}
			if err != nil || r.Name != tt.want {
				t.Fatalf("RegionFor(%q) = %v, %v; want %s", tt.jurisdiction, r, err, tt.want)
			}
			if !r.IsCatchAll() && !r.Covers(tt.jurisdiction) {
				t.Errorf("region %s does not cover %q", r.Name, tt.jurisdiction)
			}
		})
	}
}

func TestRegionForDefaultAndNone(t *testing.T) {
	p, err := Load("testdata/good/default-region.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range map[string]string{"MO": "cn-north", "CH": "eu-west", "US": "eu-west", "LI": "eu-west"} {
		if r, err := p.RegionFor(j); err != nil || r.Name != want {
			t.Errorf("RegionFor(%q) = %v, %v; want %s", j, r, err, want)
		}
	}
	p.DefaultRegion = ""
	if _, err := p.RegionFor("US"); !errors.Is(err, ErrNoRegion) {
		t.Errorf("RegionFor(US) without a default = %v, want ErrNoRegion", err)
	}
	if _, err := p.RegionFor("CN"); err != nil {
		t.Errorf("RegionFor(CN) without a default: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "p.yaml", Line: 7, Column: 5, Msg: "bad", Hint: "fix it"}, "p.yaml:7:5: bad (hint: fix it)"},
		{Error{File: "p.yaml", Line: 7, Msg: "bad"}, "p.yaml:7: bad"},
		{Error{File: "p.yaml", Msg: "bad"}, "p.yaml: bad"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	l := ErrorList{{File: "a", Line: 1, Msg: "x"}, {File: "a", Line: 2, Msg: "y"}}
	if got := l.Error(); got != "a:1: x\na:2: y" {
		t.Errorf("ErrorList.Error() = %q", got)
	}
	var target *Error
	if !errors.As(&l, &target) || target.Msg != "x" {
		t.Errorf("errors.As(*ErrorList, *Error) = %v", target)
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"name", "suite", "residency", "jurisdictions"}
	for in, want := range map[string]string{
		"jursidictions": "jurisdictions",
		"jurisdiction":  "jurisdictions",
		"nmae":          "name",
		"Name":          "name",
		"suit":          "suite",
		"residence":     "residency",
		"colour":        "",
		"x":             "",
	} {
		if got := closest(in, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRegionForIndex checks the index Parse builds against the rules
// themselves, for every country code of every good policy.
func TestRegionForIndex(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good policies: %v", err)
	}
	for _, f := range files {
		p, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		slow := &Policy{Regions: p.Regions, DefaultRegion: p.DefaultRegion}
		for _, c := range countryCodes {
			got, gerr := p.RegionFor(c)
			want, werr := slow.RegionFor(c)
			if (gerr == nil) != (werr == nil) || (got != nil && got.Name != want.Name) {
				t.Errorf("%s: RegionFor(%s) = %v, %v; rules say %v, %v", f, c, got, gerr, want, werr)
			}
		}
	}
}
