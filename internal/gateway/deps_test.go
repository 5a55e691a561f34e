package gateway_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The gateway links only small parsers (record ids, tokens, jurisdictions),
// the HTTP plumbing and the client: never the region stack, its keys, its
// policy engine or its cryptography.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/domicile/domicile/internal/gateway").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const mod = "github.com/domicile/domicile/internal/"
	forbidden := []string{mod + "vault", mod + "keyring", mod + "tokens", mod + "guard", mod + "access", mod + "policy",
		mod + "api", mod + "store", mod + "suite", mod + "region"}
	forbiddenTrees := []string{mod + "audit", "github.com/emmansun/gmsm", "cel.dev/cel-go"}
	for _, dep := range strings.Fields(string(out)) {
		for _, p := range forbidden {
			if dep == p {
				t.Errorf("internal/gateway depends on %s", dep)
			}
		}
		for _, p := range forbiddenTrees {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				t.Errorf("internal/gateway depends on %s", dep)
			}
		}
	}
}
