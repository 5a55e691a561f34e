package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/keyring"
)

const principalsExamples = `  domicile principals create --id agent-7 --kind person --role support --location US --expires-in 720h
  domicile principals create --id acme-us-analyst --role support --location US --organisation acme-us
  domicile principals list --role support --location US
  domicile principals update agent-7 --role support --role analyst --location DE
  domicile principals delete agent-7
  domicile principals create --id crm-sync --kind service --role ingest --location DE --region eu-central
  domicile principals list
  domicile principals disable agent-7
  domicile principals enable agent-7
  domicile principals unlock agent-7
  domicile principals rotate-token agent-7 --expires-in 720h
  domicile principals rotate-token crm-sync --overlap 24h   # the old token works 24 more hours
  domicile principals new-token          # a fresh token for serve's DOMICILE_ADMIN_TOKEN

Break-glass, offline, with the region's unseal secret (when no administrator can act over the
API, e.g. the only one is locked by the guard); stop a node on --data first:
  DOMICILE_UNSEAL_CN_NORTH=... domicile principals unlock admin --region cn-north --data /var/lib/domicile/cn-north
  domicile principals unlock admin --region eu-central --store postgres://db.eu.internal/domicile_eu --unseal-file /run/secrets/eu
  domicile principals rescue rescue-admin --region cn-north --data /var/lib/domicile/cn-north --location CN`

// stringList collects a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runPrincipals(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, "Usage: domicile principals create|list|get|update|delete|disable|enable|unlock|rotate-token|rescue|new-token\n\nPrincipals are the people and services that call the API. Each has roles, a\nlocation (where it operates: reads of strict regions from elsewhere are\ntransfers) and API tokens, shown once and kept only as keyed hashes.\n\nunlock with --data or --store, and rescue, work offline on one region's store:\nthey prove possession of the region's unseal secret by opening its keys, and\nrecord the break-glass in the region's audit log.\n\nExamples:\n%s\n", principalsExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "new-token":
		return principalsNewToken(e, rest)
	case "create":
		return principalsCreate(ctx, e, rest)
	case "list":
		return principalsList(ctx, e, rest)
	case "update":
		return principalsUpdate(ctx, e, rest)
	case "delete":
		return principalsDelete(ctx, e, rest)
	case "get", "disable", "enable", "unlock", "rotate-token":
		return principalsOne(ctx, e, sub, rest)
	case "rescue":
		return principalsRescue(ctx, e, rest)
	}
	return usageErrorf("principals: unknown subcommand %q", sub).withHint("run 'domicile principals --help'")
}

func principalsCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "principals create", "domicile principals create --id ID --role ROLE --location CC [--kind person|service] [--organisation ORG] [--region R] [--expires-in 720h]", principalsExamples)
	af := addAPIFlags(fs)
	id := fs.String("id", "", "the principal's id (required)")
	kind := fs.String("kind", "person", "person or service")
	location := fs.String("location", "", "ISO 3166-1 alpha-2 code of where it operates (required)")
	org := fs.String("organisation", "", "the legal entity it acts for, as transfer mechanisms name their recipients (default: none)")
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
	out, err := c.c.CreatePrincipal(ctx, client.PrincipalRequest{ID: *id, Kind: *kind, Roles: roles, Location: *location, Organisation: *org, Regions: regions, ExpiresIn: *expires})
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
	fs := newFlagSet(e, "principals list", "domicile principals list [--role R] [--location CC] [--organisation ORG] [--state S] [--format table|json]", principalsExamples)
	af := addAPIFlags(fs)
	format := fs.String("format", "table", "table or json")
	var f client.PrincipalFilter
	fs.StringVar(&f.Role, "role", "", "only principals holding this `ROLE`")
	fs.StringVar(&f.Location, "location", "", "only principals located in this country, `CC`")
	fs.StringVar(&f.Organisation, "organisation", "", "only principals acting for this `ORG`")
	fs.StringVar(&f.State, "state", "", "only principals in this `STATE`: active, disabled or locked")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := wantArgs(fs, fs.Args()); err != nil {
		return err
	}
	if err := formatFlag(fs, *format, "table", "json"); err != nil {
		return err
	}
	c, err := af.connect(e, "principals list")
	if err != nil {
		return err
	}
	out, err := c.c.ListPrincipals(ctx, f)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tROLES\tLOCATION\tORGANISATION\tSTATE\tTOKENS")
	for _, p := range out.Principals {
		var toks []string
		for _, t := range p.Tokens {
			s := t.ID + "…"
			if !t.Expires.IsZero() {
				s += " (expires " + t.Expires.UTC().Format("2006-01-02T15:04Z") + ")"
			}
			toks = append(toks, s)
		}
		org := p.Organisation
		if org == "" {
			org = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Kind, strings.Join(p.Roles, ","), p.Location, org, p.State, strings.Join(toks, " "))
	}
	return tw.Flush()
}

