package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/policy"
)

const policyReloadExamples = `  domicile policy reload --file policy.yaml
  domicile policy reload --file policy.yaml --region eu-central
  kill -HUP $(pidof domicile)     # the same, from the --policy file of one process

The file is checked here first, then sent to every region of the policy
(PUT /v1/regions/NAME/policy, the admin permission). Each region validates
it again, refuses a change that would strand stored data (regions, suites,
where a jurisdiction's data lives, collections, a stored field's shape) and
otherwise stores it, audits it and serves it; every node of the region
follows within seconds. A refused policy changes nothing. A gateway reads
its own --policy file: send it SIGHUP after changing the file.`

// runPolicyReload sends a policy file to every region (or one) to replace
// the running policy.
func runPolicyReload(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "policy reload", "domicile policy reload --file FILE [--region NAME] [flags]", policyReloadExamples)
	af := addAPIFlags(fs)
	file := fs.String("file", "", "the policy `FILE` to put in force (required)")
	only := fs.String("region", "", "reload only the region `NAME` (default: every region of the policy)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf("policy reload: --file is required").withHint("for example: domicile policy reload --file policy.yaml")
	}
	if fs.NArg() > 0 {
		return usageErrorf("policy reload: unexpected argument %q", fs.Arg(0)).withHint("pass the policy with --file FILE")
	}
	doc, err := os.ReadFile(*file)
	if err != nil {
		return withHint(fmt.Errorf("policy reload: %w", err), "pass --file with a readable policy file")
	}
	p, err := policy.Parse(*file, doc)
	var list *policy.ErrorList
	if errors.As(err, &list) {
		printPolicyErrors(e, *list)
		return withHint(fmt.Errorf("policy has %s; nothing was sent", plural(len(*list), "error")), "fix them, then run 'domicile policy check "+*file+"'")
	} else if err != nil {
		return err
	}
	regions := make([]string, 0, len(p.Regions))
	for i := range p.Regions {
		if *only == "" || p.Regions[i].Name == *only {
			regions = append(regions, p.Regions[i].Name)
		}
	}
	if len(regions) == 0 {
		return usageErrorf("policy reload: %s has no region %s", *file, *only).withHint("run 'domicile policy regions " + *file + "' for its regions")
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	var failed []error
	for _, name := range regions {
		info, err := conn.c.ReloadPolicy(ctx, name, doc)
		if err != nil {
			err = conn.failed(ctx, name+": ", err)
			printError(e.stderr, err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: policy version %d in force (%s)\n", info.Region, info.Version, info.Digest)
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == len(regions):
		return &exitError{code: 1, silent: true}
	}
	return withHint(fmt.Errorf("policy reload: %d of %d regions refused it; they keep their previous policy", len(failed), len(regions)),
		"fix what each refusal says, then run the reload again; regions already reloaded answer it as unchanged")
}

// runPolicyStatus shows which policy each region serves.
func runPolicyStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "policy status", "domicile policy status [--region NAME] [flags]", `  domicile policy status
  domicile policy status --region cn-north

The digest is the policy file's hash under the region's suite (sha256 for
intl, sm3 for cn): compare it with 'sha256sum policy.yaml'. Nodes of one
region serving the same version serve the same policy.`)
	af := addAPIFlags(fs)
	only := fs.String("region", "", "show only the region `NAME`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("policy status: unexpected argument %q", fs.Arg(0)).withHint("run 'domicile policy status --help'")
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	var names []string
	if *only != "" {
		names = []string{*only}
	} else {
		rs, err := conn.c.Regions(ctx)
		if err != nil {
			return conn.failed(ctx, "", err)
		}
		for _, r := range rs.Regions {
			names = append(names, r.Name)
		}
	}
	infos := make([]*client.PolicyInfo, 0, len(names))
	for _, name := range names {
		info, err := conn.c.Policy(ctx, name)
		if err != nil {
			return conn.failed(ctx, name+": ", err)
		}
		infos = append(infos, info)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tVERSION\tSOURCE\tSINCE\tDIGEST")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", in.Region, in.Version, in.Source, in.Since.UTC().Format("2006-01-02 15:04:05Z"), in.Digest)
	}
	return tw.Flush()
}
