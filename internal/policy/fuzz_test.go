package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are small policies with the sections the testdata files
// cover at length: mechanisms, thresholds and time zones.
var fuzzSeeds = []string{
	"version: 1\nregions: [{name: cn-north, suite: cn, jurisdictions: [CN], time_zone: Asia/Shanghai, transfer_thresholds: {preset: pipl, exempt_below: 10}}]\n" +
		"collections: [{name: c, fields: [{name: id, type: national_id, sensitive: false}]}]\n" +
		"mechanisms: [{name: m, region: cn-north, kind: security-assessment, reference: x, to: [US, EU], collections: [c], valid_from: 2026-01-01, valid_until: 2028-12-31}]\n" +
		"transfers: [{name: t, from: cn-north, to: [US], basis: security-assessment, collection: c, fields: [id], mechanism: m}]\n",
	"version: 1\nregions: [{name: eu, suite: intl, jurisdictions: [EU], time_zone: Europe/Berlin}]\n" +
		"mechanisms: [{name: a, region: eu, kind: adequacy, reference: x, to: [GB], valid_from: 2021-06-28}, {name: b, region: eu, kind: adequacy, reference: y, to: [\"*\"], recipients: [r], valid_from: 2021-06-28}]\n",
}

// FuzzParse checks that Parse never panics, returns either a policy or an
// *ErrorList of positioned errors, and that a parsed policy answers
// RegionFor for every country, and its mechanisms and thresholds their
// questions, without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list *ErrorList
			if !errors.As(err, &list) || len(*list) == 0 {
				t.Fatalf("Parse error %v is not a non-empty *ErrorList", err)
			}
			if p != nil {
				t.Fatal("Parse returned a policy and an error")
			}
			for _, e := range *list {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		for _, c := range Countries() {
			r, err := p.RegionFor(c)
			if err == nil && r == nil {
				t.Fatalf("RegionFor(%s) = nil, nil", c)
			}
		}
		checkTransferParts(t, p)
	})
}

// checkTransferParts checks what Parse promises of regions and mechanisms.
func checkTransferParts(t *testing.T, p *Policy) {
	for i := range p.Regions {
		r := &p.Regions[i]
		if r.TimeZone == nil {
			t.Fatalf("region %s has no time zone", r.Name)
		}
		if th := r.Thresholds; th != nil {
			if th.ExemptBelow <= 0 || th.ContractMax < th.ExemptBelow || th.SensitiveContractBelow <= 0 {
				t.Fatalf("region %s: thresholds %+v", r.Name, *th)
			}
			if th.Required(th.ContractMax, 0) > LevelContract || th.Limit(LevelContract, true) >= th.SensitiveContractBelow {
				t.Fatalf("region %s: thresholds %+v disagree with Required/Limit", r.Name, *th)
			}
		}
	}
	for i := range p.Mechanisms {
		m := &p.Mechanisms[i]
		if got, ok := p.Mechanism(m.Name); !ok || got != m {
			t.Fatalf("Mechanism(%q) = %v, %v", m.Name, got, ok)
		}
		if _, ok := p.Region(m.Region); !ok || m.ValidFrom.IsZero() || len(m.To) == 0 {
			t.Fatalf("mechanism %+v", *m)
		}
		if !m.ValidUntil.IsZero() && m.ValidUntil.Before(m.ValidFrom) {
			t.Fatalf("mechanism %s ends before it starts", m.Name)
		}
		if ok, reason := m.Covers("c", "US", "r", m.ValidFrom); ok == (reason != "") {
			t.Fatalf("Covers = %v, %q", ok, reason)
		}
	}
}
