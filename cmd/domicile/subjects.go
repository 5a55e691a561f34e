package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/subjects"
)

const subjectsExamples = `  domicile subjects export cust-1 --purpose dsr --out cust-1.json
  domicile subjects export cust-1 --region cn-north --purpose dsr --out cust-1-cn.json
  domicile audit keys --region cn-north --pem > cn-north-audit.pem
  domicile subjects verify --pubkey cn-north=cn-north-audit.pem --pubkey eu-central=eu-central-audit.pem cust-1.json`

// exportFormat names the file 'subjects export' writes.
const exportFormat = "domicile subject export v1"

// subjectExport is the file 'subjects export' writes: one signed package
// per region that answered.
type subjectExport struct {
	Format   string                  `json:"format"`
	Subject  string                  `json:"subject"`
	Exported time.Time               `json:"exported"`
	Packages []client.SubjectPackage `json:"packages"`
}

func runSubjects(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, `Usage: domicile subjects export|verify [flags]

A data subject may ask for everything held about them (PIPL art. 45, GDPR
art. 15 and 20). export asks every region (or those named with --region)
for the subject's package, assembled in that region: the subject's records
as you may see them, its consents, the transfers of its data abroad, and
who accessed it, when and why, from the region's audit log. Each region
signs its package with its audit key. A region abroad that sends you clear
values makes a transfer, checked against its transfer mechanisms and
counted like any read. The file holds personal data: keep it as you would
the records.

verify checks such a file offline, with each region's audit keys kept from
'domicile audit keys --pem': an edited package fails.

Examples:
%s
`, subjectsExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "export":
		return subjectsExport(ctx, e, args[1:])
	case "verify":
		return subjectsVerify(e, args[1:])
	}
	return usageErrorf("subjects: unknown subcommand %q", args[0]).withHint("the subcommands are export and verify; run 'domicile subjects --help'")
}

func subjectsExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "subjects export", "domicile subjects export SUBJECT --out FILE [--region NAME]...", subjectsExamples)
	af := addAPIFlags(fs)
	var regions stringsFlag
	fs.Var(&regions, "region", "ask only this `REGION` (repeatable; default: every region)")
	out := fs.String("out", "", "write the signed packages to `FILE` (created with mode 0600; never replaced) (required)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "SUBJECT"); err != nil {
		return err
	}
	if err := needFlag(fs, "out", *out, "the packages hold the subject's personal data; name a file, such as --out "+pos[0]+".json"); err != nil {
		return err
	}
	c, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	if len(regions) == 0 {
		rs, err := c.c.Regions(ctx)
		if err != nil {
			return c.failed(ctx, "", err)
		}
		for _, r := range rs.Regions {
			regions = append(regions, r.Name)
		}
	}
	x := subjectExport{Format: exportFormat, Subject: pos[0], Exported: time.Now().UTC()}
	var sum bytes.Buffer
	tw := tabwriter.NewWriter(&sum, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tRECORDS\tCONSENTS\tTRANSFERS\tACCESSES\tERASED\tSIGNED BY")
	for _, r := range regions {
		p, err := c.c.ExportSubject(ctx, r, pos[0])
		if err != nil {
			return c.failed(ctx, "region "+r+": ", err)
		}
		pkg, err := subjects.Parse(p.Payload)
		if err != nil {
			return withHint(fmt.Errorf("subjects export: region %s answered no subject package: %v", r, err), "use a domicile binary of the server's version ('domicile version')")
		}
		x.Packages = append(x.Packages, *p)
		erased := "-"
		if n := len(pkg.Erasures); n > 0 {
			erased = pkg.Erasures[n-1].Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", r, len(pkg.Records), len(pkg.Consents), len(pkg.Transfers), len(pkg.Accesses), erased, p.KeyHash)
	}
	tw.Flush()
	b, err := json.MarshalIndent(&x, "", "  ")
	if err != nil {
		return err
	}
	if err := writeOutput(e, *out, append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%swrote %s: the packages of %d region(s); check it with 'domicile subjects verify'\n", sum.String(), *out, len(x.Packages))
	return nil
}

func subjectsVerify(e *env, args []string) error {
	fs := newFlagSet(e, "subjects verify", "domicile subjects verify --pubkey REGION=FILE... [--policy FILE] EXPORT.json", subjectsExamples)
	keys := pairsFlag{name: "pubkey"}
	fs.Var(&keys, "pubkey", "a region's audit public keys, `REGION=FILE` (PEM, from 'domicile audit keys --pem'); one per region of the file (required)")
	pol := fs.String("policy", "", "policy file, for the regions' suites (default: the suite each package names)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := keys.check(fs); err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "FILE"); err != nil {
		return err
	}
	file := pos[0]
	x, err := readSubjectExport(file)
	if err != nil {
		return err
	}
	for _, r := range keys.keys {
		if !slices.ContainsFunc(x.Packages, func(p client.SubjectPackage) bool { return p.Region == r }) {
			return usageErrorf("subjects verify: --pubkey %s: %s holds no package of region %s", r, file, r)
		}
	}
	for i := range x.Packages {
		sp := &x.Packages[i]
		pkg, err := verifyPackage(sp, keys.pairs[sp.Region], *pol)
		if err != nil {
			return fmt.Errorf("%s: region %s: %w", file, sp.Region, err)
		}
		for _, r := range pkg.Records {
			if r.Subject != x.Subject {
				return fmt.Errorf("%s: region %s: the package holds a record of another subject than %s: the file was put together from other exports", file, sp.Region, x.Subject)
			}
		}
		fmt.Fprintf(e.stdout, "ok: %s: package of subject ref %s, generated %s, signed by key %s: %d records, %d consents, %d transfers, %d accesses in %d audit entries\n",
			sp.Region, pkg.SubjectRef[:16], pkg.Generated.Format(time.RFC3339), sp.KeyHash, len(pkg.Records), len(pkg.Consents), len(pkg.Transfers), len(pkg.Accesses), pkg.AuditSize)
	}
	return nil
}

// verifyPackage checks one region's package with the keys in keyFile.
func verifyPackage(sp *client.SubjectPackage, keyFile, policyFile string) (*subjects.Package, error) {
	if keyFile == "" {
		return nil, withHint(fmt.Errorf("no --pubkey %s=FILE given", sp.Region), "keep the region's keys with: domicile audit keys --region "+
			sp.Region+" --pem > "+sp.Region+".pem, and give --pubkey "+sp.Region+"="+sp.Region+".pem")
	}
	s, err := regionSuite(policyFile, sp.Region)
	if err != nil {
		var ok bool
		if s, ok = suiteOfAlgorithm(sp.Algorithm); !ok || policyFile != "" {
			return nil, err
		}
	}
	keys, err := readKeys(keyFile, sp.Region, s.Signature())
	if err != nil {
		return nil, err
	}
	kh, err := hex.DecodeString(sp.KeyHash)
	if err != nil || len(kh) != 4 {
		return nil, fmt.Errorf("key_hash %q is not 8 hex digits: the file was edited", sp.KeyHash)
	}
	pkg, err := subjects.Verify(&signed.Envelope{Payload: sp.Payload, Algorithm: sp.Algorithm, KeyHash: [4]byte(kh), Signature: sp.Signature},
		"domicile/"+sp.Region, keys, s.Signature(), s.Hash())
	if err != nil {
		hint := "the package was changed after the region signed it; ask for the subject's export again"
		if strings.Contains(err.Error(), "not among") {
			hint = "fetch the whole key history with: domicile audit keys --region " + sp.Region + " --pem > " + keyFile
		}
		return nil, withHint(err, hint)
	}
	if pkg.Region != sp.Region {
		return nil, fmt.Errorf("the signed package is of region %s: the file was edited", pkg.Region)
	}
	if diff, err := reportDiffers(sp.Payload, sp.Package); err != nil || len(diff) > 0 {
		what := "is not a JSON object"
		if err == nil {
			what = "differs from the signed payload in " + strings.Join(diff, ", ")
		}
		return nil, fmt.Errorf("the readable copy (\"package\") %s: someone edited it after it was signed", what)
	}
	return pkg, nil
}

// readSubjectExport reads a file of 'subjects export'.
func readSubjectExport(file string) (*subjectExport, error) {
	hint := "write one with: domicile subjects export SUBJECT --out " + file
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(fmt.Errorf("read %s: %v", file, osCause(err)), "check the file name")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var x subjectExport
	if err := dec.Decode(&x); err != nil {
		return nil, withHint(fmt.Errorf("%s holds no subject export: %v", file, err), hint)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, withHint(fmt.Errorf("%s holds data after the subject export", file), hint)
	}
	if x.Format != exportFormat || x.Subject == "" {
		return nil, withHint(fmt.Errorf("%s holds no subject export: its format is %q", file, x.Format), hint)
	}
	if len(x.Packages) == 0 {
		return nil, withHint(fmt.Errorf("%s holds no region's package", file), hint)
	}
	return &x, nil
}
