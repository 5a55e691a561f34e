package guard_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The guard reaches the outside only through its hooks: it imports neither
// net/http nor the vault, the API or a storage driver. Neither it nor its
// decoy generator uses the development sample data (internal/seed).
func TestDependencies(t *testing.T) {
	const mod = "github.com/domicile/domicile/internal/"
	for pkg, forbidden := range map[string][]string{
		mod + "guard":        {"net/http", mod + "vault", mod + "api", mod + "store/pebble", mod + "store/postgres", mod + "seed"},
		mod + "guard/decoys": {"net/http", mod + "vault", mod + "api", mod + "store/pebble", mod + "store/postgres", mod + "seed"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Skipf("go list: %v", err)
		}
		deps := strings.Fields(string(out))
		for _, p := range forbidden {
			if slices.Contains(deps, p) {
				t.Errorf("%s depends on %s", pkg, p)
			}
		}
	}
}
