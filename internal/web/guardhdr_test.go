package web

import (
	"maps"
	"testing"
)

func TestGuardHeaders(t *testing.T) {
	u := GuardUsage{Principal: "agent-7", Counts: map[string]float64{"records/minute": 12, "clear_fields/hour": 30.5}, Locked: true}
	v := FormatGuardUsage(u)
	if v != "p=agent-7;clear_fields/hour=30.5;records/minute=12;locked=1" {
		t.Errorf("FormatGuardUsage = %q", v)
	}
	got := ParseGuardUsage(v)
	if got.Principal != u.Principal || !got.Locked || !maps.Equal(got.Counts, u.Counts) {
		t.Errorf("round trip: %+v", got)
	}
	counts, locked := ParseGuardElsewhere("records/minute=5;reads/hour=-3;x=NaN;y=1e40;locked=cn-north;junk")
	if locked != "cn-north" || !maps.Equal(counts, map[string]float64{"records/minute": 5}) {
		t.Errorf("ParseGuardElsewhere kept %v, locked %q", counts, locked)
	}
	if u := ParseGuardUsage("records/minute=5"); u.Principal != "" {
		t.Errorf("a usage without a principal names %q", u.Principal)
	}
}

// FuzzGuardHeaders: whatever a header holds, parsing never panics and
// keeps only finite, non-negative counts.
func FuzzGuardHeaders(f *testing.F) {
	f.Add("p=a;records/minute=1;locked=1")
	f.Add("records/minute=5;locked=eu-central")
	f.Fuzz(func(t *testing.T, s string) {
		u := ParseGuardUsage(s)
		c, _ := ParseGuardElsewhere(s)
		for _, m := range []map[string]float64{u.Counts, c} {
			for k, n := range m {
				if !(n >= 0 && n <= 64e12) {
					t.Fatalf("kept %s=%v from %q", k, n, s)
				}
			}
		}
	})
}
