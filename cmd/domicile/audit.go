package main

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/suite"
)

const auditExamples = `  domicile audit pubkey --region cn-north > cn-north-audit.pem
  domicile audit checkpoint --region cn-north
  domicile audit verify --region cn-north --data data/regions/cn-north --pubkey cn-north-audit.pem
  domicile audit export --region cn-north --data data/regions/cn-north > cn-north.jsonl
  domicile audit verify --region cn-north --export cn-north.jsonl --pubkey cn-north-audit.pem`

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, "Usage: domicile audit verify|export|checkpoint|pubkey [flags]\n\nEvery region keeps a tamper-evident audit log: a Merkle tree over its entries,\nhashed with the region's suite hash, with checkpoints signed by the region's\nkey. verify and export read a region's store offline (stop its node first, or\nuse an export); checkpoint and pubkey ask the API.\n\nExamples:\n%s\n", auditExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, e, args[1:])
	case "export":
		return auditExport(ctx, e, args[1:])
	case "checkpoint", "pubkey":
		return auditFetch(ctx, e, args[0], args[1:])
	}
	return usageErrorf("audit: unknown subcommand %q", args[0]).withHint("run 'domicile audit --help'")
}

// regionSuite returns the suite of a region of the policy.
func regionSuite(policyFile, region string) (suite.Suite, error) {
	p, err := loadPolicy(policyFile)
	if err != nil {
		return suite.Suite{}, err
	}
	r, ok := p.Region(region)
	if !ok {
		return suite.Suite{}, usageErrorf("audit: region %q is not in the policy", region).withHint("pass --policy with the region's policy file")
	}
	return suite.ByID(r.Suite)
}

func auditVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit verify", "domicile audit verify --region NAME (--data DIR | --store URL | --export FILE) --pubkey FILE", auditExamples)
	region := fs.String("region", "", "the region whose log it is (required)")
	data := fs.String("data", "", "the region's store directory, such as data/regions/cn-north")
	storeURL := fs.String("store", "", "the region's postgres:// database")
	export := fs.String("export", "", "an export made by 'domicile audit export'")
	pubFile := fs.String("pubkey", "", "the region's audit public key, PEM (from 'domicile audit pubkey'; required)")
	pol := fs.String("policy", "", "policy file (default: the built-in example)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{*data, *storeURL, *export} {
		if s != "" {
			n++
		}
	}
	if *region == "" || *pubFile == "" || n != 1 {
		return usageErrorf("audit verify: give --region, --pubkey and exactly one of --data, --store, --export").withHint("run 'domicile audit --help' for examples")
	}
	s, err := regionSuite(*pol, *region)
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(*pubFile)
	if err != nil {
		return withHint(err, "fetch the key with: domicile audit pubkey --region "+*region)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return withHint(fmt.Errorf("audit verify: %s holds no PEM public key", *pubFile), "fetch the key with: domicile audit pubkey --region "+*region)
	}
	pub, err := s.Signature().ParsePublicKey(blk.Bytes)
	if err != nil {
		return withHint(fmt.Errorf("audit verify: %w", err), "the key must be the region's audit key, for its suite's signature ("+s.Signature().ID()+")")
	}
	var r audit.Reader
	switch {
	case *export != "":
		f, err := os.Open(*export)
		if err != nil {
			return withHint(err, "check the path")
		}
		defer f.Close()
		r = audit.NewExportReader(f)
	default:
		loc := *data
		if loc == "" {
			loc = *storeURL
		}
		p, err := loadPolicy(*pol)
		if err != nil {
			return err
		}
		st, err := app.OpenRegionStore(ctx, p, *region, loc)
		if err != nil {
			return withHint(err, "stop the region's node first (it holds the store), or verify an export")
		}
		defer st.Close()
		r = audit.StoreReader(st, s.Hash())
	}
	progress := newProgress(e, "verifying")
	rep, err := audit.Verify(ctx, r, pub, s.Signature(), s.Hash(), progress.update)
	progress.done()
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return &exitError{code: 1, err: fmt.Errorf("audit log of %s does not verify: %s", *region, ve.Error())}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: %s: %s (%d void, %d aborted), %s, signed through entry %d, root %s (%s)\n",
		rep.Origin, plural(int(rep.Entries), "entry"), rep.Actions[entry.Void], rep.Aborted-rep.Actions[entry.Void],
		plural(rep.Checkpoints, "checkpoint"), rep.Signed, hex.EncodeToString(rep.Root), s.Hash().ID())
	if rep.Reserved >= 0 {
		fmt.Fprintf(e.stdout, "pending: index %d was reserved by a node that stopped before writing it (not a deletion: no tree or checkpoint covered it); %s after it wait until a running node of %s records it as void, within seconds of starting\n",
			rep.Reserved, plural(rep.Waiting, "entry"), *region)
	}
	return nil
}

func auditExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit export", "domicile audit export --region NAME (--data DIR | --store URL)", auditExamples)
	region := fs.String("region", "", "the region whose log it is (required)")
	data := fs.String("data", "", "the region's store directory")
	storeURL := fs.String("store", "", "the region's postgres:// database")
	pol := fs.String("policy", "", "policy file (default: the built-in example)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" || (*data == "") == (*storeURL == "") {
		return usageErrorf("audit export: give --region and exactly one of --data, --store").withHint("run 'domicile audit --help'")
	}
	s, err := regionSuite(*pol, *region)
	if err != nil {
		return err
	}
	p, err := loadPolicy(*pol)
	if err != nil {
		return err
	}
	loc := *data
	if loc == "" {
		loc = *storeURL
	}
	st, err := app.OpenRegionStore(ctx, p, *region, loc)
	if err != nil {
		return withHint(err, "stop the region's node first (it holds the store)")
	}
	defer st.Close()
	return audit.Export(ctx, audit.StoreReader(st, s.Hash()), s.Hash(), e.stdout)
}

func auditFetch(ctx context.Context, e *env, what string, args []string) error {
	fs := newFlagSet(e, "audit "+what, "domicile audit "+what+" --region NAME", auditExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" {
		return usageErrorf("audit %s: --region is required", what).withHint("'domicile keys status' lists the regions")
	}
	c, err := af.connect(e, "audit "+what)
	if err != nil {
		return err
	}
	var out []byte
	if what == "pubkey" {
		out, err = c.c.AuditPublicKey(ctx, *region)
	} else {
		out, err = c.c.AuditCheckpoint(ctx, *region)
	}
	if err != nil {
		return c.failed(ctx, "", err)
	}
	e.stdout.Write(out)
	return nil
}
