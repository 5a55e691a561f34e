package policy

import (
	"slices"
	"testing"
)

// TestGroups checks the jurisdiction groups; the country table itself is
// internal/residency's and tested there.
func TestGroups(t *testing.T) {
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
