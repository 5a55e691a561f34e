package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/keyring"
)

const backupExamples = `  domicile backup --region eu-central --out /backups/eu-central-2025-06-01
  domicile erasures export --region eu-central --out /elsewhere/eu-central.erasures
  domicile restore --region eu-central --from /backups/eu-central-2025-06-01 \
      --data /var/lib/domicile/eu-central.new --erasures /elsewhere/eu-central.erasures \
      --pubkey eu-central-audit.pem --unseal-file /etc/domicile/eu-central.secret
  domicile restore --region eu-central --from DIR --data NEWDIR --no-erasures-since-backup
  # PostgreSQL: load the dump with pg_restore into a new database, start no node on it, then
  domicile restore --region eu-central --store postgres://domicile@db/eu_central_restored \
      --erasures /elsewhere/eu-central.erasures --unseal-file /etc/domicile/eu-central.secret`

// runBackup takes an online backup of a region through the API.
func runBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "backup", "domicile backup --region R --out DIR\n\n"+
		"Takes a consistent copy of a region's embedded store while it serves (admin),\n"+
		"and writes it to DIR (new or empty) with a manifest that lists every file with\n"+
		"its size and hash, signed with the region's audit key. The backup stays sealed:\n"+
		"it holds what the store holds, never an unsealed key. No node serves it until\n"+
		"'domicile restore' has re-applied the erasures made since. Keep the erasure\n"+
		"journal ('domicile erasures export') on other media than the backups.\n"+
		"Regions on PostgreSQL are backed up with pg_dump or pg_basebackup.", backupExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region to back up (required)")
	out := fs.String("out", "", "the backup's directory, new or empty (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *region == "" || *out == "" {
		return usageErrorf("backup: give --region and --out").withHint("for example: domicile backup --region eu-central --out /backups/eu-central")
	}
	if des, err := os.ReadDir(*out); err == nil && len(des) > 0 {
		return usageErrorf("backup: %s is not empty", *out).withHint("give a new directory to --out: a backup never overwrites another")
	}
	_, statErr := os.Stat(*out)
	created := errors.Is(statErr, os.ErrNotExist)
	c, err := af.connect(e, "backup")
	if err != nil {
		return err
	}
	body, total, err := c.c.Backup(ctx, *region)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Problem.Code == "invalid_request" {
			return withHint(&apiError{prefix: "backup: ", err: ce},
				"back a PostgreSQL region up with pg_dump or pg_basebackup; keep its erasure journal ('domicile erasures export') apart, and re-apply it after restoring the database (see README, Backup and restore)")
		}
		return c.failed(ctx, "backup: ", err)
	}
	defer body.Close()
	p := newProgress(e, "backup "+*region+" (bytes)")
	s, err := backup.Receive(ctx, body, *out, func(n int64) { p.update(int(n), int(total)) })
	p.done()
	if err != nil {
		if created {
			_ = os.RemoveAll(*out)
		} else {
			clearDir(*out)
		}
		if errors.Is(err, backup.ErrInvalid) {
			return withHint(fmt.Errorf("backup: %w", err), "the stream was cut short or changed on the way; nothing was kept: run the backup again")
		}
		return withHint(fmt.Errorf("backup: %w", err), "check that --out is writable and has room; nothing was kept: run the backup again")
	}
	m := s.Manifest
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	fmt.Fprintf(e.stdout, "backup of region %s at %s: %d files, %d bytes, audit log at size %d; manifest %s\n",
		m.Region, m.Created.Format(time.RFC3339), len(m.Files), size, m.Audit.Size, filepath.Join(*out, backup.ManifestFile))
	fmt.Fprintf(e.stderr, "keep the erasure journal apart from this backup: domicile erasures export --region %s --out FILE (on other media)\n", m.Region)
	return nil
}

// clearDir empties a directory the user gave (it was empty before).
func clearDir(dir string) {
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		_ = os.RemoveAll(filepath.Join(dir, de.Name()))
	}
}

