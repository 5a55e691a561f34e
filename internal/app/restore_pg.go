package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
)

// A region on PostgreSQL is backed up with the database's own tools
// (pg_dump, pg_basebackup); what Domicile adds is the erasure journal and
// the guarantee that a restored database does not serve before it is
// re-applied. Two things keep a restored database from serving:
//
//   - The database's identity (postgres.Store.Identity: system identifier,
//     database OID, schema) is bound in the store (key databaseKey) by the
//     first node that serves it, and by every restore. A dump loaded into
//     another database or schema carries the old binding, which no longer
//     matches: every node refuses it (ErrRestorePending) until 'domicile
//     restore --store' has re-applied the journal and bound it anew.
//   - The restore sets the restore-pending mark (backup.PendingKey) before
//     it changes anything and lifts it in the commit that records the
//     restore, as the embedded restore does: a restore that stops half-way
//     leaves a database no node serves, and a physical copy (which keeps
//     its identity) is covered as long as the restore runs before a node
//     starts on it.

// databaseKey holds the identity of the database the region's nodes last
// served from (postgres.Store.Identity), in clear: it holds no personal
// data.
var databaseKey = []byte("b/database")

// identifier is a store that can tell its database apart from a copy of it
// (*postgres.Store).
type identifier interface {
	Identity(ctx context.Context) (string, error)
}

// checkDatabase binds st to its database on the first start, and fails
// with ErrRestorePending when st was bound to another database: it was
// restored from a dump (or copied) and its erasures were not re-applied.
// An unknown identity (a server without pg_control_system) binds nothing
// and refuses nothing.
func checkDatabase(ctx context.Context, st store.Store, id identifier, region string) error {
	cur, err := id.Identity(ctx)
	if err != nil {
		return fmt.Errorf("region %s: reading the database's identity: %w", region, err)
	}
	if cur == "" {
		return nil
	}
	for range 3 {
		bound, err := st.Get(ctx, databaseKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			var b store.Batch
			b.Expect(databaseKey, nil)
			b.Put(databaseKey, []byte(cur))
			err := st.Apply(ctx, &b)
			if errors.Is(err, store.ErrConflict) {
				continue // another node bound it at the same moment: compare
			}
			if err != nil {
				return fmt.Errorf("region %s: binding the store to its database: %w", region, err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("region %s: reading the store's database: %w", region, err)
		case string(bound) == cur:
			return nil
		}
		return fmt.Errorf("region %s: %w: the store was last served from another database (%s; this is %s), so it is a restored dump or a copy; "+
			"re-apply the erasures made since with 'domicile restore --region %s --store URL --erasures JOURNAL' (or --no-erasures-since-backup "+
			"if it is the same data, moved), then start the nodes",
			region, ErrRestorePending, printable(bound), cur, region)
	}
	return fmt.Errorf("region %s: binding the store to its database: %w", region, store.ErrConflict)
}

// restorePostgres re-applies the erasure journal to a region's PostgreSQL
// database restored with the database's own tools (pg_restore, psql, a
// physical copy), in place, with no node serving it:
//
//  1. it opens the database (claimed by the region: a dump of another
//     region is refused) and sets the restore-pending mark, so that no
//     node serves it until step 4 commits;
//  2. it opens the region's keys with Secret and the audit log;
//  3. it re-applies every erasure of the journal (reapplyErasures, the
//     path of the embedded restore), each with its own erase entry;
//  4. it records the restore (an admin entry with rule
//     restore:<time of the newest audit entry before it>:postgres) in the
//     commit that lifts the mark and binds the store to this database,
//     and signs a checkpoint.
//
// Run again after a failure, it goes on: erasures already re-applied are
// skipped.
func restorePostgres(ctx context.Context, c RestoreConfig) (_ *Restored, err error) {
	if !IsPostgresURL(c.Store) {
		return nil, errors.New("restore: --store must be a postgres:// URL")
	}
	pr, log, err := c.check("dump")
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, RegionConfig{Policy: c.Policy, Name: c.Region, Store: c.Store})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	var cur string
	if id, ok := st.(identifier); ok {
		if cur, err = id.Identity(ctx); err != nil {
			return nil, fmt.Errorf("region %s: reading the database's identity: %w", c.Region, err)
		}
	}
	mark, err := setPending(ctx, st, c.Region)
	if err != nil {
		return nil, err
	}
	kr, err := keyring.Open(ctx, keyring.Options{Region: c.Region, Suite: suiteOf(pr), Store: st, Secret: c.Secret, KDF: c.KDF})
	if err != nil {
		return nil, fmt.Errorf("region %s: opening the database's keys: %w", c.Region, err)
	}
	defer kr.Close()
	alog, err := openAudit(ctx, RegionConfig{Policy: c.Policy, Name: c.Region}, kr, st, log)
	if err != nil {
		return nil, fmt.Errorf("region %s: audit log: %w", c.Region, err)
	}
	defer alog.Close()
	if err := alog.Sync(ctx); err != nil {
		return nil, fmt.Errorf("restore: the database's audit log: %w", err)
	}
	// The newest entry before the restore names what was restored: the
	// dump holds the log up to about then.
	upTo := "empty-log"
	if n := alog.Size(); n > 0 {
		_, e, err := alog.Entry(ctx, n-1)
		if err != nil {
			return nil, fmt.Errorf("restore: the database's audit log: %w", err)
		}
		upTo = e.Time.UTC().Format(time.RFC3339)
	}
	tok, err := tokens.New(tokens.Options{Region: c.Region, Policy: c.Policy, Keyring: kr, Store: st})
	if err != nil {
		return nil, fmt.Errorf("region %s: tokens: %w", c.Region, err)
	}
	v, err := vault.New(vault.Options{Policy: c.Policy, Region: c.Region, Keyring: kr, Store: st, Tokens: tok, Audit: alog})
	if err != nil {
		return nil, err
	}
	out := &Restored{}
	if err := reapplyErasures(ctx, v, c, out); err != nil {
		return nil, err
	}
	var fin store.Batch
	if cur != "" {
		fin.Put(databaseKey, []byte(cur))
	}
	if err := recordRestore(ctx, alog, &fin, mark, "restore:"+upTo+":postgres", c, out); err != nil {
		return nil, err
	}
	log.Warn("restore: region's database restored", "erased", out.Erased, "skipped", out.Skipped)
	return out, nil
}

// setPending sets the restore-pending mark unless it is set already (a
// restore that stopped half-way), and returns its value.
func setPending(ctx context.Context, st store.Store, region string) ([]byte, error) {
	mark, err := st.Get(ctx, backup.PendingKey)
	switch {
	case err == nil:
		return mark, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("region %s: reading the restore mark: %w", region, err)
	}
	mark = []byte("postgres restore started " + time.Now().UTC().Format(time.RFC3339))
	var b store.Batch
	b.Expect(backup.PendingKey, nil)
	b.Put(backup.PendingKey, mark)
	if err := st.Apply(ctx, &b); err != nil {
		return nil, fmt.Errorf("region %s: setting the restore mark: %w", region, err)
	}
	return mark, nil
}
