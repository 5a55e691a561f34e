package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/domicile/domicile/internal/policy"
)

const policyUsage = `Usage: domicile policy check FILE...
       domicile policy regions FILE [JURISDICTION...]
       domicile policy reload --file FILE [--region NAME] [flags]
       domicile policy status [--region NAME] [flags]

Subcommands:
  check    validate policy files and report every problem with its line and a fix
  regions  show which region holds the data of each jurisdiction
  reload   replace the running policy of every region (or one) without a restart
  status   show the version and digest of the policy each region serves

Examples:
  domicile policy check examples/policy.yaml
  domicile policy regions examples/policy.yaml
  domicile policy regions examples/policy.yaml CN DE BR
  domicile policy reload --file policy.yaml
  domicile policy status
`

// runPolicy checks policy files and shows how they map jurisdictions to
// regions.
func runPolicy(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageErrorf("policy: missing subcommand").withHint("run 'domicile policy check FILE'; 'domicile policy --help' lists the subcommands")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, policyUsage)
		return &exitError{code: 0, silent: true}
	case "check":
		return runPolicyCheck(e, args[1:])
	case "regions":
		return runPolicyRegions(e, args[1:])
	case "reload":
		return runPolicyReload(ctx, e, args[1:])
	case "status":
		return runPolicyStatus(ctx, e, args[1:])
	}
	return usageErrorf("policy: unknown subcommand %q", args[0]).withHint("the subcommands are check, regions, reload and status; run 'domicile policy --help'")
}

func runPolicyCheck(e *env, args []string) error {
	fs := newFlagSet(e, "policy check", "domicile policy check FILE...", `  domicile policy check examples/policy.yaml
  domicile policy check policies/*.yaml`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("policy check: no policy file given").withHint("run 'domicile policy check examples/policy.yaml'")
	}
	var problems, badFiles int
	for _, file := range fs.Args() {
		p, err := policy.Load(file)
		var list *policy.ErrorList
		switch {
		case err == nil:
			fmt.Fprintf(e.stdout, "%s: ok (%s, %s)\n", file, plural(len(p.Regions), "region"), plural(len(p.Collections), "collection"))
			continue
		case errors.As(err, &list):
			printPolicyErrors(e, *list)
			problems += len(*list)
		default:
			printError(e.stderr, err)
		}
		badFiles++
	}
	switch {
	case badFiles == 0:
		return nil
	case problems == 0:
		// Only unreadable files, each reported already.
		return &exitError{code: 1, silent: true}
	case fs.NArg() == 1:
		return fmt.Errorf("policy has %s", plural(problems, "error"))
	}
	return fmt.Errorf("%s in %d of %d policy files", plural(problems, "error"), badFiles, fs.NArg())
}

// printPolicyErrors prints one "file:line:col: msg" line per problem, each
// followed by its hint.
func printPolicyErrors(e *env, list policy.ErrorList) {
	for _, pe := range list {
		fmt.Fprintf(e.stderr, "%s: %s\n", pe.Position(), pe.Msg)
		if pe.Hint != "" {
			fmt.Fprintf(e.stderr, "  hint: %s\n", pe.Hint)
		}
	}
}

func runPolicyRegions(e *env, args []string) error {
	fs := newFlagSet(e, "policy regions", "domicile policy regions FILE [JURISDICTION...]", `  domicile policy regions examples/policy.yaml
  domicile policy regions examples/policy.yaml CN DE BR`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("policy regions: no policy file given").withHint("run 'domicile policy regions examples/policy.yaml'")
	}
	p, err := policy.Load(fs.Arg(0))
	var list *policy.ErrorList
	if errors.As(err, &list) {
		printPolicyErrors(e, *list)
		return withHint(fmt.Errorf("policy has %s", plural(len(*list), "error")), "run 'domicile policy check "+fs.Arg(0)+"' after fixing them")
	} else if err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return printJurisdictions(e, p, fs.Args()[1:])
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tSUITE\tRESIDENCY\tJURISDICTIONS")
	for i := range p.Regions {
		r := &p.Regions[i]
		var covers []string
		if cs := r.Countries(); len(cs) > 0 {
			covers = append(covers, strings.Join(cs, " "))
		}
		if r.IsCatchAll() || (r.Name == p.DefaultRegion && !anyCatchAll(p)) {
			covers = append(covers, "and every other country")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Suite, r.Residency, strings.Join(covers, " "))
	}
	return tw.Flush()
}

// printJurisdictions prints the region of each jurisdiction in codes.
func printJurisdictions(e *env, p *policy.Policy, codes []string) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	var bad error
	for _, c := range codes {
		r, err := p.RegionFor(c)
		if err != nil {
			bad = err
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(c), r.Name, r.Suite, r.Residency)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if errors.Is(bad, policy.ErrUnknownJurisdiction) {
		return withHint(bad, "jurisdictions are ISO 3166-1 alpha-2 country codes, such as CN, DE or BR")
	}
	return bad
}

func anyCatchAll(p *policy.Policy) bool {
	for i := range p.Regions {
		if p.Regions[i].IsCatchAll() {
			return true
		}
	}
	return false
}

// plural returns "1 region" or "4 regions" ("1 entry", "4 entries").
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if base, ok := strings.CutSuffix(noun, "ry"); ok {
		return fmt.Sprintf("%d %sries", n, base)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
