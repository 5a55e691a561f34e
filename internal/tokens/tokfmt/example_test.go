package tokfmt_test

import (
	"fmt"

	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// Example pins the wire form of both token kinds: a change that would
// orphan issued tokens fails here.
func Example() {
	var id [tokfmt.IDSize]byte
	for i := range id {
		id[i] = byte(i * 17)
	}
	r := tokfmt.Token{Kind: tokfmt.Random, Region: "cn-north", ID: id}
	d := tokfmt.Token{Kind: tokfmt.Deterministic, Region: "us-east", Version: 2, ID: id}
	fmt.Println(r)
	fmt.Println(d)
	for _, s := range []string{r.String(), d.String(), "+8613812345678"} {
		t, err := tokfmt.Parse(s)
		fmt.Println(t.Kind, t.Region, t.Version, err)
	}
	// Output:
	// tkr_cn-north_aaisem2ekvthpcezvk54zxpo74
	// tkd_us-east_v2_aaisem2ekvthpcezvk54zxpo74
	// random cn-north 0 <nil>
	// deterministic us-east 2 <nil>
	// kind(0)  0 tokfmt: malformed: unknown prefix
}
