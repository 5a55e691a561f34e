package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
)

const guardExamples = `  domicile guard seed --region cn-north --count 20
  domicile guard alerts
  domicile guard alerts --principal agent-7 --since 24h --min-severity high`

func runGuard(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, "Usage: domicile guard seed|alerts [flags]\n\nThe guard watches every access for bulk, enumerating or unusual reading and\nfor reads of decoy records (honeytokens), raising alerts and locking principals\nas the policy's guard section says.\n\nExamples:\n%s\n", guardExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "seed":
		return guardSeed(ctx, e, args[1:])
	case "alerts":
		return guardAlerts(ctx, e, args[1:])
	}
	return usageErrorf("guard: unknown subcommand %q", args[0]).withHint("run 'domicile guard --help'")
}

func guardSeed(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "guard seed", "domicile guard seed --region NAME [--count N] [--jurisdiction CC]...", guardExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region to seed decoys in (required)")
	count := fs.Int("count", 10, "how many decoy customers, 1 to 1000")
	var js stringList
	fs.Var(&js, "jurisdiction", "a jurisdiction for the decoys (repeat; default: the region's)")
	as := fs.String("as", "", "the service whose creates the decoys look like (default: the latest creator in the log)")
	spread := fs.String("spread", "", "how long the planting takes, such as 24h (default 24h)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" {
		return usageErrorf("guard seed: --region is required").withHint("'domicile keys status' lists the regions")
	}
	c, err := af.connect(e, "guard seed")
	if err != nil {
		return err
	}
	out, err := c.c.SeedDecoys(ctx, *region, client.SeedDecoysRequest{Count: *count, Jurisdictions: js, Principal: *as, Spread: *spread})
	if err != nil {
		return c.failed(ctx, "", err)
	}
	over := out.Spread
	if over == "" {
		over = "the spread" // a server that does not say
	}
	fmt.Fprintf(e.stdout, "scheduled %d decoy customers in %s, planted one at a time over %s; reading any of them raises a critical alert\n", out.Seeded, out.Region, over)
	return nil
}

func guardAlerts(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "guard alerts", "domicile guard alerts [--principal ID] [--rule NAME] [--min-severity S] [--since DURATION]", guardExamples)
	af := addAPIFlags(fs)
	f := client.AlertFilter{}
	fs.StringVar(&f.Principal, "principal", "", "only this principal's alerts")
	fs.StringVar(&f.Rule, "rule", "", "only this rule's alerts")
	fs.StringVar(&f.MinSeverity, "min-severity", "", "low, medium, high or critical")
	since := fs.Duration("since", 0, "only alerts of the last DURATION, such as 24h")
	fs.IntVar(&f.Limit, "limit", 50, "alerts per region")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *since > 0 {
		f.Since = time.Now().Add(-*since)
	}
	c, err := af.connect(e, "guard alerts")
	if err != nil {
		return err
	}
	out, err := c.c.Alerts(ctx, f)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREGION\tPRINCIPAL\tRULE\tSEVERITY\tRESPONSE\tEVIDENCE")
	for _, a := range out.Alerts {
		ev := ""
		if a.Signal != "" {
			ev = fmt.Sprintf("%s/%s %.0f > %.0f", a.Signal, a.Window, a.Count, a.Limit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.UTC().Format(time.RFC3339), a.Region, a.Principal, a.Rule,
			strings.ToUpper(a.Severity), a.Response, ev)
	}
	return tw.Flush()
}
