package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/domicile/domicile/client"
)

const importExamples = `  domicile records import customers.jsonl
  domicile records import crm.csv --collection customers --map subject=customer_id --map jurisdiction=country \
      --map name=full_name --map email=mail --rejects crm.rejects.jsonl

A JSONL line is one record: {"collection":"customers","subject":"c1","jurisdiction":"DE","fields":{"name":"Anna"}}.
A CSV file has a header row; --map FIELD=COLUMN names the column of a field
(and of subject and jurisdiction); columns not mapped are fields of the same
name, and a column named subject or jurisdiction is that.

Records are sent in batches of one jurisdiction each (so one region), in file
order, each with an idempotency key made from its line numbers and content:
rerunning the same file after a crash creates nothing twice. A line the
server refuses (an unknown field, a bad value, an unknown jurisdiction) goes
to the rejects file with its line number and reason, never its content, and
the rest of its batch is stored.`

// maxImportBatch is the largest batch, the API's limit.
const maxImportBatch = 1000

// importLine is one record of the file and where it came from.
type importLine struct {
	n   int // line number in the file (1-based; a CSV's header is line 1)
	rec client.NewRecord
}

// rejection is a line that was not stored, and why; never its content.
type rejection struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

func runRecordsImport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records import", "domicile records import FILE [--format jsonl|csv] [--collection NAME] [--map FIELD=COLUMN]... [--batch N] [--rejects FILE]", importExamples)
	af := addAPIFlags(fs)
	format := fs.String("format", "", "the file's `FORMAT`: jsonl or csv (default: from the file name)")
	collection := fs.String("collection", "", "the collection of a CSV file's records (or of JSONL lines that name none)")
	mapping := &pairsFlag{name: "map"}
	fs.Var(mapping, "map", "a CSV column: `FIELD=COLUMN`, such as name=full_name or subject=customer_id (repeat)")
	batch := fs.Int("batch", 500, "records per request, `N` from 1 to 1000")
	rejectsFile := fs.String("rejects", "", "write the refused lines' numbers and reasons to `FILE` (default: FILE.rejects.jsonl)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := mapping.check(fs); err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "FILE"); err != nil {
		return err
	}
	file := pos[0]
	if *format == "" {
		*format = "jsonl"
		if strings.HasSuffix(strings.ToLower(file), ".csv") {
			*format = "csv"
		}
	}
	if err := formatFlag(fs, *format, "jsonl", "csv"); err != nil {
		return err
	}
	if *batch < 1 || *batch > maxImportBatch {
		return usageErrorf("records import: --batch %d is out of range", *batch).withHint("--batch is 1 to 1000")
	}
	if *format == "csv" && *collection == "" {
		return usageErrorf("records import: a CSV file needs --collection").withHint("such as --collection customers")
	}
	if *rejectsFile == "" {
		*rejectsFile = file + ".rejects.jsonl"
	}
	f, err := os.Open(file)
	if err != nil {
		return withHint(fmt.Errorf("records import: %s: %v", file, osCause(err)), "check the file name")
	}
	defer f.Close()
	var lines []importLine
	var rejects []rejection
	if *format == "csv" {
		lines, rejects, err = readCSV(f, *collection, mapping.pairs)
	} else {
		lines, rejects, err = readJSONL(f, *collection)
	}
	if err != nil {
		return withHint(fmt.Errorf("records import: %s: %w", file, err), "fix the file and run the same command again: what was stored is not stored twice")
	}
	c, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	im := &importer{c: c, batch: *batch, prog: newProgress(e, "importing"), total: len(lines)}
	err = im.run(ctx, lines)
	im.prog.done()
	rejects = append(rejects, im.rejects...)
	slices.SortFunc(rejects, func(a, b rejection) int { return a.Line - b.Line })
	if werr := writeRejects(*rejectsFile, rejects); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return withHint(fmt.Errorf("records import: stopped after %d of %d records: %w", im.stored+im.replayed, len(lines), err),
			"run the same command again once the cause is fixed: batches already stored are answered from their idempotency keys, nothing is stored twice")
	}
	fmt.Fprintf(e.stdout, "imported %s: %d records stored, %d stored already by an earlier run, in %d requests; %d lines refused",
		file, im.stored, im.replayed, im.requests, len(rejects))
	if len(rejects) > 0 {
		fmt.Fprintf(e.stdout, " (line numbers and reasons in %s)", *rejectsFile)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// readJSONL reads one record per line; a line that is no record is
// refused, with its number.
func readJSONL(r io.Reader, collection string) ([]importLine, []rejection, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []importLine
	var rej []rejection
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		var rec client.NewRecord
		if err := dec.Decode(&rec); err != nil {
			rej = append(rej, rejection{Line: n, Code: "malformed_json", Reason: "not a record object: " + jsonReason(err)})
			continue
		}
		if rec.Collection == "" {
			rec.Collection = collection
		}
		if why := missing(rec); why != "" {
			rej = append(rej, rejection{Line: n, Code: "missing_field", Reason: why})
			continue
		}
		out = append(out, importLine{n: n, rec: rec})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	return out, rej, nil
}

// jsonReason describes a JSON error without quoting the line's values.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "invalid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		return "a wrong type for " + typ.Field
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "invalid JSON"
}

