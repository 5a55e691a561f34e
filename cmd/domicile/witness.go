package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/witness"
)

const witnessExamples = `  domicile witness keygen --name witness.example.org/w1 --out /etc/domicile/w1
  domicile audit keys --region cn-north --pem > cn-north-audit.pem
  domicile witness serve --key /etc/domicile/w1.skey --state /var/lib/domicile-witness \
      --log domicile/cn-north=cn-north-audit.pem --log domicile/eu-central=eu-central-audit.pem --listen 127.0.0.1:8720
  domicile serve --region cn-north ... --witness http://witness.example.org:8720
  domicile dev --data ./data --witness http://127.0.0.1:8720`

func runWitness(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, `Usage: domicile witness keygen|serve [flags]

A witness keeps, for each region's audit log, the latest checkpoint it
cosigned, and cosigns a new checkpoint only when the region's key signed it
and a consistency proof shows that it extends that one (c2sp.org/tlog-witness,
POST /add-checkpoint). Its cosignatures (c2sp.org/tlog-cosignature,
Ed25519 cosignature/v1) are stored with the region's checkpoints, so a
region that rewrote or forked its log cannot show a checkpoint that the
witness cosigned. Run it outside the regions it witnesses, and give region
nodes its URL with --witness; verifiers need its vkey.

Examples:
%s
`, witnessExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	switch args[0] {
	case "keygen":
		return witnessKeygen(e, args[1:])
	case "serve":
		return witnessServe(ctx, e, args[1:])
	}
	return usageErrorf("witness: unknown subcommand %q", args[0]).withHint("run 'domicile witness --help'")
}

func witnessKeygen(e *env, args []string) error {
	fs := newFlagSet(e, "witness keygen", "domicile witness keygen --name NAME [--out PREFIX]", witnessExamples)
	name := fs.String("name", "", "the witness's name, printed in its cosignatures: a schema-less URL such as witness.example.org/w1 (required)")
	out := fs.String("out", "witness", "write the signing key to PREFIX.skey (mode 0600) and the verifier key to PREFIX.vkey; neither may exist")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageErrorf("witness keygen: --name is required").withHint("for example: domicile witness keygen --name witness.example.org/w1")
	}
	if fs.NArg() > 0 {
		return usageErrorf("witness keygen: unexpected argument %q", fs.Arg(0)).withHint("run 'domicile witness keygen --help'")
	}
	skey, vkey, err := witness.GenerateKey(*name)
	if err != nil {
		return withHint(err, "a name is printable ASCII without spaces or '+', such as witness.example.org/w1")
	}
	skeyFile, vkeyFile := *out+".skey", *out+".vkey"
	if _, err := os.Stat(vkeyFile); err == nil {
		return withHint(fmt.Errorf("%s already exists", vkeyFile), "remove it or choose another --out")
	}
	if err := writeOutput(e, skeyFile, []byte(skey+"\n")); err != nil {
		return err
	}
	f, err := os.OpenFile(vkeyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.WriteString(vkey + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %v", vkeyFile, osCause(err))
	}
	fmt.Fprintln(e.stdout, vkey)
	fmt.Fprintf(e.stderr, "wrote %s (secret, mode 0600) and %s (give it to verifiers: domicile audit verify --witness ...)\n", skeyFile, vkeyFile)
	return nil
}

// logFlags collects repeated --log ORIGIN=PEM[,PEM...] flags.
type logFlags map[string][]string

func (l logFlags) String() string { return "" }
func (l logFlags) Set(s string) error {
	origin, files, ok := strings.Cut(s, "=")
	if !ok || origin == "" || files == "" {
		return errors.New("want ORIGIN=PUBKEY.pem[,PUBKEY2.pem...]")
	}
	if _, dup := l[origin]; dup {
		return fmt.Errorf("log %s is given twice; list all its keys in one --log, separated by commas", origin)
	}
	l[origin] = strings.Split(files, ",")
	return nil
}

func witnessServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "witness serve", "domicile witness serve --key SKEYFILE --state DIR --log ORIGIN=PUBKEY.pem[,...]... [--listen ADDR] [--policy FILE]", witnessExamples)
	keyFile := fs.String("key", "", "the witness's signing key, from 'domicile witness keygen' (required)")
	state := fs.String("state", "", "directory for the latest cosigned checkpoint of each log (required; keep it across restarts)")
	listen := fs.String("listen", "127.0.0.1:8720", "address to serve POST /add-checkpoint on")
	pol := fs.String("policy", "", "policy file naming the regions' suites (default: the built-in example)")
	logs := logFlags{}
	fs.Var(logs, "log", "a log to witness, ORIGIN=PUBKEY.pem[,PUBKEY2.pem...]: its origin (domicile/REGION, the first line of its checkpoints) and the region's audit public keys, from 'domicile audit keys --pem', which lists every key the region has used (repeat for every log; after a rotation of the audit key, give the witness the new key too)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *state == "" || len(logs) == 0 {
		return usageErrorf("witness serve: --key, --state and at least one --log are required").withHint("run 'domicile witness --help' for examples")
	}
	if fs.NArg() > 0 {
		return usageErrorf("witness serve: unexpected argument %q", fs.Arg(0)).withHint("run 'domicile witness serve --help'")
	}
	skey, err := os.ReadFile(*keyFile)
	if err != nil {
		return withHint(fmt.Errorf("witness serve: %v", osCause(err)), "make a key with: domicile witness keygen --name NAME")
	}
	p, err := loadPolicy(*pol)
	if err != nil {
		return err
	}
	var wl []witness.Log
	for _, origin := range slices.Sorted(maps.Keys(logs)) {
		region := origin[strings.LastIndex(origin, "/")+1:]
		r, ok := p.Region(region)
		if !ok {
			return usageErrorf("witness serve: log %s: region %q is not in the policy", origin, region).
				withHint("an origin is domicile/REGION (the first line of 'domicile audit checkpoint'); pass --policy with the regions' policy file")
		}
		s, err := suite.ByID(r.Suite)
		if err != nil {
			return err
		}
		l := witness.Log{Origin: origin, Signature: s.Signature(), Hash: s.Hash()}
		for _, file := range logs[origin] {
			keys, err := readKeys(file, region, s.Signature())
			if err != nil {
				return err
			}
			l.Keys = append(l.Keys, keys...)
		}
		wl = append(wl, l)
	}
	log := newLogger(e)
	w, err := witness.New(witness.Options{Key: string(skey), StateDir: *state, Logs: wl, Logger: log})
	if err != nil {
		return withHint(err, "check --key (an skey from 'domicile witness keygen') and --state")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return withHint(fmt.Errorf("witness serve: %w", err), "pass --listen 127.0.0.1:PORT with a free port")
	}
	fmt.Fprintf(e.stdout, "witness %s: vkey %s\n", w.Name(), w.VerifierKey())
	fmt.Fprintf(e.stdout, "witness %s listening on http://%s\n", w.Name(), ln.Addr())
	err = w.Serve(ctx, ln)
	fmt.Fprintln(e.stderr, "shutting down")
	return err
}

// witnessURLs collects --witness URL flags, repeated or comma-separated.
type witnessURLs []string

func (w *witnessURLs) String() string { return strings.Join(*w, ",") }
func (w *witnessURLs) Set(s string) error {
	for _, raw := range strings.Split(s, ",") {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%q is not an http(s) URL of a witness, such as http://witness.example.org:8720", raw)
		}
		*w = append(*w, raw)
	}
	if len(*w) > checkpoint.MaxSignatures-1 {
		return fmt.Errorf("at most %d witnesses: a checkpoint carries at most %d signatures", checkpoint.MaxSignatures-1, checkpoint.MaxSignatures)
	}
	return nil
}

// witnessUsage is the help of the --witness flag of dev and serve.
const witnessUsage = "a witness (c2sp.org/tlog-witness, such as 'domicile witness serve') to publish every audit checkpoint to; its cosignatures are stored with the checkpoint (repeat or separate by commas)"
