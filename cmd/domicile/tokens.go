package main

import (
	"context"
	"fmt"

	"github.com/domicile/domicile/client"
)

const tokensExamples = `  domicile tokens tokenize --collection customers --field email --jurisdiction CN wang.wei@example.com
  domicile tokens tokenize --collection customers --field phone --jurisdiction US "+1 202-555-0143"
  domicile tokens detokenize --purpose support tkd_cn-north_v1_...
  domicile tokens detokenize --purpose support --jurisdiction US --collection customers --field phone +12025550143`

func runTokens(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, "Usage: domicile tokens tokenize|detokenize [flags] VALUE|TOKEN...\n\nTokens stand for values in global systems; only the right region, for a\nprincipal and purpose the policy allows, turns them back into values.\n\nExamples:\n%s\n", tokensExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "tokenize":
		return tokensTokenize(ctx, e, args[1:])
	case "detokenize":
		return tokensDetokenize(ctx, e, args[1:])
	}
	return usageErrorf("tokens: unknown subcommand %q", args[0]).withHint("run 'domicile tokens --help'")
}

// itemFailed reports per-item errors: one "error:" line each, and an
// overall error so the exit status says something failed.
func itemFailed(e *env, n int, arg func(i int) string, errs map[int]*client.ItemError) error {
	for i := range n {
		if ie := errs[i]; ie != nil {
			fmt.Fprintf(e.stderr, "error: item %d (%s): %s (%s)\n", i+1, arg(i), ie.Detail, ie.Code)
		}
	}
	if len(errs) > 0 {
		return &exitError{code: 1, silent: true}
	}
	return nil
}

func tokensTokenize(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "tokens tokenize", "domicile tokens tokenize --collection C --field F --jurisdiction CC VALUE...", tokensExamples)
	af := addAPIFlags(fs)
	coll := fs.String("collection", "customers", "the collection")
	field := fs.String("field", "", "the field whose token kind applies (required)")
	j := fs.String("jurisdiction", "", "ISO 3166-1 alpha-2 code of the values' subjects (required)")
	subject := fs.String("subject", "", "the subject the values belong to: the tokens stop detokenizing when it is erased (without it they live until their key version is retired)")
	values, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *field == "" || *j == "" || len(values) == 0 {
		return usageErrorf("tokens tokenize: --field, --jurisdiction and at least one value are required").withHint("run 'domicile tokens --help'")
	}
	c, err := af.connect(e, "tokens tokenize")
	if err != nil {
		return err
	}
	items := make([]client.TokenizeItem, len(values))
	for i, v := range values {
		items[i] = client.TokenizeItem{Collection: *coll, Field: *field, Value: v, Jurisdiction: *j, Subject: *subject}
	}
	out, err := c.c.Tokenize(ctx, items)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	errs := map[int]*client.ItemError{}
	for i, r := range out.Results {
		if r.Error != nil {
			errs[i] = r.Error
			continue
		}
		fmt.Fprintf(e.stdout, "%s\t%s\tv%d\n", r.Token, r.Kind, r.KeyVersion)
	}
	return itemFailed(e, len(values), func(i int) string { return fmt.Sprintf("value #%d", i+1) }, errs)
}

func tokensDetokenize(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "tokens detokenize", "domicile tokens detokenize [--jurisdiction CC --collection C --field F] TOKEN...", tokensExamples)
	af := addAPIFlags(fs)
	coll := fs.String("collection", "", "for fpe tokens: the collection")
	field := fs.String("field", "", "for fpe tokens: the field")
	j := fs.String("jurisdiction", "", "for fpe tokens: the jurisdiction (routes to its region)")
	region := fs.String("region", "", "for fpe tokens: the region")
	version := fs.Uint("key-version", 0, "for fpe tokens: the token key version (default: current)")
	toks, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(toks) == 0 {
		return usageErrorf("tokens detokenize: give at least one token").withHint("run 'domicile tokens --help'")
	}
	c, err := af.connect(e, "tokens detokenize")
	if err != nil {
		return err
	}
	items := make([]client.DetokenizeItem, len(toks))
	for i, t := range toks {
		items[i] = client.DetokenizeItem{Token: t, Collection: *coll, Field: *field, Jurisdiction: *j, Region: *region, KeyVersion: uint32(*version)}
	}
	out, err := c.c.Detokenize(ctx, items)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	errs := map[int]*client.ItemError{}
	for i, r := range out.Results {
		if r.Error != nil {
			errs[i] = r.Error
			continue
		}
		fmt.Fprintf(e.stdout, "%s\t%s.%s\t%s\n", r.Value, r.Collection, r.Field, r.Rule)
	}
	return itemFailed(e, len(toks), func(i int) string { return fmt.Sprintf("token #%d", i+1) }, errs)
}
