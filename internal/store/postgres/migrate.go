package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles are the schema's versioned migrations, NNNN_name.sql,
// applied in version order. A released migration is never edited: a change
// is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises the
// schema upgrades of every node starting against one database.
const migrationLock int64 = 0x646f6d6963696c65 // "domicile"

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads dir of fsys: files NNNN_name.sql whose versions run
// 1, 2, ... without gaps.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration %s: want a name like 0001_init.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("postgres: migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	// ReadDir sorts by name, and names start with zero-padded versions.
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: version %d, want %d (versions run 1, 2, ... without gaps)", m.name, m.version, i+1)
		}
	}
	return out, nil
}

// migrate brings the schema up to the last of migs and records or checks
// the region the database belongs to, all in one transaction under an
// advisory lock: of several nodes starting at once, one upgrades and the
// others then find nothing to do. An empty region skips the region check.
func migrate(ctx context.Context, pool *pgxpool.Pool, migs []migration, region string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: taking the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return fmt.Errorf("postgres: migrate: creating schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate: reading the schema version: %w", err)
	}
	if current > len(migs) {
		return fmt.Errorf("the database is at schema version %d, this binary knows up to %d; run a newer domicile (%w)",
			current, len(migs), ErrSchemaTooNew)
	}
	for _, m := range migs[current:] {
		// No arguments: the simple protocol runs every statement of the file.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migrate: applying %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("postgres: migrate: recording %s: %w", m.name, err)
		}
	}
	if region != "" {
		if err := claimRegion(ctx, tx, region); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

// claimRegion records region as the database's owner if it has none, and
// fails with ErrRegionMismatch if another region owns it.
func claimRegion(ctx context.Context, tx pgx.Tx, region string) error {
	if _, err := tx.Exec(ctx, "INSERT INTO domicile_meta (name, value) VALUES ('region', $1) ON CONFLICT (name) DO NOTHING", region); err != nil {
		return fmt.Errorf("postgres: recording the database's region: %w", err)
	}
	var owner string
	err := tx.QueryRow(ctx, "SELECT value FROM domicile_meta WHERE name = 'region'").Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.New("postgres: the database's region record vanished during open")
	}
	if err != nil {
		return fmt.Errorf("postgres: reading the database's region: %w", err)
	}
	if owner != region {
		return fmt.Errorf("database holds region %s's data, not %s's; each region needs its own database (%w)", owner, region, ErrRegionMismatch)
	}
	return nil
}
