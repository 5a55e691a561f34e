package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/domicile/domicile/client"
)

const exportExamples = `  domicile records export --collection customers > customers.jsonl
  domicile records export --collection customers --region eu-central --region us-east --out customers.jsonl
  domicile records export --collection customers --purpose billing --format import --out clear.jsonl
  domicile records import clear.jsonl        # the import format round-trips

Each line is one record as your read decision shows it: masked or tokenized by
default, clear only where your role allows it for the --purpose you state;
access.refused names the fields you may not see. Every page is written to each
region's audit log as an export, and clear values read from outside a strict
region are a cross-border transfer, counted like any read.
The guard counts an export as bulk reading: under the example policy's
bulk-read rule, more than 300 records a minute locks the principal. Give a
service that exports a role and a guard rule of its own.

--format import writes the lines 'domicile records import' reads
({"collection","subject","jurisdiction","fields"}), and refuses a record with
any field that is not clear: an import of masks would store the masks.

The summary (records per region, fields clear, masked and refused) goes to
stderr when the records go to stdout. If the export stops, the error names the
--cursor that resumes it.`

// clearAccess is the wire treatment of a field shown in clear.
const clearAccess = "clear"

// exportFormats are the line formats of an export.
var exportFormats = []string{"records", "import"}

// exportStats count what an export showed, never a value.
type exportStats struct {
	records                int
	perRegion              map[string]int
	clear, masked, refused int
	denied                 int
}

func runRecordsExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records export",
		"domicile records export --collection NAME [--region R]... [--purpose P] [--format records|import] [--out FILE] [flags]", exportExamples)
	af := addAPIFlags(fs)
	collection := fs.String("collection", "", "the `NAME` of the collection to export (required)")
	var regions stringList
	fs.Var(&regions, "region", "export only from `REGION` (repeat; default: every region)")
	format := fs.String("format", "records", "line `FORMAT`: records (id, region, fields and how the decision shaped them) or import (lines 'records import' reads; clear values only)")
	out := fs.String("out", "", "write the lines to `FILE` (created with mode 0600, replaced if it exists; default: stdout)")
	limit := fs.Int("limit", 0, "ask for `N` records per page (default: the server's page size)")
	cursor := fs.String("cursor", "", "resume an export at `CURSOR`, as an earlier export's error named it")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needFlag(fs, "collection", *collection, "name the collection to export, such as --collection customers"); err != nil {
		return err
	}
	if err := formatFlag(fs, *format, exportFormats...); err != nil {
		return err
	}
	if *limit < 0 {
		return usageErrorf("records export: --limit must be positive").withHint("leave out --limit for the server's page size")
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}

	w, summary := e.stdout, e.stderr
	var file *os.File
	if *out != "" {
		if file, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return withHint(fmt.Errorf("records export: %s: %v", *out, osCause(err)), "check the directory exists and is writable")
		}
		defer file.Close()
		w, summary = file, e.stdout
	}
	bw := bufio.NewWriterSize(w, 64<<10)

	total := exportTotal(ctx, conn.c, *collection, regions)
	prog := newProgress(e, "exporting "+*collection)
	st := &exportStats{perRegion: map[string]int{}}
	next := *cursor
	opts := client.ExportOptions{Regions: regions, Limit: *limit, Cursor: *cursor, Page: func(n string) {
		next = n
		prog.update(st.records, max(total, st.records))
	}}
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err = conn.c.ExportCollection(ctx, *collection, opts, func(r client.Record) error {
		line, err := exportLine(*format, r)
		if err != nil {
			return err
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
		st.add(r)
		return nil
	})
	prog.done()
	if ferr := bw.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if file != nil {
		if cerr := file.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		var le *exportLineError
		prefix := fmt.Sprintf("records export: stopped after %d records: ", st.records)
		switch {
		case errors.As(err, &le):
			return withHint(errors.New(prefix+le.Error()), "export with a --purpose your role may read in clear, or use --format records")
		case next != "":
			return withHint(conn.failed(ctx, prefix, err), "once the cause is fixed, resume with the same flags and --cursor "+next)
		}
		return conn.failed(ctx, prefix, err)
	}
	st.print(summary, *collection)
	return nil
}

// exportTotal is how many records the export will visit, from the regions'
// record counts; 0 when they cannot be read (the progress then counts
// without a total).
func exportTotal(ctx context.Context, c *client.Client, collection string, regions []string) int {
	rr, err := c.Regions(ctx)
	if err != nil {
		return 0
	}
	n := int64(0)
	for _, r := range rr.Regions {
		if len(regions) == 0 || slices.Contains(regions, r.Name) {
			n += r.Records[collection]
		}
	}
	return int(n)
}

// exportLineError is a record that the import format cannot carry.
type exportLineError struct{ id, why string }

func (e *exportLineError) Error() string { return "record " + e.id + " " + e.why }

// exportLine is the line of r in format: the record itself, or the
// NewRecord that 'records import' reads, which needs every field clear.
func exportLine(format string, r client.Record) (any, error) {
	if format != "import" {
		return r, nil
	}
	if r.Access != nil {
		if r.Access.Rule == "denied" {
			return nil, &exportLineError{r.ID, "may not be read by this principal"}
		}
		if len(r.Access.Refused) > 0 {
			return nil, &exportLineError{r.ID, "has fields this principal may not see: " + strings.Join(r.Access.Refused, ", ")}
		}
		var notClear []string
		for f := range r.Fields {
			if t := r.Access.Fields[f]; t != clearAccess {
				notClear = append(notClear, f)
			}
		}
		if len(notClear) > 0 {
			slices.Sort(notClear)
			return nil, &exportLineError{r.ID, "has fields that are not clear: " + strings.Join(notClear, ", ")}
		}
	}
	return client.NewRecord{Collection: r.Collection, Subject: r.Subject, Jurisdiction: r.Jurisdiction, Fields: r.Fields}, nil
}

func (s *exportStats) add(r client.Record) {
	s.records++
	s.perRegion[r.Region]++
	if r.Access == nil {
		return
	}
	if r.Access.Rule == "denied" {
		s.denied++
	}
	for f := range r.Fields {
		if r.Access.Fields[f] == clearAccess {
			s.clear++
		} else {
			s.masked++
		}
	}
	s.refused += len(r.Access.Refused)
}

// print writes the one-line summary: counts only, never a value.
func (s *exportStats) print(w io.Writer, collection string) {
	regions := make([]string, 0, len(s.perRegion))
	for r := range s.perRegion {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	per := make([]string, len(regions))
	for i, r := range regions {
		per[i] = fmt.Sprintf("%s %d", r, s.perRegion[r])
	}
	where := ""
	if len(per) > 0 {
		where = " (" + strings.Join(per, ", ") + ")"
	}
	fmt.Fprintf(w, "exported %d records of %s%s; fields: %d clear, %d masked, %d refused", s.records, collection, where, s.clear, s.masked, s.refused)
	if s.denied > 0 {
		fmt.Fprintf(w, "; %d records denied", s.denied)
	}
	fmt.Fprintln(w)
}