// principalsUpdate changes a principal's roles, location, organisation
// or regions in every region.
func principalsUpdate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "principals update", "domicile principals update ID [--role ROLE]... [--location CC] [--organisation ORG] [--region R]... [--all-regions]", principalsExamples)
	af := addAPIFlags(fs)
	var roles, regions stringList
	fs.Var(&roles, "role", "the roles it holds from now on (repeat; replaces the current ones)")
	location := fs.String("location", "", "where it operates from now on, `CC`")
	org := fs.String("organisation", "", "the legal entity it acts for from now on, `ORG` ('-' removes it)")
	fs.Var(&regions, "region", "the regions it may reach from now on (repeat; replaces the current ones)")
	allRegions := fs.Bool("all-regions", false, "it may reach every region from now on")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usageErrorf("principals update: missing ID").withHint("give the principal's id, such as: domicile principals update agent-7 --role support")
	}
	var ch client.PrincipalChange
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["role"] {
		ch.Roles = roles
	}
	if set["location"] {
		ch.Location = location
	}
	if set["organisation"] {
		o := *org
		if o == "-" {
			o = ""
		}
		ch.Organisation = &o
	}
	switch {
	case set["region"] && *allRegions:
		return usageErrorf("principals update: --region and --all-regions exclude each other").withHint("give the regions, or --all-regions")
	case set["region"]:
		r := []string(regions)
		ch.Regions = &r
	case *allRegions:
		ch.Regions = &[]string{}
	}
	if ch.Roles == nil && ch.Location == nil && ch.Organisation == nil && ch.Regions == nil {
		return usageErrorf("principals update: nothing to change").withHint("give --role, --location, --organisation, --region or --all-regions")
	}
	c, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	p, err := c.c.UpdatePrincipal(ctx, id, ch)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	org2 := p.Organisation
	if org2 == "" {
		org2 = "none"
	}
	fmt.Fprintf(e.stdout, "principal %s: roles %s, location %s, organisation %s\n", p.ID, strings.Join(p.Roles, ","), p.Location, org2)
	return nil
}

// principalsDelete removes a principal and its tokens from every region.
func principalsDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "principals delete", "domicile principals delete ID", principalsExamples)
	af := addAPIFlags(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usageErrorf("principals delete: missing ID").withHint("give the principal's id; 'domicile principals list' lists them")
	}
	c, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	if err := c.c.DeletePrincipal(ctx, id); err != nil {
		return c.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "principal %s deleted; its tokens no longer work\n", id)
	return nil
}

// principalsNewToken prints a fresh API token (for serve's
// DOMICILE_ADMIN_TOKEN); it needs no server.
func principalsNewToken(e *env, args []string) error {
	fs := newFlagSet(e, "principals new-token", "domicile principals new-token", `  domicile principals new-token > admin.token   # for serve's --admin-token-file`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("principals new-token: unexpected argument %q", fs.Arg(0)).withHint("it takes no arguments")
	}
	fmt.Fprintln(e.stdout, access.NewToken())
	return nil
}

// parseWithID parses flags given before or after one positional id.
func parseWithID(fs *flag.FlagSet, args []string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	switch fs.NArg() {
	case 0:
		return "", nil
	case 1:
		return fs.Arg(0), nil
	}
	return "", usageErrorf("%s: unexpected argument %q", fs.Name(), fs.Arg(1)).withHint("give one principal id")
}

// offlineFlags are the flags of a break-glass command, which opens one
// region's store itself.
type offlineFlags struct {
	region, data, store, unsealFile, policy *string
}

func addOfflineFlags(fs *flag.FlagSet) offlineFlags {
	return offlineFlags{
		region:     fs.String("region", "", "break-glass: the region whose store to open"),
		data:       fs.String("data", "", "break-glass: the region's data directory (stop its node first)"),
		store:      fs.String("store", "", "break-glass: the region's postgres:// database"),
		unsealFile: fs.String("unseal-file", "", "break-glass: file holding the region's unseal secret (default: environment DOMICILE_UNSEAL_<REGION>)"),
		policy:     fs.String("policy", "", "break-glass: the policy file the region's nodes run (default: the built-in example)"),
	}
}

func (o offlineFlags) offline() bool { return *o.data != "" || *o.store != "" }

// config checks the flags and returns the break-glass configuration.
func (o offlineFlags) config(e *env, cmd string) (app.BreakGlassConfig, error) {
	if *o.region == "" || (*o.data == "") == (*o.store == "") {
		return app.BreakGlassConfig{}, usageErrorf("%s: give --region and exactly one of --data DIR and --store postgres://...", cmd).
			withHint("run 'domicile principals --help' for examples")
	}
	if *o.store != "" && !app.IsPostgresURL(*o.store) {
		return app.BreakGlassConfig{}, usageErrorf("%s: --store must be a postgres:// or postgresql:// URL", cmd).withHint("for a directory, pass --data DIR")
	}
	p, err := loadPolicy(*o.policy)
	if err != nil {
		return app.BreakGlassConfig{}, err
	}
	secret, err := readSecret(e, *o.unsealFile, app.SecretEnv(*o.region))
	if err != nil {
		return app.BreakGlassConfig{}, err
	}
	if len(secret) == 0 {
		return app.BreakGlassConfig{}, withHint(fmt.Errorf("%s: no unseal secret for region %s", cmd, *o.region),
			"set "+app.SecretEnv(*o.region)+" or pass --unseal-file: break-glass proves possession of the region's unseal secret")
	}
	loc := *o.data
	if loc == "" {
		loc = *o.store
	}
	return app.BreakGlassConfig{Policy: p, Region: *o.region, Location: loc, Secret: secret}, nil
}

