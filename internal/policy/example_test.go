package policy_test

import (
	"fmt"

	"github.com/domicile/domicile/internal/policy"
)

// The example policy shipped with Domicile is valid.
func ExampleLoad() {
	p, err := policy.Load("../../examples/policy.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, j := range []string{"CN", "de", "NO", "RU", "US", "BR"} {
		r, _ := p.RegionFor(j)
		fmt.Printf("%s -> %s (%s, %s)\n", j, r.Name, r.Suite, r.Residency)
	}
	// Output:
	// CN -> cn-north (cn, strict)
	// de -> eu-central (intl, strict)
	// NO -> eu-central (intl, strict)
	// RU -> ru-central (intl, strict)
	// US -> us-east (intl, standard)
	// BR -> us-east (intl, standard)
}
