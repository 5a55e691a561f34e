package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/domicile/domicile/client"
)

// `domicile keys SUBCOMMAND`: the state and rotation of the regions'
// key-encryption keys, through the API (an admin token is needed).

func keysCommands() []apiCommand {
	return []apiCommand{
		{"status", "show each region's keys: purpose, current version, versions", runKeysStatus},
		{"rotate", "make a new current version of a region's key", runKeysRotate},
	}
}

const keysExamples = `  domicile keys status
  domicile keys status --region cn-north --format json
  domicile keys rotate --region cn-north --key data`

// keyPurposes are the purposes a key can be rotated for.
var keyPurposes = []string{"data", "index", "token", "audit"}

// runKeys shows and rotates a region's keys.
func runKeys(ctx context.Context, e *env, args []string) error {
	return dispatchAPI(ctx, e, "keys", keysCommands(), keysExamples, args)
}

func runKeysStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys status", "domicile keys status [--region NAME] [--format table|json] [flags]",
		`  domicile keys status
  domicile keys status --region eu-central
  domicile keys status --format json

Shows every region's keys unless --region names one: for each purpose, the
current version and how many versions exist (older versions still decrypt).`)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "show only the region `NAME`, such as cn-north")
	format := fs.String("format", "table", "output `FORMAT`: table or json (a list of key statuses)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := formatFlag(fs, *format, "table", "json"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}

	names := []string{*region}
	if *region == "" {
		rr, err := conn.c.Regions(ctx)
		if err != nil {
			return conn.failed(ctx, "", err)
		}
		names = names[:0]
		for _, r := range rr.Regions {
			names = append(names, r.Name)
		}
	}
	statuses := make([]*client.KeyStatus, 0, len(names))
	for _, name := range names {
		ks, err := conn.c.Keys(ctx, name)
		if err != nil {
			prefix := ""
			if *region == "" {
				prefix = name + ": "
			}
			return conn.failed(ctx, prefix, err)
		}
		statuses = append(statuses, ks)
	}

	if *format == "json" {
		return printIndentedJSON(e.stdout, statuses)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tPURPOSE\tCURRENT\tVERSIONS")
	for _, ks := range statuses {
		for _, k := range ks.Keys {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", ks.Region, k.Purpose, k.Current, len(k.Versions))
		}
	}
	return tw.Flush()
}

func runKeysRotate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys rotate", "domicile keys rotate --region NAME --key data|index|token|audit [flags]",
		`  domicile keys rotate --region cn-north --key data
  domicile keys rotate --region eu-central --key index

New writes use the new version; data under older versions stays readable.`)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region `NAME`, such as cn-north")
	purpose := fs.String("key", "", "which key-encryption key: "+strings.Join(keyPurposes, ", "))
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needFlag(fs, "region", *region, "'domicile keys status' lists the regions"); err != nil {
		return err
	}
	if err := needFlag(fs, "key", *purpose, "--key is one of "+strings.Join(keyPurposes, ", ")); err != nil {
		return err
	}
	known := false
	for _, p := range keyPurposes {
		known = known || p == *purpose
	}
	if !known {
		return usageErrorf("keys rotate: unknown --key %q", *purpose).withHint("--key is one of " + strings.Join(keyPurposes, ", "))
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	out, err := conn.c.Rotate(ctx, *region, *purpose)
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "rotated the %s key of %s: version %d is current\n", out.Purpose, out.Region, out.Version)
	return nil
}
