package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/domicile/domicile/client"
)

// `domicile keys SUBCOMMAND`: the state and rotation of the regions'
// key-encryption keys, through the API (an admin token is needed).

func keysCommands() []apiCommand {
	return []apiCommand{
		{"status", "show each region's keys: purpose, current version, versions", runKeysStatus},
		{"rotate", "make a new current version of a region's key", runKeysRotate},
		{"rewrap", "move the subject keys off older data key versions (a background job)", runKeysRewrap},
		{"migrate", "move a region to another suite online (cn or intl; a background job)", runKeysMigrate},
		{"retire", "stop handing out a key version once nothing uses it", runKeysRetire},
		{"destroy", "remove a retired key version's material for good", runKeysDestroy},
		{"split", "split an unseal secret into Shamir shares, any M of N unseal", runKeysSplit},
		{"combine", "check that Shamir shares combine (into a given secret)", runKeysCombine},
		{"hsm-wrap", "wrap an unseal secret with an AES key on a PKCS#11 token (HSM)", runKeysHSMWrap},
		{"seal", "seal a running region: it drops its keys and answers region_sealed", runKeysSeal},
		{"unseal", "unseal a running region online with Shamir shares (or --hsm), no restart", runKeysUnseal},
	}
}

const keysExamples = `  domicile keys status
  domicile keys status --region cn-north --format json
  domicile keys rotate --region cn-north --key data
  domicile keys rewrap --region cn-north --key data
  domicile keys migrate --region eu-central --suite cn
  domicile keys retire --region cn-north --key data --version 1
  domicile keys destroy --region cn-north --key data --version 1`

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
current version and how many versions exist (older versions still decrypt).
With --region, the table lists every version with its state (active, retired,
destroyed) and, for data versions, how many subject keys are still wrapped
under it, then the region's rewrap job (running, paused, done or failed;
done/total; started; node). --format json prints the key status as before;
the usage is GET /v1/regions/NAME/keys/usage.`)
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
	if *region != "" {
		u, err := conn.c.KeyUsage(ctx, *region)
		if err != nil {
			return conn.failed(ctx, "", err)
		}
		return printKeyUsage(e, u)
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
	region, purpose := addKeyFlags(fs)
	if err := parseKeyFlags(fs, args, region, purpose); err != nil {
		return err
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

// printKeyUsage prints a region's versions and its rewrap job.
func printKeyUsage(e *env, u *client.KeyUsage) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tPURPOSE\tVERSION\tSUITE\tSTATE\tSUBJECT KEYS")
	for _, v := range u.Versions {
		state := v.State
		if v.Current {
			state += " (current)"
		}
		n := "-"
		if v.SubjectKeys != nil {
			n = strconv.FormatInt(*v.SubjectKeys, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", u.Region, v.Purpose, v.Version, orDash(v.Suite), state, n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if j := u.Job; j != nil {
		fmt.Fprintf(e.stdout, "rewrap job %s: %s, %d/%d subject keys to data v%d or later, started %s on %s\n",
			j.ID, j.State, j.Done, j.Total, j.Target, j.StartedAt.Format(time.RFC3339), orDash(j.Node))
		if j.Error != "" {
			fmt.Fprintf(e.stdout, "  last error: %s\n", j.Error)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// rewrapWhy says why a purpose other than data has nothing to rewrap.
var rewrapWhy = map[string]string{
	"index": "blind indexes are derived from the index key, not wrapped by it: moving them means re-deriving them from the records (the suite-migration job); older active index versions keep searching",
	"token": "tokens are derived from the token key, not wrapped by it: moving them means re-deriving them from the records (the suite-migration job); older active token versions keep detokenizing",
	"audit": "the audit key wraps nothing: its older versions stay, as public keys, to verify the checkpoints they signed",
}

func runKeysRewrap(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys rewrap", "domicile keys rewrap --region NAME --key data [--batch N] [--pause D] [--detach] [flags]",
		`  domicile keys rewrap --region cn-north --key data
  domicile keys rewrap --region cn-north --key data --batch 100 --pause 50ms
  domicile keys rewrap --region cn-north --key data --detach

