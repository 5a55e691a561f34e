package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/suite"
)

const auditExamples = `  domicile audit keys --region cn-north --pem > cn-north-audit.pem
  domicile audit checkpoint --region cn-north > cn-north.checkpoint
  domicile audit verify --region cn-north --pubkey cn-north-audit.pem --checkpoint cn-north.checkpoint
  domicile audit entries --region cn-north --principal agent-7 --since 24h
  domicile audit export --region cn-north > cn-north.jsonl
  domicile audit verify --region cn-north --export cn-north.jsonl --pubkey cn-north-audit.pem
  domicile audit verify --region cn-north --data data/regions/cn-north --pubkey cn-north-audit.pem`

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, `Usage: domicile audit verify|export|entries|keys|checkpoint|pubkey [flags]

Every region keeps a tamper-evident audit log: a Merkle tree over its entries,
hashed with the region's suite hash, with checkpoints signed by the region's
audit key. verify fetches a running region's log over the API (or reads an
export, or with --data/--store a stopped node's store) and recomputes every
root and signature on this machine, with the audit keys you kept ('audit keys
--pem') and, with --checkpoint, against checkpoints you kept: a log cut short
or rewritten since fails. export writes the same log as JSON lines; entries
lists and filters entries; keys shows every audit key and what it signed.

Examples:
%s
`, auditExamples)
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
	case "entries":
		return auditEntries(ctx, e, args[1:])
	case "keys":
		return auditKeys(ctx, e, args[1:])
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

// apiSuite returns the region's suite from the policy file when it names
// the region, else from the API's list of regions (a suite is no secret:
// a wrong one fails verification on the checkpoints' "alg" line).
func apiSuite(ctx context.Context, c *apiConn, policyFile, region string) (suite.Suite, error) {
	if s, err := regionSuite(policyFile, region); err == nil || policyFile != "" {
		return s, err
	}
	rs, err := c.c.Regions(ctx)
	if err != nil {
		return suite.Suite{}, c.failed(ctx, "", err)
	}
	for _, r := range rs.Regions {
		if r.Name == region {
			return suite.ByID(suite.ID(r.Suite))
		}
	}
	return suite.Suite{}, usageErrorf("audit: no region %q behind %s", region, c.addr).withHint("'domicile keys status' lists the regions")
}

// readKeys reads every PEM PUBLIC KEY block of file: a region's audit keys,
// as 'domicile audit keys --pem' or 'domicile audit pubkey' writes them, all
// of scheme sig.
func readKeys(file, region string, sig suite.Signature) ([]crypto.PublicKey, error) {
	keys, err := pemKeys(file, region, sig, func(der []byte) (checkpoint.Key, error) {
		pub, err := sig.ParsePublicKey(der)
		return checkpoint.Key{Public: pub, Sig: sig}, err
	})
	out := make([]crypto.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.Public
	}
	return out, err
}

// readAuditKeys is readKeys for verifying the audit log, whose keys may be
// of two schemes (a region that migrated suite): each comes with its own.
func readAuditKeys(file, region string, sig suite.Signature) ([]checkpoint.Key, error) {
	return pemKeys(file, region, sig, func(der []byte) (checkpoint.Key, error) { return parseAuditKey(der, sig) })
}

func pemKeys(file, region string, sig suite.Signature, parse func(der []byte) (checkpoint.Key, error)) ([]checkpoint.Key, error) {
	hint := "fetch the keys with: domicile audit keys --region " + region + " --pem > " + region + "-keys.pem, and pass that file"
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(err, hint)
	}
	var keys []checkpoint.Key
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := parse(blk.Bytes)
		if err != nil {
			return nil, withHint(fmt.Errorf("%s: key %d: %w", file, n, err), "the keys must be the region's audit keys, for its suite's signature ("+sig.ID()+")")
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, withHint(fmt.Errorf("%s holds no PEM public key", file), hint)
	}
	return keys, nil
}

// readCheckpoints reads one or more signed checkpoints from file, one after
// the other as 'domicile audit checkpoint' or a file witness writes them.
func readCheckpoints(file string) ([][]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, withHint(err, "keep a checkpoint with: domicile audit checkpoint --region R > "+file)
	}
	var out [][]byte
	var cur []byte
	inSigs := false
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		sigLine := bytes.HasPrefix(line, []byte("— "))
		if inSigs && !sigLine {
			out, cur, inSigs = append(out, cur), nil, false
		}
		if string(line) == "\n" && !inSigs {
			inSigs = true
		}
		cur = append(cur, line...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	hint := "keep a checkpoint with: domicile audit checkpoint --region R > " + file
	if len(out) == 0 {
		return nil, withHint(fmt.Errorf("%s holds no checkpoint", file), hint)
	}
	for i, cp := range out {
		if _, err := checkpoint.Parse(cp); err != nil {
			if len(out) == 1 {
				return nil, withHint(fmt.Errorf("%s holds no checkpoint: %w", file, err), hint)
			}
			return nil, withHint(fmt.Errorf("%s: checkpoint %d: %w", file, i+1, err), hint)
		}
	}
	return out, nil
}

func auditVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit verify", "domicile audit verify --region NAME [--data DIR | --store URL | --export FILE] [--pubkey FILE] [--checkpoint FILE] [--witness KEY]", auditExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region whose log it is (required)")
	data := fs.String("data", "", "read a stopped node's store directory, such as data/regions/cn-north")
	storeURL := fs.String("store", "", "read the region's postgres:// database")
	export := fs.String("export", "", "read an export made by 'domicile audit export'")
	pubFile := fs.String("pubkey", "", "the region's audit public keys, PEM (from 'domicile audit keys --pem'); required with --data, --store, --export")
	cpFile := fs.String("checkpoint", "", "checkpoints you kept (from 'domicile audit checkpoint'); the log must extend each")
	var witnesses []checkpoint.WitnessKey
	fs.Func("witness", "require cosignatures by the witness with this verifier `KEY` (name+hash+base64, from 'domicile witness keygen'; repeatable)", func(v string) error {
		k, err := checkpoint.ParseWitnessKey(v)
		if err != nil {
			return err
		}
		witnesses = append(witnesses, k)
		return nil
	})
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
	if *region == "" || n > 1 || (n == 1 && *pubFile == "") {
		return usageErrorf("audit verify: give --region, and at most one of --data, --store, --export (with --pubkey); without them it asks the API").withHint("run 'domicile audit --help' for examples")
	}
	var kept [][]byte
	if *cpFile != "" {
		var err error
		if kept, err = readCheckpoints(*cpFile); err != nil {
			return err
		}
	}
	var (
		s    suite.Suite
		keys []checkpoint.Key
		c    *apiConn
		err  error
	)
	if n == 0 {
		if c, err = af.connect(e, "audit verify"); err != nil {
			return err
		}
		s, err = apiSuite(ctx, c, *pol, *region)
	} else {
		s, err = regionSuite(*pol, *region)
	}
	if err != nil {
		return err
	}
	// The keys and kept checkpoints are checked before the log is read.
	if *pubFile != "" {
		if keys, err = readAuditKeys(*pubFile, *region, s.Signature()); err != nil {
			return err
		}
	}
	var (
		r    audit.Reader
		from string
	)
	switch {
	case n == 0:
		if *pubFile == "" {
			if keys, err = servedKeys(ctx, c, *region, s.Signature()); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "note: verifying with the %s the region serves; to verify without trusting it, keep them once (domicile audit keys --region %s --pem > keys.pem) and pass --pubkey keys.pem\n",
				plural(len(keys), "audit key"), *region)
		}
		rc, err := c.c.AuditExport(ctx, *region)
		if err != nil {
			return c.failed(ctx, "", err)
		}
		defer rc.Close()
		r, from = audit.NewExportReader(rc), "fetched from "+c.addr+", recomputed here"
	case *export != "":
		f, err := os.Open(*export)
		if err != nil {
			return withHint(err, "check the path")
		}
		defer f.Close()
		r, from = audit.NewExportReader(f), "export "+*export
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
			return withHint(err, "stop the region's node first (it holds the store), or verify the running region: domicile audit verify --region "+*region)
		}
		defer st.Close()
		r, from = audit.StoreReader(st, s.Hash()), "store"
	}
	ks, err := checkpoint.NewKeySetOf(s.Hash(), keys...)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	progress := newProgress(e, "verifying")
	rep, err := audit.Verify(ctx, r, audit.VerifyOptions{Keys: ks, Kept: kept, Witnesses: witnesses, Progress: progress.update})
	progress.done()
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return &exitError{code: 1, err: fmt.Errorf("audit log of %s does not verify: %s", *region, ve.Error())}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: %s: %s (%d void, %d aborted), %s, signed through entry %d, root %s (%s; %s)\n",
		rep.Origin, plural(int(rep.Entries), "entry"), rep.Actions[entry.Void], rep.Aborted-rep.Actions[entry.Void],
		plural(rep.Checkpoints, "checkpoint"), rep.Signed, hex.EncodeToString(rep.Root), s.Hash().ID(), from)
	for _, k := range rep.Keys {
		line := fmt.Sprintf("key %x: ", k.KeyHash)
		if k.Checkpoints > 0 {
			line += "signed " + sizeRange(k.Checkpoints, k.First, k.Last)
		} else {
			line += "signed no stored checkpoint"
		}
		if k.Introduced >= 0 {
			line += fmt.Sprintf("; introduced by entry %d", k.Introduced)
		}
		fmt.Fprintln(e.stdout, line)
	}
	for _, w := range rep.Witnessed {
		fmt.Fprintf(e.stdout, "witness %s: cosigned through size %d of %d (at %s)\n", w.Name, w.Size, rep.Entries, w.Time.Format(time.RFC3339))
	}
	switch len(rep.Kept) {
	case 0:
	case 1:
		fmt.Fprintf(e.stdout, "kept: the log extends the checkpoint you kept (size %d)\n", rep.Kept[0])
	default:
		fmt.Fprintf(e.stdout, "kept: the log extends the %d checkpoints you kept (sizes %s)\n", len(rep.Kept), joinSizes(rep.Kept))
	}
	if rep.Reserved >= 0 {
		fmt.Fprintf(e.stdout, "pending: index %d was reserved by a node that stopped before writing it (not a deletion: no tree or checkpoint covered it); %s after it wait until a running node of %s records it as void, within seconds of starting\n",
			rep.Reserved, plural(rep.Waiting, "entry"), *region)
	}
	return nil
}

