package residency

import (
	"errors"
	"slices"
	"testing"
)

func TestCountryTable(t *testing.T) {
	if n := len(countryCodes); n != 249 {
		t.Errorf("%d country codes, want 249", n)
	}
	if !slices.IsSorted(countryCodes) {
		t.Error("country codes are not sorted")
	}
	if len(slices.Compact(slices.Clone(countryCodes))) != len(countryCodes) {
		t.Error("duplicate country codes")
	}
	for _, c := range []string{"EU", "UK", "EL", "AN", "XX", "cn", "CHN", ""} {
		if IsCountry(c) {
			t.Errorf("IsCountry(%q) = true", c)
		}
	}
}

func TestResolver(t *testing.T) {
	regs := []Region{
		{Name: "cn-north", Countries: []string{"CN"}},
		{Name: "rest", CatchAll: true},
		{Name: "eu-central", Countries: []string{"DE", "FR", "CN"}},
	}
	r, err := New(regs, "")
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range map[string]string{"CN": "cn-north", "cn": "cn-north", "de": "eu-central", "US": "rest", "FR": "eu-central"} {
		if got, err := r.RegionFor(j); err != nil || got != want {
			t.Errorf("RegionFor(%q) = %q, %v; want %s", j, got, err, want)
		}
	}
	for _, bad := range []string{"", "EU", "DEU", "UK", "a very long jurisdiction"} {
		if _, err := r.RegionFor(bad); !errors.Is(err, ErrUnknownJurisdiction) {
			t.Errorf("RegionFor(%q) = %v, want ErrUnknownJurisdiction", bad, err)
		}
	}
	if got := r.Regions(); !slices.Equal(got, []string{"cn-north", "rest", "eu-central"}) || !r.Has("rest") || r.Has("x") {
		t.Errorf("Regions() = %q", got)
	}

	// Without a catch-all: the fallback, or nothing.
	r, err = New(regs[:1], "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegionFor("US"); !errors.Is(err, ErrNoRegion) {
		t.Errorf("RegionFor(US) = %v, want ErrNoRegion", err)
	}
	r, err = New([]Region{regs[0], regs[2]}, "cn-north")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.RegionFor("US"); err != nil || got != "cn-north" {
		t.Errorf("RegionFor(US) = %q, %v; want the fallback", got, err)
	}

	for _, bad := range [][]Region{{{Name: ""}}, {regs[0], regs[0]}, {{Name: "x", Countries: []string{"EU"}}}} {
		if _, err := New(bad, ""); err == nil {
			t.Errorf("New(%v) succeeded", bad)
		}
	}
	if _, err := New(regs, "nowhere"); err == nil {
		t.Error("New with an unknown fallback succeeded")
	}
}