Starts the region's rewrap job: every subject key still wrapped under an older
data key version is wrapped again under the current one (in memory; the data
itself does not change), in the background of the region's nodes. The job
survives restarts and runs on one node at a time; if one is unfinished, this
follows it instead of starting another. --batch and --pause throttle it.

On a terminal it shows the progress until the job ends; in a script it prints
one line when it ends. --detach only starts it: 'domicile keys status --region
NAME' follows it. When it is done, 'domicile keys retire' the old versions.

Only data keys are rewrapped. Index and token keys wrap nothing: blind indexes
and tokens are derived from them, so moving them means re-deriving them from
the records (the suite-migration job), and older active versions keep working.
Older audit key versions stay, as public keys, to verify old checkpoints.`)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region `NAME`, such as cn-north")
	purpose := fs.String("key", "", "which key: data (index, token and audit wrap nothing)")
	jf := addJobFlags(fs, "rewrapped")
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
	if err := needFlag(fs, "key", *purpose, "--key data: only data keys wrap anything"); err != nil {
		return err
	}
	if why, ok := rewrapWhy[*purpose]; ok {
		return usageErrorf("keys rewrap: nothing to rewrap for --key %s: %s", *purpose, why).withHint("run 'domicile keys rewrap --key data'; to stop using an old version, 'domicile keys retire'")
	}
	if *purpose != "data" {
		return usageErrorf("keys rewrap: unknown --key %q", *purpose).withHint("--key data is the only key with anything to rewrap")
	}
	if err := jf.check("keys rewrap"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	req := client.RewrapRequest{Purpose: *purpose, Batch: *jf.batch, Pause: jf.pauseText()}
	job, err := conn.c.StartRewrap(ctx, *region, req)
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	verb := startedVerb(job)
	if *jf.detach {
		fmt.Fprintf(e.stdout, "%s rewrap job %s in %s: %d subject keys under older data versions; 'domicile keys status --region %s' follows it\n",
			verb, job.ID, job.Region, job.Total, job.Region)
		return nil
	}
	return followJob(ctx, e, conn, *region, job, verb, *jf.every, "rewrap", "rewrapping "+job.Region, func(j *client.RewrapJob) string {
		return fmt.Sprintf("rewrap job %s in %s done: %d subject keys rewrapped to data v%d or later", j.ID, j.Region, j.Done, j.Target)
	})
}

// startedVerb says whether the request started job or found it running.
func startedVerb(job *client.RewrapJob) string {
	if job.New {
		return "started"
	}
	return "following the unfinished"
}

// jobFlags throttle and follow a region's rewrap or migration job.
type jobFlags struct {
	batch  *int
	pause  *time.Duration
	detach *bool
	every  *time.Duration
}

// addJobFlags adds the flags of a job whose steps do what verb says
// (rewrapped, moved) to fs.
func addJobFlags(fs *flag.FlagSet, verb string) jobFlags {
	return jobFlags{
		batch:  fs.Int("batch", 0, "stored entries per step, `N` from 1 to 10000 (default 256)"),
		pause:  fs.Duration("pause", 0, "wait `D` after each step that "+verb+" something, such as 50ms, so writes are not starved"),
		detach: fs.Bool("detach", false, "start the job and return at once"),
		every:  fs.Duration("poll", time.Second, "how often to ask for progress, `D`"),
	}
}

func (jf jobFlags) check(cmd string) error {
	switch {
	case *jf.batch < 0 || *jf.batch > 10000:
		return usageErrorf("%s: --batch %d is out of range", cmd, *jf.batch).withHint("--batch is 1 to 10000; leave it out for 256")
	case *jf.pause < 0 || *jf.pause > time.Minute:
		return usageErrorf("%s: --pause %s is out of range", cmd, *jf.pause).withHint("--pause is 0 to 1m, such as 50ms")
	case *jf.every <= 0:
		return usageErrorf("%s: --poll must be positive", cmd).withHint("such as --poll 1s")
	}
	return nil
}

// pauseText is --pause as the API takes it ("" for none).
func (jf jobFlags) pauseText() string {
	if *jf.pause <= 0 {
		return ""
	}
	return jf.pause.String()
}

// followJob shows a region's rewrap or migration job until it ends: a
// progress bar on a terminal (one per phase of a migration), one line at
// the end in a script.
func followJob(ctx context.Context, e *env, conn *apiConn, region string, job *client.RewrapJob, verb string, every time.Duration,
	cmd, what string, doneLine func(*client.RewrapJob) string) error {
	if e.isTerminal {
		fmt.Fprintf(e.stderr, "%s %s job %s in %s (Ctrl-C stops watching, not the job)\n", verb, cmd, job.ID, job.Region)
	}
	phase := job.Phase
	p := newProgress(e, what)
	defer func() { p.done() }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if job.Phase != phase {
			p.done()
			phase = job.Phase
			p = newProgress(e, what+": "+phase)
		}
		if phase == "" || phase == "keys" {
			p.update(int(job.Done), int(job.Total))
		} else {
			p.update(int(job.Resealed), 0)
		}
		switch job.State {
		case "done":
			p.done()
			fmt.Fprintln(e.stdout, doneLine(job))
			return nil
		case "failed":
			p.done()
			return withHint(fmt.Errorf("keys %s: job %s in %s failed: %s", cmd, job.ID, job.Region, job.Error),
				"fix the cause, then run 'domicile keys "+cmd+"' again: it goes on from the start, skipping what is done")
		}
		select {
		case <-ctx.Done():
			p.done()
			return withHint(fmt.Errorf("keys %s: stopped watching job %s at %d/%d: %w", cmd, job.ID, job.Done, job.Total, ctx.Err()),
				"the job goes on in the region; 'domicile keys status --region "+job.Region+"' follows it")
		case <-t.C:
		}
		u, err := conn.c.KeyUsage(ctx, region)
		if err != nil {
			p.done()
			return conn.failed(ctx, "", err)
		}
		if u.Job == nil || u.Job.ID != job.ID {
			p.done()
			return withHint(fmt.Errorf("keys %s: job %s in %s was replaced by another", cmd, job.ID, region), "'domicile keys status --region "+region+"' shows the current one")
		}
		job = u.Job
	}
}

func runKeysMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keys migrate", "domicile keys migrate --region NAME --suite cn|intl [--batch N] [--pause D] [--detach] [flags]", `  domicile keys migrate --region eu-central --suite cn
  domicile keys migrate --region eu-central --suite cn --pause 50ms --detach

