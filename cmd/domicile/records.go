package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/domicile/domicile/client"
)

// `domicile records SUBCOMMAND`: the records API from the shell, through the
// public client package. Field values are personal data: errors name
// fields, never their values.

// apiCommand is one subcommand of `domicile records` or `domicile keys`.
type apiCommand struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func recordsCommands() []apiCommand {
	return []apiCommand{
		{"put", "create records (one from flags, or a batch from JSON)", runRecordsPut},
		{"get", "show a record", runRecordsGet},
		{"find", "find records by an indexed field's value", runRecordsFind},
		{"list-subject", "list a data subject's records", runRecordsListSubject},
		{"patch", "set and remove fields of a record", runRecordsPatch},
		{"delete", "delete a record", runRecordsDelete},
		{"erase-subject", "erase a data subject everywhere (crypto-shredding)", runRecordsEraseSubject},
		{"import", "store the records of a JSONL or CSV file, in batches; a rerun stores nothing twice", runRecordsImport},
		{"export", "write a collection's records as JSONL, as your read decision shows them", runRecordsExport},
	}
}

const recordsExamples = `  export DOMICILE_TOKEN=$(cat data/admin.token)
  domicile records put --collection customers --jurisdiction CN --subject cust-8841 \
      --field name=王伟 --field email=wang.wei@example.cn
  domicile records get rec_cn-north_...
  domicile records find --collection customers --field email --value wang.wei@example.cn
  domicile records erase-subject cust-8841`

// runRecords dispatches `domicile records SUBCOMMAND [flags]`.
func runRecords(ctx context.Context, e *env, args []string) error {
	return dispatchAPI(ctx, e, "records", recordsCommands(), recordsExamples, args)
}

// dispatchAPI runs the subcommand of group named by args[0].
func dispatchAPI(ctx context.Context, e *env, group string, cmds []apiCommand, examples string, args []string) error {
	if len(args) == 0 {
		return usageErrorf("%s: missing subcommand", group).withHint(fmt.Sprintf("run 'domicile %s --help' for the subcommands", group))
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		printAPIUsage(e.stdout, group, cmds, examples)
		return &exitError{code: 0, silent: true}
	}
	var names []string
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
		names = append(names, c.name)
	}
	return usageErrorf("%s: unknown subcommand %q", group, args[0]).
		withHint(fmt.Sprintf("the subcommands are %s; run 'domicile %s --help'", strings.Join(names, ", "), group))
}

func printAPIUsage(w io.Writer, group string, cmds []apiCommand, examples string) {
	fmt.Fprintf(w, "Usage: domicile %s SUBCOMMAND [flags]\n\n", group)
	fmt.Fprintln(w, "Subcommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The API is at --addr or $DOMICILE_ADDR (default "+client.DefaultAddress+"); the bearer")
	fmt.Fprintln(w, "token is read from --token-file or $DOMICILE_TOKEN.")
	fmt.Fprintf(w, "\nExamples:\n%s\n\n", examples)
	fmt.Fprintf(w, "Run 'domicile %s SUBCOMMAND --help' for a subcommand's flags and examples.\n", group)
}

