package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/transfer"
)

const transfersExamples = `  domicile transfers report --region cn-north
  domicile transfers report --region cn-north --year 2026 --format csv --out cn-north-2026.csv
  domicile audit keys --region cn-north --pem > cn-north-audit.pem
  domicile transfers report --region cn-north --year 2026 --format json --out cn-north-2026.json
  domicile transfers verify --region cn-north --pubkey cn-north-audit.pem cn-north-2026.json`

func runTransfers(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, `Usage: domicile transfers report|verify [flags]

Every strict region keeps a ledger of its cross-border transfers: each clear
value that leaves it for a principal abroad is checked against the transfer
mechanisms of the policy and counted, once per individual and year. report
fetches a year's account (individuals per destination, mechanism and class,
the headroom under the thresholds, the mechanisms and their validity),
signed with the region's audit key; --format json keeps it as served, for a
regulator or an auditor. verify checks such a file offline, with the audit
keys kept from 'domicile audit keys --pem': an edited report fails.

Examples:
%s
`, transfersExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "report":
		return transfersReport(ctx, e, args[1:])
	case "verify":
		return transfersVerify(e, args[1:])
	}
	return usageErrorf("transfers: unknown subcommand %q", args[0]).withHint("the subcommands are report and verify; run 'domicile transfers --help'")
}

func transfersReport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "transfers report", "domicile transfers report --region NAME [--year YEAR] [--format table|json|csv] [--out FILE]", transfersExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region whose ledger it is (required)")
	year := fs.Int("year", 0, "the ledger `YEAR`, from 1 January in the region's time zone (default: the current year)")
	format := fs.String("format", "table", "output `FORMAT`: table; json, the signed report as served (for 'transfers verify'); or csv, the transfers rows")
	out := fs.String("out", "", "write to `FILE` (created; never replaced) instead of stdout")
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
	if *year != 0 && *year < 2000 {
		return usageErrorf("transfers report: --year %d: give a year from 2000 on, such as %d", *year, time.Now().Year()).withHint("leave --year out for the current year")
	}
	if err := formatFlag(fs, *format, "table", "json", "csv"); err != nil {
		return err
	}
	c, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	raw, err := c.c.TransferReportJSON(ctx, *region, *year)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	var rep client.TransferReport
	if err := json.Unmarshal(raw, &rep); err != nil || len(rep.Payload) == 0 {
		return withHint(fmt.Errorf("transfers report: %s answered no transfer report", c.addr), "use a domicile binary of the server's version ('domicile version')")
	}
	var b bytes.Buffer
	switch *format {
	case "json":
		b.Write(raw)
	case "csv":
		err = transferCSV(&b, &rep.Report)
	default:
		err = transferTable(&b, &rep)
	}
	if err != nil {
		return err
	}
	return writeOutput(e, *out, b.Bytes())
}

