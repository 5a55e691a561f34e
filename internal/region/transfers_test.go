package region_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// TestTransfersNearALimitAllCommit: below a threshold every newly counted
// individual takes the year's next slot, so concurrent transfers of new
// individuals all want the same one. Many at once through two PostgreSQL
// nodes must each commit (none refused or failed for losing the race too
// often), and the ledger must count each individual once.
func TestTransfersNearALimitAllCommit(t *testing.T) {
	src := string(examples.Policy)
	for old, repl := range map[string]string{
		"    transfer_thresholds:\n      preset: pipl\n": "    transfer_thresholds:\n      preset: pipl\n      exempt_below: 3\n      contract_max: 1000\n",
		"    valid_until: 2028-12-31\n":                  "    valid_until: 2099-12-31\n",
		"\ntransfers:\n": `
transfers:
  - name: cn-to-us
    from: cn-north
    to: [US]
    basis: standard-contract
    mechanism: cn-us-standard-contract
    collection: customers
    fields: [name, phone]
`,
	} {
		if strings.Count(src, old) != 1 {
			t.Fatalf("the example policy holds %q %d times, want once", old, strings.Count(src, old))
		}
		src = strings.Replace(src, old, repl, 1)
	}
	db := pgtest.NewDatabase(t) // fails, never skips, when CI is set
	e := newEnvOf(t, src, db)
	nodes := []*region.Service{e.s, newEnvOf(t, src, db).s}
	ctx := context.Background()

	const n = 32
	ids := make([]string, n)
	callers := make([]region.Caller, n)
	for i := range n {
		ids[i] = e.create(e.caller("admin-cn", "CN", "support", "admin"), fmt.Sprintf("cust-%d", i), 1)[0]
		callers[i] = e.caller("agent-us", "US", "support", "support")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := nodes[i%2].Get(ctx, callers[i], ids[i])
			if err == nil && (r.Access.Rule != "cn-to-us" || r.Fields["name"] != customer["name"]) {
				err = fmt.Errorf("rule %q, name %q; want the clear name under cn-to-us", r.Access.Rule, r.Fields["name"])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("read %d from the US: %v", i, err)
		}
	}
	rep, err := e.s.TransferReport(ctx, e.caller("admin-cn", "CN", "support", "admin"), "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Report.Individuals.NonSensitive; got != n {
		t.Errorf("the ledger counts %d individuals, want %d", got, n)
	}
}