// runRestore restores a backup offline into a new data directory.
func runRestore(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "restore", "domicile restore --region R --from DIR --data NEWDIR (--erasures FILE | --no-erasures-since-backup) [--pubkey FILE] [--unseal-file FILE]\n"+
		"       domicile restore --region R --store postgres://... (--erasures FILE | --no-erasures-since-backup) [--unseal-file FILE]\n\n"+
		"Restores a backup offline into a new data directory: checks the manifest's\n"+
		"signature (with the audit keys inside the backup, which only the region's\n"+
		"unseal secret opens, and with --pubkey against keys you kept) and every file's\n"+
		"hash, copies the files, re-applies every erasure of the journal, and records the\n"+
		"restore in the region's audit log. Until it finishes no node serves NEWDIR.\n"+
		"With --store, it re-applies the journal in place to a PostgreSQL database that\n"+
		"you restored with pg_restore or psql (or copied), with no node serving it, and\n"+
		"records the restore; nodes refuse a restored database until it has run.\n"+
		"Subjects erased after the backup and missing from the journal come back.", backupExamples)
	region := fs.String("region", "", "the region of the backup (required)")
	from := fs.String("from", "", "the backup's directory, as 'domicile backup' wrote it (required)")
	data := fs.String("data", "", "the new data directory of the region, absent or empty (required with --from)")
	storeURL := fs.String("store", "", "instead of --from and --data: the postgres:// URL of the region's database, restored with pg_restore or psql")
	erasures := fs.String("erasures", "", "the erasure journal to re-apply ('domicile erasures export' or 'domicile audit entries --action erase --json' of the live region)")
	none := fs.Bool("no-erasures-since-backup", false, "state that no subject of the region was erased since the backup (instead of --erasures)")
	pubkey := fs.String("pubkey", "", "PEM file of the region's audit keys, kept apart ('domicile audit keys --pem'); the manifest must verify with them")
	unsealFile := fs.String("unseal-file", "", "file holding the region's unseal secret (default: environment DOMICILE_UNSEAL_<REGION>)")
	policyFile := fs.String("policy", "", "the policy file the region's nodes run (default: the built-in example)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *storeURL != "" && (*from != "" || *data != "" || *pubkey != ""):
		return usageErrorf("restore: --store restores a PostgreSQL database in place: give it without --from, --data and --pubkey").
			withHint("check the restored log afterwards with: domicile audit verify --region R --store URL --pubkey FILE")
	case *storeURL != "" && !app.IsPostgresURL(*storeURL):
		return usageErrorf("restore: --store must be a postgres:// URL").withHint("for an embedded store, use --from BACKUP --data NEWDIR")
	case *region == "" || (*storeURL == "" && (*from == "" || *data == "")):
		return usageErrorf("restore: give --region, and --from and --data (or --store for PostgreSQL)").withHint("run 'domicile restore --help' for examples")
	}
	switch {
	case *erasures == "" && !*none:
		return usageErrorf("restore: give the erasure journal with --erasures FILE, or state --no-erasures-since-backup").
			withHint("export the journal from the live region: domicile erasures export --region " + *region + " --out FILE; without it, subjects erased since the backup would come back")
	case *erasures != "" && *none:
		return usageErrorf("restore: give --erasures or --no-erasures-since-backup, not both")
	}
	p, err := loadPolicy(*policyFile)
	if err != nil {
		return err
	}
	if _, ok := p.Region(*region); !ok {
		return usageErrorf("restore: region %q is not in the policy", *region).withHint("pass --policy with the region's policy file")
	}
	cfg := app.RestoreConfig{Policy: p, Region: *region, From: *from, Data: *data, Store: *storeURL, NoErasuresSinceBackup: *none}
	if *erasures != "" {
		f, err := os.Open(*erasures)
		if err != nil {
			return withHint(fmt.Errorf("restore: %w", err), "give the journal file that 'domicile erasures export' wrote")
		}
		cfg.Erasures, err = backup.ReadJournal(f, *region)
		f.Close()
		if err != nil {
			return withHint(fmt.Errorf("restore: %s: %w", *erasures, err), "export the journal of this region again: domicile erasures export --region "+*region+" --out FILE")
		}
		if cfg.Erasures == nil {
			cfg.Erasures = []backup.Erasure{}
		}
	}
	if *pubkey != "" {
		su, err := regionSuite(*policyFile, *region)
		if err != nil {
			return err
		}
		if cfg.PinnedKeys, err = readKeys(*pubkey, *region, su.Signature()); err != nil {
			return err
		}
	}
	if cfg.Secret, err = readSecret(e, *unsealFile, app.SecretEnv(*region)); err != nil {
		return err
	}
	if len(cfg.Secret) == 0 {
		return withHint(fmt.Errorf("restore: no unseal secret for region %s", *region),
			"set "+app.SecretEnv(*region)+" or pass --unseal-file: a restore opens the backup's keys with the region's unseal secret")
	}
	if *storeURL != "" {
		return restorePostgres(ctx, e, cfg)
	}
	prog := newProgress(e, "restore "+*region+" (bytes)")
	cfg.Progress = func(done, total int64) { prog.update(int(done), int(total)) }
	var eprog *progress
	cfg.OnErasure = func(done, total int) {
		if eprog == nil {
			prog.done()
			eprog = newProgress(e, "restore "+*region+" (erasures)")
		}
		eprog.update(done, total)
	}
	out, err := app.Restore(ctx, cfg)
	prog.done()
	if eprog != nil {
		eprog.done()
	}
	if err != nil {
		switch {
		case errors.Is(err, backup.ErrInvalid):
			return withHint(fmt.Errorf("restore: %w", err), "the backup was changed, cut short, or is of another region: nothing was restored; use another copy of the backup, or take a new one")
		case errors.Is(err, keyring.ErrWrongSecret), errors.Is(err, keyring.ErrSealed):
			return withHint(fmt.Errorf("restore: %w", err), "give the unseal secret of the region at the time of the backup ("+app.SecretEnv(*region)+" or --unseal-file)")
		}
		return withHint(fmt.Errorf("restore: %w", err), "nothing was kept in "+*data+"; fix the cause and run the restore again")
	}
	m := out.Manifest
	fmt.Fprintf(e.stdout, "restored region %s from its backup of %s into %s\n", m.Region, m.Created.Format(time.RFC3339), *data)
	fmt.Fprintf(e.stdout, "erasures re-applied: %d subjects (%d records deleted); %d subjects of the journal had no data in the backup\n", out.Erased, out.Records, out.Skipped)
	fmt.Fprintf(e.stdout, "audit log: %d entries, the restore recorded as restore:%s:%s\n", out.AuditSize, m.Created.Format(time.RFC3339), out.Hash)
	fmt.Fprintf(e.stderr, "start the region's node on %s; check its log with: domicile audit verify --region %s --data %s\n", *data, m.Region, *data)
	return nil
}

