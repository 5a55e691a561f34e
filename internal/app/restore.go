package app

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
)

// ErrRestorePending is wrapped by OpenRegion's error for a store that
// holds the restore-pending mark (backup.PendingKey): a backup copied
// into place without 'domicile restore', or a restore that did not
// finish. Serving it would bring back the subjects erased since the
// backup.
var ErrRestorePending = errors.New("the store is a backup whose restore did not finish: the erasures made since the backup are not re-applied")

// refuseRestorePending fails with ErrRestorePending when st holds the
// restore-pending mark, or when st is a PostgreSQL database that is not
// the one the region last served from (checkDatabase).
func refuseRestorePending(ctx context.Context, st store.Store, region string) error {
	v, err := st.Get(ctx, backup.PendingKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("region %s: reading the restore mark: %w", region, err)
	default:
		if _, pg := st.(identifier); pg {
			return fmt.Errorf("region %s: %w (%s); finish it with 'domicile restore --region %s --store URL --erasures JOURNAL', then start the nodes",
				region, ErrRestorePending, printable(v), region)
		}
		return fmt.Errorf("region %s: %w (backup of %s); restore it with 'domicile restore --region %s --from BACKUP --data NEWDIR --erasures JOURNAL' and start the node on NEWDIR",
			region, ErrRestorePending, printable(v), region)
	}
	if id, ok := st.(identifier); ok {
		return checkDatabase(ctx, st, id, region)
	}
	return nil
}

// printable returns b if it is short printable ASCII, else a placeholder.
func printable(b []byte) string {
	if len(b) > 64 || bytes.ContainsFunc(b, func(r rune) bool { return r < ' ' || r > '~' }) {
		return "unknown time"
	}
	return string(b)
}

// RestoreConfig says which backup to restore where, and proves the right
// to: the region's unseal secret.
type RestoreConfig struct {
	Policy *policy.Policy
	Region string
	// From is the backup's directory, as 'domicile backup' wrote it.
	From string
	// Data is the new data directory (absent or empty).
	Data string
	// Secret is the region's unseal secret; only who can open the
	// backup's keys may restore it.
	Secret []byte
	KDF    keyring.KDFParams
	// Erasures is the erasure journal to re-apply; with
	// NoErasuresSinceBackup nil, the operator states that no subject was
	// erased since the backup. One of the two is required.
	Erasures              []backup.Erasure
	NoErasuresSinceBackup bool
	// PinnedKeys, if any, are audit keys kept apart from the backup
	// ('domicile audit keys --pem'); the manifest must verify with them
	// too, before anything is copied.
	PinnedKeys []crypto.PublicKey
	Logger     *slog.Logger
	// Progress, if set, is called with the bytes copied and the total.
	Progress func(done, total int64)
	// OnErasure, if set, is called after each erasure of the journal
	// with how many were re-applied (or skipped) and how many there are.
	OnErasure func(done, total int)
	// Store, if set, is the postgres:// URL of a database restored from a
	// dump with PostgreSQL's own tools: Restore then re-applies the
	// journal to it in place (see restore_pg.go), and From, Data and
	// PinnedKeys are not used.
	Store string
}

// Restored is what a restore did.
type Restored struct {
	// Manifest is the backup's; nil for a PostgreSQL restore.
	Manifest *backup.Manifest
	// Hash is the manifest file's suite hash, in hex: the backup's name in
	// the audit entry of the restore.
	Hash string
	// Erased is how many subjects of the journal had data in the backup
	// and were erased; Records how many records that deleted; Skipped how
	// many subjects of the journal had none (erased before the backup, or
	// never here).
	Erased, Records, Skipped int
	// AuditSize is the size of the restored audit log, with the restore's
	// entries.
	AuditSize uint64
	// Rule is the rule of the restore's audit entry (action admin).
	Rule string
}