// transferCSV writes the report's transfers, one row per bucket.
func transferCSV(w io.Writer, r *client.TransferReportBody) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"region", "year", "jurisdiction", "destination", "mechanism", "class", "individuals", "records"})
	for _, t := range r.Transfers {
		cw.Write([]string{r.Region, strconv.Itoa(r.Year), t.Jurisdiction, t.Destination, t.Mechanism, t.Class,
			strconv.FormatInt(t.Individuals, 10), strconv.FormatInt(t.Records, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// transferTable writes the report for people.
func transferTable(w io.Writer, rep *client.TransferReport) error {
	r := &rep.Report
	fmt.Fprintf(w, "Transfer report of %s for %d (from 1 January, %s), generated %s\n", r.Region, r.Year, r.TimeZone, r.Generated.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Signed by %s audit key %s; check it offline with 'domicile transfers verify' on the --format json output.\n\n", rep.Algorithm, rep.KeyHash)
	fmt.Fprintf(w, "Individuals:    %d non-sensitive, %d sensitive (transfers under exempt mechanisms are not counted)\n",
		r.Individuals.NonSensitive, r.Individuals.Sensitive)
	if r.Required != "" {
		fmt.Fprintf(w, "Level required: %s\n", r.Required)
	} else {
		fmt.Fprintln(w, "Level required: - (the region has no transfer thresholds)")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(r.Thresholds) > 0 {
		fmt.Fprintln(tw, "\nTHRESHOLDS")
		fmt.Fprintln(tw, "LEVEL\tLIMIT NON-SENSITIVE\tHEADROOM\tLIMIT SENSITIVE\tHEADROOM")
		for _, t := range r.Thresholds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Level, limit(t.LimitNonSensitive), headroom(t.HeadroomNonSensitive),
				limit(t.LimitSensitive), headroom(t.HeadroomSensitive))
		}
	}
	fmt.Fprintln(tw, "\nTRANSFERS")
	if len(r.Transfers) == 0 {
		fmt.Fprintln(tw, "none this year")
	} else {
		fmt.Fprintln(tw, "JURISDICTION\tDESTINATION\tMECHANISM\tCLASS\tINDIVIDUALS\tRECORDS")
		for _, t := range r.Transfers {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", t.Jurisdiction, t.Destination, t.Mechanism, t.Class, t.Individuals, t.Records)
		}
	}
	fmt.Fprintln(tw, "\nMECHANISMS")
	var warnings []string
	if len(r.Mechanisms) == 0 {
		fmt.Fprintln(tw, "none recorded for the region")
	} else {
		fmt.Fprintln(tw, "NAME\tKIND\tREFERENCE\tVALID\tSTATUS\tINDIVIDUALS")
		for _, m := range r.Mechanisms {
			valid := "from " + m.ValidFrom
			if m.ValidUntil != "" {
				valid = m.ValidFrom + " to " + m.ValidUntil
			}
			status := m.Status
			switch m.Status {
			case "expiring":
				status = "EXPIRING !"
				warnings = append(warnings, fmt.Sprintf("warning: %s ends on %s, within 90 days: renew it, or transfers under it are refused from %s on",
					m.Name, m.ValidUntil, dayAfter(m.ValidUntil)))
			case "expired":
				status = "EXPIRED !"
				warnings = append(warnings, fmt.Sprintf("warning: %s ended on %s: transfers under it are refused", m.Name, m.ValidUntil))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", m.Name, m.Kind, dash(m.Reference), valid, status, m.Individuals)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(warnings) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(warnings, "\n"))
	}
	return nil
}

func limit(n int64) string {
	if n < 0 {
		return "no limit"
	}
	return strconv.FormatInt(n, 10)
}

func headroom(n int64) string {
	switch {
	case n == -1:
		return "no limit"
	case n < 0:
		return fmt.Sprintf("%d (over)", n)
	}
	return strconv.FormatInt(n, 10)
}

func dayAfter(date string) string {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return "the day after"
	}
	return d.AddDate(0, 0, 1).Format(time.DateOnly)
}

// signedFile is a file of 'transfers report --format json': the answer
// of GET /v1/regions/{region}/transfers/report, with the readable copy
// kept raw to compare with the payload.
type signedFile struct {
	Region    string          `json:"region"`
	Year      int             `json:"year"`
	Algorithm string          `json:"algorithm"`
	KeyHash   string          `json:"key_hash"`
	Payload   []byte          `json:"payload"`
	Signature []byte          `json:"signature"`
	Report    json.RawMessage `json:"report"`
}

func transfersVerify(e *env, args []string) error {
	fs := newFlagSet(e, "transfers verify", "domicile transfers verify --region NAME --pubkey FILE [--policy FILE] REPORT.json", transfersExamples)
	region := fs.String("region", "", "the region whose report it is (required)")
	pubFile := fs.String("pubkey", "", "the region's audit public keys, PEM (from 'domicile audit keys --pem') (required)")
	pol := fs.String("policy", "", "policy file, for the region's suite (default: the built-in example)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := needFlag(fs, "region", *region, "give the region the report is of, such as --region cn-north"); err != nil {
		return err
	}
	if err := needFlag(fs, "pubkey", *pubFile, "keep the keys once with: domicile audit keys --region "+*region+" --pem > keys.pem"); err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "FILE"); err != nil {
		return err
	}
	file := pos[0]
	sf, err := readSignedReport(file, *region)
	if err != nil {
		return err
	}
	if sf.Region != *region {
		return withHint(fmt.Errorf("%s says it is a transfer report of region %s, not %s", file, sf.Region, *region), "give --region "+sf.Region+" with that region's audit keys")
	}
	s, err := regionSuite(*pol, *region)
	if err != nil {
		// A region the policy does not name: the scheme the file names,
		// if it is a suite's (the keys, which you trust, must be of it).
		var ok bool
		if s, ok = suiteOfAlgorithm(sf.Algorithm); !ok || *pol != "" {
			return err
		}
	}
	keys, err := readKeys(*pubFile, *region, s.Signature())
	if err != nil {
		return err
	}
	kh, err := hex.DecodeString(sf.KeyHash)
	if err != nil || len(kh) != 4 {
		return fmt.Errorf("%s: key_hash %q is not 8 hex digits: the file was edited or is no transfer report", file, sf.KeyHash)
	}
	r, err := transfer.VerifyReport(&transfer.Signed{Payload: sf.Payload, Algorithm: sf.Algorithm, KeyHash: [4]byte(kh), Signature: sf.Signature},
		"domicile/"+*region, keys, s.Signature(), s.Hash())
	if err != nil {
		hint := "the payload or the signature was changed after the region signed it; ask the region for the report again"
		if strings.Contains(err.Error(), "not among") {
			hint = "fetch the whole key history with: domicile audit keys --region " + *region + " --pem > " + *pubFile
		}
		return withHint(fmt.Errorf("%s: %w", file, err), hint)
	}
	if r.Region != *region {
		return fmt.Errorf("%s: a transfer report of region %s, not %s", file, r.Region, *region)
	}
	if sf.Region != r.Region || sf.Year != r.Year {
		return fmt.Errorf("%s: the file says region %s, year %d, but the signed payload is of %s, %d: the file was edited", file, sf.Region, sf.Year, r.Region, r.Year)
	}
	if diff, err := reportDiffers(sf.Payload, sf.Report); err != nil || len(diff) > 0 {
		what := "is not a JSON object"
		if err == nil {
			what = "differs from the signed payload in " + strings.Join(diff, ", ")
		}
		return withHint(fmt.Errorf("%s: the readable copy (\"report\") %s: someone edited it after it was signed", file, what),
			"the signed payload verifies; trust only it, or ask the region for the report again")
	}
	fmt.Fprintf(e.stdout, "ok: transfer report of %s for %d, signed by key %s; individuals sent abroad: %d with non-sensitive, %d with sensitive information\n",
		r.Region, r.Year, sf.KeyHash, r.Individuals.NonSensitive, r.Individuals.Sensitive)
	return nil
}

// readSignedReport reads a file of 'transfers report --format json'.
func readSignedReport(file, region string) (*signedFile, error) {
	hint := "write one with: domicile transfers report --region " + region + " --format json --out " + file
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(fmt.Errorf("read %s: %v", file, osCause(err)), "check the file name")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sf signedFile
	if err := dec.Decode(&sf); err != nil {
		return nil, withHint(fmt.Errorf("%s holds no transfer report: %v", file, err), hint)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, withHint(fmt.Errorf("%s holds more than one transfer report", file), hint)
	}
	if len(sf.Payload) == 0 || len(sf.Signature) == 0 {
		return nil, withHint(fmt.Errorf("%s holds no transfer report: it has no signed payload", file), hint)
	}
	return &sf, nil
}

// suiteOfAlgorithm returns the suite whose signature scheme is alg.
func suiteOfAlgorithm(alg string) (suite.Suite, bool) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		if s.Signature().ID() == alg {
			return s, true
		}
	}
	return suite.Suite{}, false
}

// reportDiffers compares the readable copy with the payload as JSON
// values and names the top-level keys where they differ.
func reportDiffers(payload []byte, readable json.RawMessage) ([]string, error) {
	var p, o map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	if len(readable) == 0 {
		return nil, nil // no readable copy: nothing to mislead a reader
	}
	if err := json.Unmarshal(readable, &o); err != nil || o == nil {
		return nil, errors.New("not an object")
	}
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if v, ok := o[k]; !ok || !reflect.DeepEqual(v, p[k]) {
			diff = append(diff, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		if _, ok := p[k]; !ok {
			diff = append(diff, k+" (added)")
		}
	}
	return diff, nil
}