func runRecordsPut(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records put",
		"domicile records put --collection NAME --jurisdiction CC --subject ID --field KEY=VALUE... [flags]\n"+
			"       domicile records put --json FILE|- [flags]",
		`  domicile records put --collection customers --jurisdiction CN --subject cust-8841 \
      --field name=王伟 --field email=wang.wei@example.cn
  domicile records put --collection customers --jurisdiction DE --subject cust-17 \
      --field name="Anna Schmidt" --idempotency-key signup-cust-17
  domicile records put --json batch.json
  echo '{"records":[{"collection":"customers","subject":"c1","jurisdiction":"US","fields":{"name":"Ann"}}]}' |
      domicile records put --json -

Prints one line per created record: its id and its region.`)
	af := addAPIFlags(fs)
	collection := fs.String("collection", "", "the `NAME` of the record's collection, such as customers")
	jurisdiction := fs.String("jurisdiction", "", "the subject's country, as an ISO 3166-1 alpha-2 code `CC` such as CN; it decides the region")
	subject := fs.String("subject", "", "the data subject's `ID` (such as your customer id)")
	fields := &pairsFlag{name: "field"}
	fs.Var(fields, "field", "a field of the record, as `KEY=VALUE`; repeat it for each field")
	jsonFile := fs.String("json", "", "create the records of a CreateRequest in `FILE` (- for stdin): {\"records\":[...]}; one batch lives in one region")
	idem := fs.String("idempotency-key", "", "make retries safe: a repeated `KEY` gets the first request's answer")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := fields.check(fs); err != nil {
		return err
	}

	var recs []client.NewRecord
	if *jsonFile != "" {
		for _, name := range []string{"collection", "jurisdiction", "subject", "field"} {
			if flagGiven(fs, name) {
				return usageErrorf("records put: --json and --%s exclude each other", name).
					withHint("put the records' fields in the JSON file, or leave out --json")
			}
		}
		if recs, err = readCreateRequest(e, *jsonFile); err != nil {
			return err
		}
	} else {
		const hint = "run 'domicile records put --collection customers --jurisdiction CN --subject ID --field name=VALUE'"
		if err := needFlag(fs, "collection", *collection, hint); err != nil {
			return err
		}
		if err := needFlag(fs, "jurisdiction", *jurisdiction, "--jurisdiction is the subject's country, such as CN, DE or US"); err != nil {
			return err
		}
		if err := needFlag(fs, "subject", *subject, "--subject is the data subject's id, such as your customer id"); err != nil {
			return err
		}
		if len(fields.keys) == 0 {
			return usageErrorf("records put: no --field given").withHint("give each field as --field KEY=VALUE, such as --field name=王伟")
		}
		recs = []client.NewRecord{{Collection: *collection, Subject: *subject, Jurisdiction: *jurisdiction, Fields: fields.pairs}}
	}

	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	out, err := conn.c.Create(ctx, recs, *idem)
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	// One line per record: its id and region, then field=token for each
	// field the policy tokenizes (the tokens global systems keep).
	for _, r := range out.Records {
		line := r.ID + " " + r.Region
		for _, t := range r.Tokens {
			line += " " + t.Field + "=" + t.Token
		}
		fmt.Fprintln(e.stdout, line)
	}
	if out.Replayed {
		fmt.Fprintln(e.stderr, "note: the idempotency key matched an earlier request; these are the records it created")
	}
	return nil
}

// readCreateRequest reads the records of a CreateRequest from name, or from
// stdin if name is "-".
func readCreateRequest(e *env, name string) ([]client.NewRecord, error) {
	const hint = `the file holds {"records":[{"collection":"customers","subject":"ID","jurisdiction":"CN","fields":{"name":"..."}}]}`
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("records put: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		name = "stdin"
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req client.CreateRequest
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("no JSON document")
		}
		return nil, withHint(fmt.Errorf("records put: reading %s: %w", name, err), hint)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, withHint(fmt.Errorf("records put: reading %s: more than one JSON document", name), hint)
	}
	if len(req.Records) == 0 {
		return nil, withHint(fmt.Errorf("records put: %s holds no records", name), hint)
	}
	return req.Records, nil
}

// flagGiven reports whether the flag called name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}

// recordFormat adds --format for one record: json (the default) or table.
func recordFormat(fs *flag.FlagSet) *string {
	return fs.String("format", "json", "output `FORMAT`: json or table")
}

// printRecord prints a record in format.
func printRecord(e *env, format string, r *client.Record) error {
	if format == "table" {
		printRecordTable(e.stdout, r)
		return nil
	}
	return printIndentedJSON(e.stdout, r)
}

func runRecordsGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records get", "domicile records get ID [--format json|table] [flags]",
		`  domicile records get rec_cn-north_...
  domicile records get rec_cn-north_... --format table`)
	af := addAPIFlags(fs)
	format := recordFormat(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "ID"); err != nil {
		return err
	}
	if err := formatFlag(fs, *format, "json", "table"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	rec, err := conn.c.Get(ctx, pos[0])
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	return printRecord(e, *format, rec)
}

