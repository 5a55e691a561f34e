package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	st, err := pebble.Open(dir, pebble.Options{Cache: c.Caches.blockCache()})
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