Moves a region to another suite while it serves (docs/suite-migration.md):
keys of the new suite for every purpose, current at once, so new records,
indexes, tokens and audit signatures use it; the audit log's tree moves to
the new suite's hash, with an entry linking both trees; then a background
job rewraps the subject keys and seals every record (its blind indexes
derived again) and every token entry of a subject under the new suite.
Reads work throughout. Tokens given out before stay valid until their key
version is retired. Repeating the command resumes what is left.

On a terminal it shows the progress of each phase (keys, records, tokens)
until the job ends; in a script it prints one line when it ends. --detach
only starts it: 'domicile keys status --region NAME' follows it. Then edit
the region's suite in the policy file (both names work until then), and
retire the old versions with 'domicile keys retire'.`)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region `NAME`, such as eu-central")
	to := fs.String("suite", "", "the `SUITE` to move to: cn or intl")
	jf := addJobFlags(fs, "moved")
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
	if err := needFlag(fs, "suite", *to, "--suite cn or --suite intl"); err != nil {
		return err
	}
	if *to != "cn" && *to != "intl" {
		return usageErrorf("keys migrate: unknown --suite %q", *to).withHint("--suite is cn (SM4-GCM, SM3, SM2) or intl (AES-256-GCM, SHA-256, ECDSA P-256)")
	}
	if err := jf.check("keys migrate"); err != nil {
		return err
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	req := client.MigrateRequest{Suite: *to, Batch: *jf.batch, Pause: jf.pauseText()}
	job, err := conn.c.MigrateSuite(ctx, *region, req)
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	verb := startedVerb(job)
	if *jf.detach {
		fmt.Fprintf(e.stdout, "%s migration job %s in %s to suite %s; 'domicile keys status --region %s' follows it\n",
			verb, job.ID, job.Region, *to, job.Region)
		return nil
	}
	return followJob(ctx, e, conn, *region, job, verb, *jf.every, "migrate", "migrating "+job.Region+" to "+*to, func(j *client.RewrapJob) string {
		return fmt.Sprintf("migration job %s in %s done: suite %s; %d subject keys rewrapped, %d records and token entries sealed again",
			j.ID, j.Region, *to, j.Done, j.Resealed)
	})
}

func runKeysRetire(ctx context.Context, e *env, args []string) error {
	return keysVersionCommand(ctx, e, args, "retire", `  domicile keys retire --region cn-north --key data --version 1
  domicile keys retire --region eu-central --key token --version 1 --force