// pageFlags are the flags of the listing subcommands.
type pageFlags struct {
	limit  int
	cursor string
	all    bool
	format string
}

func addPageFlags(fs *flag.FlagSet) *pageFlags {
	p := &pageFlags{}
	fs.IntVar(&p.limit, "limit", 0, "at most `N` records per page (default: the server's page size)")
	fs.StringVar(&p.cursor, "cursor", "", "start at the page of `CURSOR` (the next_cursor of an earlier page)")
	fs.BoolVar(&p.all, "all", false, "follow next_cursor to the last page")
	fs.StringVar(&p.format, "format", "lines", "output `FORMAT`: lines (id, region, jurisdiction, fields) or json (a page)")
	return p
}

func (p *pageFlags) check(fs *flag.FlagSet) error {
	if p.limit < 0 {
		return usageErrorf("%s: --limit must be positive", fs.Name()).withHint("leave out --limit for the server's page size")
	}
	return formatFlag(fs, p.format, "lines", "json")
}

// list prints the records of the page at p.cursor, and of the pages after
// it with --all.
func (p *pageFlags) list(ctx context.Context, e *env, conn *apiConn, fetch func(cursor string) (*client.Page, error)) error {
	all := client.Page{Records: []client.Record{}}
	cursor := p.cursor
	n := 0
	for {
		page, err := fetch(cursor)
		if err != nil {
			return conn.failed(ctx, "", err)
		}
		n += len(page.Records)
		if p.format == "json" {
			all.Records = append(all.Records, page.Records...)
		} else {
			for i := range page.Records {
				printRecordLine(e.stdout, &page.Records[i])
			}
		}
		if page.Next == "" {
			all.Next = ""
			break
		}
		if page.Next == cursor {
			return fmt.Errorf("the server answered with the same cursor twice; %d records listed", n)
		}
		cursor, all.Next = page.Next, page.Next
		if !p.all {
			break
		}
	}
	if p.format == "json" {
		return printIndentedJSON(e.stdout, all)
	}
	if all.Next != "" {
		fmt.Fprintf(e.stderr, "note: there are more records; add --all, or --cursor %s for the next page\n", all.Next)
	} else if n == 0 && e.isTerminal {
		fmt.Fprintln(e.stderr, "no records")
	}
	return nil
}

func runRecordsFind(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records find",
		"domicile records find --collection NAME --field FIELD --value VALUE [--jurisdiction CC] [--limit N] [--all] [flags]",
		`  domicile records find --collection customers --field email --value wang.wei@example.cn
  domicile records find --collection customers --field phone --value +8613812345678 --jurisdiction CN
  domicile records find --collection customers --field name --value "Anna Schmidt" --all --format json

Only fields the policy marks index: true can be searched. Prints one line per
record: id, region, jurisdiction, then KEY=VALUE for each field.`)
	af := addAPIFlags(fs)
	collection := fs.String("collection", "", "search the collection `NAME`, such as customers")
	field := fs.String("field", "", "the indexed `FIELD` to match, such as email")
	value := fs.String("value", "", "the `VALUE` the field must have (sent in the request body, not the URL)")
	jurisdiction := fs.String("jurisdiction", "", "search only the region of the country `CC`")
	pf := addPageFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos); err != nil {
		return err
	}
	if err := needFlag(fs, "collection", *collection, "run 'domicile records find --collection customers --field email --value VALUE'"); err != nil {
		return err
	}
	if err := needFlag(fs, "field", *field, "--field is an indexed field of the collection, such as email"); err != nil {
		return err
	}
	if !flagGiven(fs, "value") {
		return usageErrorf("records find: --value is required").withHint("--value is the value the field must have")
	}
	if err := pf.check(fs); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	return pf.list(ctx, e, conn, func(cursor string) (*client.Page, error) {
		return conn.c.Search(ctx, *collection, client.SearchRequest{
			Field: *field, Value: *value, Jurisdiction: *jurisdiction, Cursor: cursor, Limit: pf.limit,
		})
	})
}