// readCSV reads a CSV file with a header row; mapping names the column of
// each field (and of subject and jurisdiction).
func readCSV(r io.Reader, collection string, mapping map[string]string) ([]importLine, []rejection, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("no header row: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	// field -> column index; subject and jurisdiction are fields here.
	fields := map[string]int{}
	mapped := map[int]bool{}
	for field, column := range mapping {
		i, ok := col[column]
		if !ok {
			return nil, nil, fmt.Errorf("--map %s=%s: the header has no column %q", field, column, column)
		}
		fields[field], mapped[i] = i, true
	}
	for name, i := range col {
		if _, ok := fields[name]; !ok && !mapped[i] {
			fields[name] = i
		}
	}
	for _, need := range []string{"subject", "jurisdiction"} {
		if _, ok := fields[need]; !ok {
			return nil, nil, fmt.Errorf("no %s column: name one with --map %s=COLUMN", need, need)
		}
	}
	var out []importLine
	var rej []rejection
	for n := 2; ; n++ {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rej = append(rej, rejection{Line: pe.Line, Code: "malformed_csv", Reason: pe.Err.Error()})
				continue
			}
			return nil, nil, err
		}
		if len(row) != len(header) {
			rej = append(rej, rejection{Line: n, Code: "malformed_csv", Reason: fmt.Sprintf("%d columns, the header has %d", len(row), len(header))})
			continue
		}
		rec := client.NewRecord{Collection: collection, Fields: map[string]string{}}
		for field, i := range fields {
			switch v := row[i]; field {
			case "subject":
				rec.Subject = v
			case "jurisdiction":
				rec.Jurisdiction = v
			default:
				if v != "" {
					rec.Fields[field] = v
				}
			}
		}
		if why := missing(rec); why != "" {
			rej = append(rej, rejection{Line: n, Code: "missing_field", Reason: why})
			continue
		}
		out = append(out, importLine{n: n, rec: rec})
	}
	return out, rej, nil
}

// missing says what a record lacks, or "".
func missing(r client.NewRecord) string {
	switch {
	case r.Collection == "":
		return "no collection (give --collection, or collection in the line)"
	case r.Subject == "":
		return "no subject"
	case r.Jurisdiction == "":
		return "no jurisdiction"
	}
	return ""
}

// importer sends the lines in batches of one jurisdiction each.
type importer struct {
	c        *apiConn
	batch    int
	prog     *progress
	total    int
	done     int
	stored   int // created by this run
	replayed int // stored by an earlier run of the same file
	requests int
	rejects  []rejection
}

// run batches lines by jurisdiction in file order: a batch goes when it
// is full, the rest at the end in jurisdiction order, so that the same
// file always makes the same batches.
func (im *importer) run(ctx context.Context, lines []importLine) error {
	open := map[string][]importLine{}
	for _, l := range lines {
		j := strings.ToUpper(l.rec.Jurisdiction)
		open[j] = append(open[j], l)
		if len(open[j]) == im.batch {
			if err := im.send(ctx, open[j]); err != nil {
				return err
			}
			delete(open, j)
		}
	}
	keys := make([]string, 0, len(open))
	for j := range open {
		keys = append(keys, j)
	}
	slices.Sort(keys)
	for _, j := range keys {
		if err := im.send(ctx, open[j]); err != nil {
			return err
		}
	}
	return nil
}

// send stores one batch. A record the server refuses (its problem names
// the record's index) is set aside with the reason, and the rest is sent
// again, under the key of what is left.
func (im *importer) send(ctx context.Context, b []importLine) error {
	for len(b) > 0 {
		recs := make([]client.NewRecord, len(b))
		for i := range b {
			recs[i] = b[i].rec
		}
		im.requests++
		out, err := im.c.c.Create(ctx, recs, batchKey(b))
		var ce *client.Error
		if errors.As(err, &ce) && ce.Problem.Index != nil && *ce.Problem.Index >= 0 && *ce.Problem.Index < len(b) && ce.Problem.Status < 500 {
			i := *ce.Problem.Index
			reason := ce.Problem.Detail
			if ce.Problem.Field != "" && !strings.Contains(reason, ce.Problem.Field) {
				reason += " (field " + ce.Problem.Field + ")"
			}
			im.rejects = append(im.rejects, rejection{Line: b[i].n, Code: ce.Problem.Code, Reason: reason})
			b = slices.Delete(slices.Clone(b), i, i+1)
			im.done++
			im.prog.update(im.done, im.total)
			continue
		}
		if err != nil {
			return im.c.failed(ctx, "", err)
		}
		if out.Replayed {
			im.replayed += len(b)
		} else {
			im.stored += len(b)
		}
		im.done += len(b)
		im.prog.update(im.done, im.total)
		return nil
	}
	return nil
}

// batchKey is a batch's idempotency key: a hash of its lines' numbers and
// records, so that a rerun of the same file sends the same keys.
func batchKey(b []importLine) string {
	h := sha256.New()
	for _, l := range b {
		fmt.Fprintf(h, "%d\n", l.n)
		j, _ := json.Marshal(l.rec) // a NewRecord always marshals
		h.Write(j)
		h.Write([]byte{'\n'})
	}
	return "import-" + hex.EncodeToString(h.Sum(nil)[:24])
}

// writeRejects writes the refused lines, or removes a rejects file of an
// earlier run when none was refused.
func writeRejects(path string, rej []rejection) error {
	if len(rej) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %v", path, osCause(err))
		}
		return nil
	}
	var sb strings.Builder
	for _, r := range rej {
		j, _ := json.Marshal(r) // strings and an int
		sb.Write(j)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %v", path, osCause(err))
	}
	return nil
}
