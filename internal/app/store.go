package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/store/postgres"
)

// IsPostgresURL reports whether a store location names a PostgreSQL
// database (postgres:// or postgresql://) rather than a directory.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// SyncInterval is the least time between two syncs of a serving region's
// embedded store (pebble.Options.SyncInterval). Every acknowledged write
// still waits for its own sync; under many clients, commits that arrive
// just after a sync share the next. On the 2-core VM a fifth of a read's
// server CPU was fdatasync, a few commits per sync; interleaved runs of
// dev at 64 clients (3 rounds, medians): gets 4,778 to 6,439/s and 214 to
// 193 µs of server CPU each, creates 489 to 392 µs; one client over HTTP
// no slower (gets 1,475 and 1,559/s): a serving process is rarely idle
// long enough for Go's timer to fire late, as it does for a lone writer
// committing back to back (see pebble.Options.SyncInterval).
const SyncInterval = 250 * time.Microsecond

// openStore opens the region's store as c.Store says: a PostgreSQL URL
// opens that database, claimed for c.Name (several nodes may share it);
// anything else is a directory for the embedded Pebble store (c.Dir when
// c.Store is empty), which one process holds at a time.
func openStore(ctx context.Context, c RegionConfig) (store.Store, error) {
	if IsPostgresURL(c.Store) {
		st, err := postgres.Open(ctx, c.Store, postgres.Options{Region: c.Name})
		if err != nil {
			return nil, fmt.Errorf("region %s: open store: %w", c.Name, err)
		}
		return st, nil
	}
	dir := c.Store
	if dir == "" {
		dir = c.Dir
	}
	if dir == "" {
		return nil, fmt.Errorf("region %s: no store: give a data directory or a postgres:// URL", c.Name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("region %s: %w", c.Name, err)
	}
	st, err := pebble.Open(dir, pebble.Options{Cache: c.Caches.blockCache(), SyncInterval: SyncInterval})
	if err != nil {
		return nil, fmt.Errorf("region %s: open store: %w", c.Name, err)
	}
	return st, nil
}

// OpenRegionStore opens a region's store for offline tools (audit verify,
// export): a postgres:// URL or an embedded store directory. The region's
// node must not be running on an embedded directory (it holds its lock).
func OpenRegionStore(ctx context.Context, pol *policy.Policy, region, location string) (store.Store, error) {
	c := RegionConfig{Policy: pol, Name: region}
	if IsPostgresURL(location) {
		c.Store = location
	} else {
		// A tool must not create an empty store where none was: an empty
		// log would verify.
		if m, _ := filepath.Glob(filepath.Join(location, "MANIFEST-*")); len(m) == 0 {
			return nil, fmt.Errorf("region %s: %s holds no store", region, location)
		}
		c.Dir = location
	}
	return openStore(ctx, c)
}
