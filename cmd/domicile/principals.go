package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
)

const principalsExamples = `  domicile principals create --id agent-7 --kind person --role support --location US --expires-in 720h
  domicile principals create --id crm-sync --kind service --role ingest --location DE --region eu-central
  domicile principals list
  domicile principals disable agent-7
  domicile principals enable agent-7
  domicile principals unlock agent-7
  domicile principals rotate-token agent-7 --expires-in 720h
  domicile principals new-token          # a fresh token for serve's DOMICILE_ADMIN_TOKEN`

// stringList collects a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runPrincipals(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, "Usage: domicile principals create|list|get|disable|enable|unlock|rotate-token|new-token\n\nPrincipals are the people and services that call the API. Each has roles, a\nlocation (where it operates: reads of strict regions from elsewhere are\ntransfers) and API tokens, shown once and kept only as keyed hashes.\n\nExamples:\n%s\n", principalsExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "new-token":
		fmt.Fprintln(e.stdout, access.NewToken())
		return nil
	case "create":
		return principalsCreate(ctx, e, rest)
	case "list":
		return principalsList(ctx, e, rest)
	case "get", "disable", "enable", "unlock", "rotate-token":
		return principalsOne(ctx, e, sub, rest)
	}
	return usageErrorf("principals: unknown subcommand %q", sub).withHint("run 'domicile principals --help'")
}

func principalsCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "principals create", "domicile principals create --id ID --role ROLE --location CC [--kind person|service] [--region R] [--expires-in 720h]", principalsExamples)
	af := addAPIFlags(fs)
	id := fs.String("id", "", "the principal's id (required)")
	kind := fs.String("kind", "person", "person or service")
	location := fs.String("location", "", "ISO 3166-1 alpha-2 code of where it operates (required)")
	expires := fs.String("expires-in", "", "token lifetime, such as 720h (default: no expiry)")
	var roles, regions stringList
	fs.Var(&roles, "role", "a role of the policy (repeat for several; required)")
	fs.Var(&regions, "region", "a region it may reach (repeat; default: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || *location == "" || len(roles) == 0 {
		return usageErrorf("principals create: --id, --role and --location are required").withHint("run 'domicile principals --help' for examples")
	}
	c, err := af.connect(e, "principals create")
	if err != nil {
		return err
	}
	out, err := c.c.CreatePrincipal(ctx, client.PrincipalRequest{ID: *id, Kind: *kind, Roles: roles, Location: *location, Regions: regions, ExpiresIn: *expires})
	if err != nil {
		return c.failed(ctx, "", err)
	}
	printToken(e, out)
	return nil
}

// printToken shows a new token once: on stdout, alone, so scripts can
// capture it; the explanation goes to stderr.
func printToken(e *env, out *client.PrincipalToken) {
	fmt.Fprintf(e.stderr, "principal %s (%s, roles %s, location %s); its token, shown only this once:\n",
		out.Principal.ID, out.Principal.Kind, strings.Join(out.Principal.Roles, ","), out.Principal.Location)
	fmt.Fprintln(e.stdout, out.Token)
}

func principalsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "principals list", "domicile principals list [--format table|json]", principalsExamples)
	af := addAPIFlags(fs)
	format := fs.String("format", "table", "table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := af.connect(e, "principals list")
	if err != nil {
		return err
	}
	out, err := c.c.Principals(ctx)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tROLES\tLOCATION\tSTATE\tTOKENS")
	for _, p := range out.Principals {
		var toks []string
		for _, t := range p.Tokens {
			s := t.ID + "…"
			if !t.Expires.IsZero() {
				s += " (expires " + t.Expires.Format("2006-01-02") + ")"
			}
			toks = append(toks, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Kind, strings.Join(p.Roles, ","), p.Location, p.State, strings.Join(toks, " "))
	}
	return tw.Flush()
}

func principalsOne(ctx context.Context, e *env, sub string, args []string) error {
	fs := newFlagSet(e, "principals "+sub, "domicile principals "+sub+" ID", principalsExamples)
	af := addAPIFlags(fs)
	expires := fs.String("expires-in", "", "with rotate-token: the new token's lifetime, such as 720h")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("principals %s: give one principal id", sub).withHint("for example: domicile principals " + sub + " agent-7")
	}
	id := fs.Arg(0)
	c, err := af.connect(e, "principals "+sub)
	if err != nil {
		return err
	}
	switch sub {
	case "get":
		p, err := c.c.Principal(ctx, id)
		if err != nil {
			return c.failed(ctx, "", err)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	case "rotate-token":
		out, err := c.c.RotatePrincipalToken(ctx, id, *expires)
		if err != nil {
			return c.failed(ctx, "", err)
		}
		printToken(e, out)
		return nil
	}
	p, err := c.c.SetPrincipalState(ctx, id, sub)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "principal %s is %s\n", p.ID, p.State)
	return nil
}
