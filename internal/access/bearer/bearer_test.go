package bearer

import (
	"strings"
	"testing"
)

func TestNewWellFormed(t *testing.T) {
	a, b := New(), New()
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if !WellFormed(a) || len(a) != Len || !strings.HasPrefix(a, Prefix) {
		t.Fatalf("token %q is not well formed", a)
	}
	if ID(a) != a[:12] || ID("dmc_") != "" {
		t.Errorf("ID(%q) = %q", a, ID(a))
	}
	for _, bad := range []string{"", a[:len(a)-1], a + "a", "dmc_" + strings.Repeat("1", 52), strings.ToUpper(a), "xyz_" + a[4:]} {
		if WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
}