// Restore restores a backup of a region's embedded store into a new data
// directory, offline, and makes it ready to serve:
//
//  1. it checks the manifest is of this region and suite and, with
//     PinnedKeys, that its signature verifies with them;
//  2. it copies every file into Data, checking each against the
//     manifest's size and hash as it is written;
//  3. it opens the copy's keys with Secret and checks the manifest's
//     signature with the audit keys inside (which only the root key
//     unseals, so nobody without the secret can make them), and that the
//     copy's audit log holds the tree the manifest names;
//  4. it re-applies every erasure of the journal: each subject ref's live
//     data keys, records and token entries are destroyed, each with an
//     erase entry in the audit log (rule restore:erasure-journal);
//  5. it records the restore (an admin entry with rule
//     restore:<backup time>:<manifest hash>) in the same commit that
//     removes the restore-pending mark, and signs a checkpoint.
//
// Until step 5 commits, no node serves the directory (ErrRestorePending).
// On any error Data is removed again, so that the restore can be run
// anew.
//
// With c.Store set, Restore re-applies the journal in place to a
// PostgreSQL database restored with the database's own tools instead
// (restorePostgres).
//
// Errors: wrap backup.ErrInvalid for a backup that does not verify;
// keyring.ErrWrongSecret for a wrong secret; in words otherwise.
func Restore(ctx context.Context, c RestoreConfig) (_ *Restored, err error) {
	if c.Store != "" {
		return restorePostgres(ctx, c)
	}
	pr, log, err := c.check("backup")
	if err != nil {
		return nil, err
	}
	su := suiteOf(pr)
	h, sig := su.Hash(), su.Signature()
	origin := "domicile/" + c.Region
	b, err := backup.Open(c.From)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	switch {
	case m.Region != c.Region:
		return nil, fmt.Errorf("%w: it is a backup of region %s, not %s", backup.ErrInvalid, m.Region, c.Region)
	case m.Suite != string(su.ID()):
		return nil, fmt.Errorf("%w: its manifest names suite %s; region %s runs %s", backup.ErrInvalid, m.Suite, c.Region, su.ID())
	case m.Store != "pebble":
		return nil, fmt.Errorf("%w: a backup of a %s store", backup.ErrInvalid, m.Store)
	}
	if len(c.PinnedKeys) > 0 {
		if err := b.VerifySignature(origin, c.PinnedKeys, sig, h); err != nil {
			return nil, fmt.Errorf("%w (with the keys given)", err)
		}
	}
	if des, err := os.ReadDir(c.Data); err == nil && len(des) > 0 {
		return nil, fmt.Errorf("restore: %s is not empty: give a new data directory", c.Data)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(c.Data)
		}
	}()
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	var progress func(int64)
	if c.Progress != nil {
		progress = func(n int64) { c.Progress(n, total) }
	}
	if err := backup.CopyStore(c.From, c.Data, m, h, progress); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, RegionConfig{Policy: c.Policy, Name: c.Region, Dir: c.Data})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	mark, err := st.Get(ctx, backup.PendingKey)
	if err != nil {
		return nil, fmt.Errorf("%w: its store has no restore-pending mark (%v): it was not made by 'domicile backup'", backup.ErrInvalid, err)
	}
	kr, err := keyring.Open(ctx, keyring.Options{Region: c.Region, Suite: su, Store: st, Secret: c.Secret, KDF: c.KDF})
	if err != nil {
		return nil, fmt.Errorf("region %s: opening the backup's keys: %w", c.Region, err)
	}
	defer kr.Close()
	aks, err := kr.AuditKeys(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]crypto.PublicKey, len(aks))
	for i, k := range aks {
		keys[i] = k.Public
	}
	if err := b.VerifySignature(origin, keys, sig, h); err != nil {
		return nil, fmt.Errorf("%w (with the audit keys inside the backup)", err)
	}
	alog, err := openAudit(ctx, RegionConfig{Policy: c.Policy, Name: c.Region}, kr, st, log)
	if err != nil {
		return nil, fmt.Errorf("region %s: audit log: %w", c.Region, err)
	}
	defer alog.Close()
	if err := checkAuditState(ctx, alog.Root, alog.Sync, alog.Size, m.Audit); err != nil {
		return nil, err
	}
	tok, err := tokens.New(tokens.Options{Region: c.Region, Policy: c.Policy, Keyring: kr, Store: st})
	if err != nil {
		return nil, fmt.Errorf("region %s: tokens: %w", c.Region, err)
	}
	v, err := vault.New(vault.Options{Policy: c.Policy, Region: c.Region, Keyring: kr, Store: st, Tokens: tok, Audit: alog})
	if err != nil {
		return nil, err
	}
	out := &Restored{Manifest: m, Hash: b.Hash(h)}
	if err := reapplyErasures(ctx, v, c, out); err != nil {
		return nil, err
	}
	var fin store.Batch
	if err := recordRestore(ctx, alog, &fin, mark, "restore:"+m.Created.UTC().Format(time.RFC3339)+":"+out.Hash, c, out); err != nil {
		return nil, err
	}
	log.Warn("restore: region restored from a backup", "backup", m.Created, "erased", out.Erased)
	return out, nil
}