// breakGlassHint says what to do about a failed break-glass.
func breakGlassHint(err error, region string) error {
	switch {
	case errors.Is(err, app.ErrNodeRunning):
		return withHint(err, "stop the region's node (it holds the directory), run the command again, then start the node")
	case errors.Is(err, keyring.ErrWrongSecret), errors.Is(err, keyring.ErrSealed):
		return withHint(err, "give the unseal secret the region's nodes start with ("+app.SecretEnv(region)+" or --unseal-file)")
	}
	return err
}

func principalsOne(ctx context.Context, e *env, sub string, args []string) error {
	usage := "domicile principals " + sub + " ID"
	switch sub {
	case "unlock":
		usage += " [--region R (--data DIR | --store URL) [--unseal-file FILE]]"
	case "rotate-token":
		usage += " [--expires-in 720h] [--overlap 24h]"
	}
	fs := newFlagSet(e, "principals "+sub, usage, principalsExamples)
	af := addAPIFlags(fs)
	var expires, overlap *string
	var off offlineFlags
	switch sub {
	case "rotate-token":
		expires = fs.String("expires-in", "", "the new token's lifetime, such as 720h (default: no expiry)")
		overlap = fs.String("overlap", "", "keep the current tokens valid this much longer, such as 24h (at most 720h), so services roll without downtime")
	case "unlock":
		off = addOfflineFlags(fs)
	}
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usageErrorf("principals %s: give one principal id", sub).withHint("for example: domicile principals " + sub + " agent-7")
	}
	if sub == "unlock" && (off.offline() || *off.region != "") {
		cfg, err := off.config(e, "principals unlock")
		if err != nil {
			return err
		}
		a, err := app.BreakGlassUnlock(ctx, cfg, id)
		if err != nil {
			return breakGlassHint(fmt.Errorf("principals unlock: %w", err), cfg.Region)
		}
		fmt.Fprintf(e.stdout, "principal %s is %s in region %s (break-glass, recorded in the region's audit log)\n", a.ID, a.State, cfg.Region)
		return nil
	}
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
		out, err := c.c.RotateToken(ctx, id, client.TokenRequest{ExpiresIn: *expires, Overlap: *overlap})
		if err != nil {
			return c.failed(ctx, "", err)
		}
		printToken(e, out)
		if *overlap != "" {
			fmt.Fprintf(e.stderr, "the previous token keeps working for %s; list the tokens with: domicile principals list\n", *overlap)
		}
		return nil
	}
	p, err := c.c.SetPrincipalState(ctx, id, sub)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "principal %s is %s\n", p.ID, p.State)
	return nil
}

// principalsRescue creates a new administrator offline (break-glass).
func principalsRescue(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "principals rescue", "domicile principals rescue ID --region R (--data DIR | --store URL) [--location CC] [--role admin] [--expires-in 24h]", principalsExamples)
	off := addOfflineFlags(fs)
	location := fs.String("location", "", "ISO 3166-1 alpha-2 code of where the rescue administrator operates (required)")
	expires := fs.String("expires-in", "24h", "the token's lifetime; a rescue token is meant to be short-lived")
	var roles stringList
	fs.Var(&roles, "role", "a role of the policy that grants admin (repeat; default: admin)")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if id == "" || *location == "" {
		return usageErrorf("principals rescue: give the new administrator's id and --location").withHint("for example: domicile principals rescue rescue-admin --region cn-north --data DIR --location CN")
	}
	var exp time.Time
	if *expires != "" {
		d, err := time.ParseDuration(*expires)
		if err != nil || d <= 0 {
			return usageErrorf("principals rescue: --expires-in must be a positive duration such as 24h")
		}
		exp = time.Now().Add(d).UTC()
	}
	if len(roles) == 0 {
		roles = stringList{"admin"}
	}
	cfg, err := off.config(e, "principals rescue")
	if err != nil {
		return err
	}
	a, tok, err := app.BreakGlassRescue(ctx, cfg, access.Account{ID: id, Kind: "person", Roles: roles, Location: *location}, exp)
	if err != nil {
		return breakGlassHint(fmt.Errorf("principals rescue: %w", err), cfg.Region)
	}
	fmt.Fprintf(e.stderr, "rescue administrator %s of region %s (break-glass, recorded in the region's audit log); its token, shown only this once:\n", a.ID, cfg.Region)
	fmt.Fprintln(e.stdout, tok)
	return nil
}