func runRecordsListSubject(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records list-subject", "domicile records list-subject SUBJECT [--limit N] [--all] [flags]",
		`  domicile records list-subject cust-8841
  domicile records list-subject cust-8841 --all --format json

Lists the subject's records in every region: one line per record with its id,
region, jurisdiction, then KEY=VALUE for each field.`)
	af := addAPIFlags(fs)
	pf := addPageFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "SUBJECT"); err != nil {
		return err
	}
	if err := pf.check(fs); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	return pf.list(ctx, e, conn, func(cursor string) (*client.Page, error) {
		return conn.c.ListSubject(ctx, pos[0], cursor, pf.limit)
	})
}

func runRecordsPatch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records patch", "domicile records patch ID [--set KEY=VALUE]... [--remove KEY]... [flags]",
		`  domicile records patch rec_cn-north_... --set email=wei.wang@example.cn
  domicile records patch rec_cn-north_... --set phone=+8613812345678 --remove address --format table

Prints the record as it is afterwards.`)
	af := addAPIFlags(fs)
	set := &pairsFlag{name: "set"}
	fs.Var(set, "set", "set a field, as `KEY=VALUE`; repeatable")
	var remove stringsFlag
	fs.Var(&remove, "remove", "remove the field `KEY`; repeatable")
	format := recordFormat(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "ID"); err != nil {
		return err
	}
	if err := set.check(fs); err != nil {
		return err
	}
	if len(set.keys) == 0 && len(remove) == 0 {
		return usageErrorf("records patch: nothing to change").withHint("give --set KEY=VALUE or --remove KEY")
	}
	for _, k := range remove {
		if _, ok := set.pairs[k]; ok {
			return usageErrorf("records patch: field %q is both set and removed", k).withHint("give each field to --set or to --remove, not both")
		}
	}
	if err := formatFlag(fs, *format, "json", "table"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	rec, err := conn.c.Patch(ctx, pos[0], client.PatchRequest{Set: set.pairs, Remove: remove})
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	return printRecord(e, *format, rec)
}

func runRecordsDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records delete", "domicile records delete ID [flags]",
		`  domicile records delete rec_cn-north_...

To erase everything of a data subject, use 'domicile records erase-subject'.`)
	af := addAPIFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "ID"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	if err := conn.c.Delete(ctx, pos[0]); err != nil {
		return conn.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", pos[0])
	return nil
}

func runRecordsEraseSubject(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "records erase-subject", "domicile records erase-subject SUBJECT [--yes] [flags]",
		`  domicile records erase-subject cust-8841
  domicile records erase-subject cust-8841 --yes

Erases the subject in every region by destroying their keys (crypto-shredding):
their records, and every copy of them in backups, become unreadable. This
cannot be undone. On a terminal it asks first; scripts must pass --yes.`)
	af := addAPIFlags(fs)
	yes := fs.Bool("yes", false, "erase without asking")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, "SUBJECT"); err != nil {
		return err
	}
	subject := pos[0]
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	if !*yes {
		if !e.isTerminal {
			return usageErrorf("records erase-subject: not erasing without --yes: erasure cannot be undone").
				withHint("pass --yes to erase from a script")
		}
		fmt.Fprintf(e.stderr, "Erase every record of subject %q in every region? This cannot be undone. [y/N] ", subject)
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("records erase-subject: reading the answer: %w", err)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
		default:
			return errors.New("records erase-subject: not confirmed; nothing was erased")
		}
	}
	out, err := conn.c.EraseSubject(ctx, subject)
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	var per []string
	for _, r := range sortedMapKeys(out.Regions) {
		per = append(per, fmt.Sprintf("%s %d", r, out.Regions[r]))
	}
	noun := "records"
	if out.Erased == 1 {
		noun = "record"
	}
	if len(per) > 0 {
		fmt.Fprintf(e.stdout, "erased %d %s of subject %s (%s)\n", out.Erased, noun, subject, strings.Join(per, ", "))
	} else {
		fmt.Fprintf(e.stdout, "erased %d %s of subject %s\n", out.Erased, noun, subject)
	}
	return nil
}