// restorePostgres re-applies the erasure journal to a restored PostgreSQL
// database in place (runRestore with --store).
func restorePostgres(ctx context.Context, e *env, cfg app.RestoreConfig) error {
	prog := newProgress(e, "restore "+cfg.Region+" (erasures)")
	cfg.OnErasure = prog.update
	out, err := app.Restore(ctx, cfg)
	prog.done()
	if err != nil {
		switch {
		case errors.Is(err, keyring.ErrWrongSecret), errors.Is(err, keyring.ErrSealed):
			return withHint(fmt.Errorf("restore: %w", err), "give the unseal secret of the region at the time of the dump ("+app.SecretEnv(cfg.Region)+" or --unseal-file)")
		}
		return withHint(fmt.Errorf("restore: %w", err), "no node serves the database until a restore finishes; fix the cause and run the same command again (it goes on where it stopped)")
	}
	fmt.Fprintf(e.stdout, "restored region %s in its PostgreSQL database\n", cfg.Region)
	fmt.Fprintf(e.stdout, "erasures re-applied: %d subjects (%d records deleted); %d subjects of the journal had no data in the database\n", out.Erased, out.Records, out.Skipped)
	fmt.Fprintf(e.stdout, "audit log: %d entries, the restore recorded as %s\n", out.AuditSize, out.Rule)
	fmt.Fprintf(e.stderr, "start the region's nodes on the database; check its log with: domicile audit verify --region %s --store URL --pubkey FILE\n", cfg.Region)
	return nil
}

// runErasures exports a region's erasure journal.
func runErasures(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stdout, `Usage: domicile erasures export --region R [--since DURATION | --from TIME] [--out FILE]

The erasure journal is the list of subjects erased in a region, by keyed
reference (never the id) and time, read from the live region's audit log.
'domicile restore --erasures FILE' re-applies it to a restored backup, so that
erasure stays erasure. Export it regularly and ship it off the backups' media,
like logs: subjects erased after a backup and missing from the journal given
to a restore come back.

Examples:
%s
`, backupExamples)
		if len(args) == 0 {
			return &exitError{code: 2, silent: true}
		}
		return nil
	}
	if args[0] != "export" {
		return usageErrorf("erasures: unknown subcommand %q", args[0]).withHint("run 'domicile erasures --help'")
	}
	fs := newFlagSet(e, "erasures export", "domicile erasures export --region R [--since DURATION | --from TIME] [--out FILE]", backupExamples)
	af := addAPIFlags(fs)
	region := fs.String("region", "", "the region (required)")
	since := fs.Duration("since", 0, "only erasures of the last DURATION, such as 720h (default: all)")
	from := fs.String("from", "", "only erasures at or after this RFC 3339 time, such as a backup's time")
	out := fs.String("out", "", "write the journal to FILE (default: standard output)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *region == "" {
		return usageErrorf("erasures export: --region is required").withHint("'domicile keys status' lists the regions")
	}
	q := url.Values{"action": {"erase"}}
	switch {
	case *since > 0 && *from != "":
		return usageErrorf("erasures export: give --since or --from, not both")
	case *since > 0:
		q.Set("from", time.Now().Add(-*since).UTC().Format(time.RFC3339Nano))
	case *from != "":
		if _, err := time.Parse(time.RFC3339, *from); err != nil {
			return usageErrorf("erasures export: --from %q is not an RFC 3339 time", *from).withHint("for example: --from 2025-06-01T00:00:00Z")
		}
		q.Set("from", *from)
	}
	c, err := af.connect(e, "erasures export")
	if err != nil {
		return err
	}
	w := e.stdout
	var f *os.File
	if *out != "" {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return withHint(fmt.Errorf("erasures export: %w", err), "check the path of --out and its permissions")
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	n := 0
	for {
		q.Set("limit", strconv.Itoa(1000))
		page, err := c.c.AuditEntries(ctx, *region, q)
		if err != nil {
			return c.failed(ctx, "erasures export: ", err)
		}
		for _, a := range page.Entries {
			if a.Outcome != "ok" {
				continue
			}
			if err := enc.Encode(a); err != nil {
				return fmt.Errorf("erasures export: %w", err)
			}
			n += len(a.Subjects)
		}
		if page.Next == "" {
			break
		}
		q.Set("cursor", page.Next)
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("erasures export: %w", err)
		}
		fmt.Fprintf(e.stderr, "%d erased subjects of region %s in %s; keep it off the backups' media\n", n, *region, *out)
	}
	return nil
}
