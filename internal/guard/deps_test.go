package guard_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The guard reaches the outside only through its hooks: it imports neither
// net/http nor the vault, the API or a storage driver.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/domicile/domicile/internal/guard").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range []string{"net/http", "github.com/domicile/domicile/internal/vault", "github.com/domicile/domicile/internal/api",
		"github.com/domicile/domicile/internal/store/pebble", "github.com/domicile/domicile/internal/store/postgres"} {
		if slices.Contains(deps, p) {
			t.Errorf("internal/guard depends on %s", p)
		}
	}
}