// reapplyErasures erases, through v, every subject of c's journal that
// still has data in the restored store, and counts in out what it did.
// It is the one erasure path of every restore (embedded or PostgreSQL).
// check refuses a restore without what it needs, the same for both kinds
// (what names the copy: backup or dump), and returns the region and the
// logger to use.
func (c RestoreConfig) check(what string) (*policy.Region, *slog.Logger, error) {
	pr, ok := c.Policy.Region(c.Region)
	if !ok {
		return nil, nil, fmt.Errorf("region %s is not in the policy", c.Region)
	}
	if c.Erasures == nil && !c.NoErasuresSinceBackup {
		return nil, nil, fmt.Errorf("restore: no erasure journal: give the journal of the erasures made since the %s, or state that there were none", what)
	}
	if len(c.Secret) == 0 {
		return nil, nil, fmt.Errorf("region %s: no unseal secret: a restore opens the %s's keys with it", c.Region, what)
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return pr, log, nil
}

func reapplyErasures(ctx context.Context, v *vault.Vault, c RestoreConfig, out *Restored) error {
	for i, e := range c.Erasures {
		n, erased, err := v.EraseRef(ctx, e.Ref, vault.Actor{Rule: "restore:erasure-journal"})
		if err != nil {
			return fmt.Errorf("restore: re-applying the erasure of %s: %w", e.Time.UTC().Format(time.RFC3339), err)
		}
		if erased {
			out.Erased++
			out.Records += n
		} else {
			out.Skipped++
		}
		if c.OnErasure != nil {
			c.OnErasure(i+1, len(c.Erasures))
		}
	}
	return nil
}

// recordRestore commits fin (the caller's own operations, if any) with the
// removal of the restore-pending mark (which must still hold mark) and
// the audit entries of the restore: rule, and, when the operator stated
// that nothing was erased since the backup, that statement. Then it signs
// a checkpoint and sets out.AuditSize.
func recordRestore(ctx context.Context, alog *audit.Log, fin *store.Batch, mark []byte, rule string, c RestoreConfig, out *Restored) error {
	fin.Expect(backup.PendingKey, mark)
	fin.Delete(backup.PendingKey)
	entries := []entry.Entry{{Action: entry.Admin, Decision: "allow", Outcome: entry.OK, Rule: rule}}
	if c.NoErasuresSinceBackup && len(c.Erasures) == 0 {
		entries = append(entries, entry.Entry{Action: entry.Admin, Decision: "allow", Outcome: entry.OK, Rule: "restore:no-erasures-since-backup"})
	}
	from := alog.Size()
	if err := alog.Apply(ctx, fin, entries...); err != nil {
		return fmt.Errorf("restore: recording the restore: %w", err)
	}
	if err := awaitRecorded(ctx, alog, from, rule); err != nil {
		return err
	}
	if _, err := alog.Checkpoint(ctx); err != nil {
		return fmt.Errorf("restore: signing a checkpoint: %w", err)
	}
	out.AuditSize, out.Rule = alog.Size(), rule
	return nil
}

// awaitRecorded waits until the admin entry of rule, appended at index
// from or later, is in the integrated tree, so that the restore's
// checkpoint covers it and every node lists it at once. A copy of a live
// store (a dump, a checkpoint) may hold indexes reserved by processes that
// the copy no longer has: the restore's own entries come after them, and
// Sync fills them with void entries once they are audit.DefaultVoidGrace
// old.
func awaitRecorded(ctx context.Context, alog *audit.Log, from uint64, rule string) error {
	deadline := time.Now().Add(time.Minute) // a bound on a stuck log, not a speed limit
	for {
		if err := alog.Sync(ctx); err != nil {
			return fmt.Errorf("restore: integrating the audit log: %w", err)
		}
		cursor := strconv.FormatUint(from, 10)
		for cursor != "" {
			es, next, err := alog.List(ctx, audit.Filter{Action: entry.Admin}, cursor, audit.MaxListLimit)
			if err != nil {
				return fmt.Errorf("restore: reading the audit log: %w", err)
			}
			for _, e := range es {
				if e.Rule == rule && e.Index < alog.Size() {
					return nil
				}
			}
			cursor = next
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restore: the audit log did not integrate the restore's entry (integrated size %d); run the restore again", alog.Size())
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// checkAuditState checks that the restored log holds the tree the
// manifest names: its root at the manifest's size.
func checkAuditState(ctx context.Context, root func(context.Context, uint64) ([]byte, error), sync func(context.Context) error,
	size func() uint64, want backup.AuditState) error {
	if err := sync(ctx); err != nil {
		return fmt.Errorf("restore: the backup's audit log: %w", err)
	}
	if size() < want.Size {
		return fmt.Errorf("%w: its audit log has %d entries, the manifest says %d", backup.ErrInvalid, size(), want.Size)
	}
	got, err := root(ctx, want.Size)
	if err != nil {
		return fmt.Errorf("restore: the backup's audit log: %w", err)
	}
	if !strings.EqualFold(hex.EncodeToString(got), want.Root) {
		return fmt.Errorf("%w: its audit log's tree of size %d does not have the manifest's root", backup.ErrInvalid, want.Size)
	}
	return nil
}
