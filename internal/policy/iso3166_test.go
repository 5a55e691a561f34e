package policy

import (
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
	eu, _ := Group(GroupEU)
	eea, _ := Group(GroupEEA)
	if len(eu) != 27 || len(eea) != 30 {
		t.Errorf("EU has %d members, EEA %d; want 27 and 30", len(eu), len(eea))
	}
	for _, c := range eea {
		if !IsCountry(c) {
			t.Errorf("group member %q is not a country", c)
		}
	}
	for _, c := range []string{"GB", "CH", "NO"} {
		if slices.Contains(eu, c) {
			t.Errorf("%s is not in the EU", c)
		}
	}
}