Retires a key version, for good: it is no longer handed out. The current
version is refused; so is a data version while subject keys are still wrapped
under it: run 'domicile keys rewrap' and wait until 'domicile keys status
--region NAME' shows 0 for it. Nothing counts what uses an index or token
version, so those need --force: blind indexes made under a retired index
version stop matching searches, and tokens made under a retired token version
can no longer be detokenized. A retired audit version still verifies the
checkpoints it signed.`)
}

func runKeysDestroy(ctx context.Context, e *env, args []string) error {
	return keysVersionCommand(ctx, e, args, "destroy", `  domicile keys destroy --region cn-north --key data --version 1

Removes a retired key version's sealed material from the region's store, for
good (backups made before still hold it, sealed under the root key). Only a
retired version can be destroyed, a data version only when no subject key is
wrapped under it, and not within 30s of the next version's creation (another
node may not have seen it yet). Audit versions and index version 1 are never
destroyed. Blind indexes and tokens made under a destroyed index or token
version stop working for good, so those need --force. The destruction is
recorded in the region's audit log.`)
}

// addKeyFlags adds --region and --key, the flags of the subcommands that
// change one key of one region.
func addKeyFlags(fs *flag.FlagSet) (region, purpose *string) {
	region = fs.String("region", "", "the region `NAME`, such as cn-north")
	purpose = fs.String("key", "", "which key-encryption key: "+strings.Join(keyPurposes, ", "))
	return region, purpose
}

// parseKeyFlags parses args, which take no positional argument, and
// checks the flags of addKeyFlags: both given, the key a known one.
func parseKeyFlags(fs *flag.FlagSet, args []string, region, purpose *string) error {
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
	if !slices.Contains(keyPurposes, *purpose) {
		return usageErrorf("%s: unknown --key %q", fs.Name(), *purpose).withHint("--key is one of " + strings.Join(keyPurposes, ", "))
	}
	return nil
}

// keysVersionCommand runs keys retire or keys destroy.
func keysVersionCommand(ctx context.Context, e *env, args []string, verb, help string) error {
	fs := newFlagSet(e, "keys "+verb, "domicile keys "+verb+" --region NAME --key data|index|token|audit --version V [--force] [flags]", help)
	af := addAPIFlags(fs)
	region, purpose := addKeyFlags(fs)
	version := fs.Uint("version", 0, "the version `V`; 'domicile keys status --region NAME' lists them")
	force := fs.Bool("force", false, "confirm an index or token version: what it made stops working")
	if err := parseKeyFlags(fs, args, region, purpose); err != nil {
		return err
	}
	if *version == 0 || *version > math.MaxUint32 {
		return usageErrorf("keys %s: --version is required (1 or more)", verb).withHint("'domicile keys status --region NAME' lists the versions")
	}
	conn, err := af.connect(e, fs.Name())
	if err != nil {
		return err
	}
	req := client.KeyVersionRequest{Purpose: *purpose, Version: uint32(*version), Force: *force}
	call := conn.c.RetireKey
	if verb == "destroy" {
		call = conn.c.DestroyKey
	}
	out, err := call(ctx, *region, req)
	if err != nil {
		return conn.failed(ctx, "", err)
	}
	fmt.Fprintf(e.stdout, "%s key v%d of %s is %s\n", out.Purpose, out.Version, out.Region, out.State)
	return nil
}