// sizeRange says which checkpoints a key signed.
func sizeRange(n int, first, last uint64) string {
	if n == 1 {
		return fmt.Sprintf("1 checkpoint, size %d", first)
	}
	return fmt.Sprintf("%d checkpoints, sizes %d..%d", n, first, last)
}

// servedKeys returns the audit keys the region serves.
func servedKeys(ctx context.Context, c *apiConn, region string, sig suite.Signature) ([]checkpoint.Key, error) {
	hist, err := c.c.AuditKeys(ctx, region)
	if err != nil {
		return nil, c.failed(ctx, "", err)
	}
	var keys []checkpoint.Key
	for _, k := range hist.Keys {
		key, err := checkpoint.KeyFromPEM([]byte(k.PublicKey), k.Algorithm, sig) // each version of its own scheme
		if err != nil {
			return nil, fmt.Errorf("audit verify: the region's key v%d: %w", k.Version, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// parseAuditKey parses an audit public key of scheme sig or, for a region
// that migrated suite, of the other suites' schemes (their key types
// differ, so one at most fits).
func parseAuditKey(der []byte, sig suite.Signature) (checkpoint.Key, error) {
	pub, err := sig.ParsePublicKey(der)
	if err == nil {
		return checkpoint.Key{Public: pub, Sig: sig}, nil
	}
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		if other := s.Signature(); other.ID() != sig.ID() {
			if pub, oerr := other.ParsePublicKey(der); oerr == nil {
				return checkpoint.Key{Public: pub, Sig: other}, nil
			}
		}
	}
	return checkpoint.Key{}, err
}

func joinSizes(sizes []uint64) string {
	var b strings.Builder
	for i, n := range sizes {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 8 {
			fmt.Fprintf(&b, "and %d more", len(sizes)-i)
			break
		}
		b.WriteString(strconv.FormatUint(n, 10))
	}
	return b.String()
}

func auditExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit export", "domicile audit export --region NAME [--data DIR | --store URL]", auditExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region whose log it is (required)")
	data := fs.String("data", "", "read a stopped node's store directory instead of the API")
	storeURL := fs.String("store", "", "read the region's postgres:// database instead of the API")
	pol := fs.String("policy", "", "policy file (default: the built-in example)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" || (*data != "" && *storeURL != "") {
		return usageErrorf("audit export: give --region, and at most one of --data, --store").withHint("run 'domicile audit --help'")
	}
	if *data == "" && *storeURL == "" {
		c, err := af.connect(e, "audit export")
		if err != nil {
			return err
		}
		rc, err := c.c.AuditExport(ctx, *region)
		if err != nil {
			return c.failed(ctx, "", err)
		}
		defer rc.Close()
		if _, err := io.Copy(e.stdout, rc); err != nil {
			return withHint(fmt.Errorf("audit export: the stream from %s was cut: %w", c.addr, err), "run it again; a cut export does not verify")
		}
		return nil
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
		return withHint(err, "stop the region's node first (it holds the store), or export the running region: domicile audit export --region "+*region)
	}
	defer st.Close()
	return audit.Export(ctx, audit.StoreReader(st, s.Hash()), s.Hash(), e.stdout)
}

func auditKeys(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit keys", "domicile audit keys --region NAME [--pem]", auditExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region (required)")
	asPEM := fs.Bool("pem", false, "write the public keys as one PEM bundle, for 'audit verify --pubkey'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" {
		return usageErrorf("audit keys: --region is required").withHint("'domicile keys status' lists the regions")
	}
	c, err := af.connect(e, "audit keys")
	if err != nil {
		return err
	}
	hist, err := c.c.AuditKeys(ctx, *region)
	if err != nil {
		return c.failed(ctx, "", err)
	}
	if *asPEM {
		for _, k := range hist.Keys {
			blk, _ := pem.Decode([]byte(k.PublicKey))
			if blk == nil {
				return fmt.Errorf("audit keys: the region served key v%d without a PEM block", k.Version)
			}
			blk.Headers = map[string]string{"Region": *region, "Version": strconv.FormatUint(uint64(k.Version), 10), "Key-Hash": k.KeyHash}
			if err := pem.Encode(e.stdout, blk); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "log %s, %s keys\n", hist.Origin, keyAlg(hist))
	fmt.Fprintln(tw, "VERSION\tSTATE\tKEY HASH\tCREATED\tSIGNED")
	for _, k := range hist.Keys {
		state := k.State
		if k.Current {
			state += " (current)"
		}
		signed := "no checkpoint yet"
		if k.Checkpoints > 0 {
			signed = sizeRange(k.Checkpoints, k.FirstSize, k.LastSize)
		}
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%s\t%s\n", k.Version, state, k.KeyHash, k.Created.UTC().Format(time.RFC3339), signed)
	}
	return tw.Flush()
}

func keyAlg(h *client.AuditKeys) string {
	if len(h.Keys) == 0 {
		return "no"
	}
	return h.Keys[0].Algorithm
}

func auditEntries(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit entries", "domicile audit entries --region NAME [--principal ID] [--action A] [--record ID] [--since DURATION] [--limit N] [--json]", auditExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region (required)")
	principal := fs.String("principal", "", "only this principal's entries")
	action := fs.String("action", "", "only this action: create, read, search, patch, delete, erase, tokenize, detokenize, admin, key, ...")
	record := fs.String("record", "", "only entries about this record id")
	since := fs.Duration("since", 0, "only entries of the last DURATION, such as 24h")
	from := fs.String("from", "", "only entries at or after this RFC 3339 time")
	to := fs.String("to", "", "only entries before this RFC 3339 time")
	limit := fs.Int("limit", 50, "show at most N entries, oldest first (0: all)")
	asJSON := fs.Bool("json", false, "one JSON object per line instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" {
		return usageErrorf("audit entries: --region is required").withHint("'domicile keys status' lists the regions")
	}
	if *limit < 0 {
		return usageErrorf("audit entries: --limit must be 0 or more")
	}
	q := url.Values{}
	for k, v := range map[string]string{"principal": *principal, "action": *action, "record": *record, "from": *from, "to": *to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *since > 0 {
		if *from != "" {
			return usageErrorf("audit entries: give --since or --from, not both")
		}
		q.Set("from", time.Now().Add(-*since).UTC().Format(time.RFC3339Nano))
	}
	c, err := af.connect(e, "audit entries")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "INDEX\tTIME\tPRINCIPAL\tFROM\tACTION\tCOLLECTION\tRECORDS\tFIELDS\tPURPOSE\tDECISION\tOUTCOME")
	}
	enc := json.NewEncoder(e.stdout)
	shown := 0
	for {
		page := 1000
		if *limit > 0 {
			page = min(page, *limit-shown)
		}
		q.Set("limit", strconv.Itoa(page))
		out, err := c.c.AuditEntries(ctx, *region, q)
		if err != nil {
			return c.failed(ctx, "", err)
		}
		for _, a := range out.Entries {
			if *asJSON {
				if err := enc.Encode(a); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Index, a.Time.UTC().Format(time.RFC3339), a.Principal, dash(a.Location),
				a.Action, dash(a.Collection), dash(short(a.Records)), dash(short(a.Fields)), dash(a.Purpose), dash(a.Decision), a.Outcome)
		}
		shown += len(out.Entries)
		if out.Next == "" || (*limit > 0 && shown >= *limit) {
			break
		}
		q.Set("cursor", out.Next)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short joins a list, naming at most three items.
func short(list []string) string {
	if len(list) > 3 {
		return strings.Join(list[:3], ",") + fmt.Sprintf(",+%d", len(list)-3)
	}
	return strings.Join(list, ",")
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
