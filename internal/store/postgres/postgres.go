// Package postgres is the store.Store backend on PostgreSQL and
// PostgreSQL-compatible databases, through pgx and its connection pool.
//
// Layout: table kv holds every key and value (bytea, compared bytewise, so
// Scan's order is the other backends' order and every range or prefix scan
// is a walk of the primary key's B-tree); table counters holds each counter
// as a few shards that add up to its value; table domicile_meta names the
// region the database belongs to. The schema is created and upgraded by the
// embedded, versioned migrations when Open runs, under an advisory lock so
// that nodes starting together do not race.
//
// Apply sends the whole batch as one pipeline, which PostgreSQL runs as one
// implicit transaction: one round trip, all or nothing, durable when the
// server acknowledges the commit (synchronous_commit must stay on). An
// Insert is a plain INSERT, so a key that exists, in the table or earlier in
// the same batch, aborts the transaction with a unique violation, reported
// as store.ErrConflict. An Expect calls the SQL function domicile_expect
// (migration 0002), which locks the key (FOR UPDATE, or a placeholder row
// when the key must be absent) and raises a custom SQLSTATE on a mismatch,
// also reported as store.ErrConflict; the batch stays one round trip. A
// Claim calls domicile_claim (migration 0003), which inserts the key and
// the claim's pairs or returns the key's value, read back from the same
// pipeline.
// Operations on distinct keys are reordered by key so that concurrent
// batches lock rows in one global order and cannot deadlock.
//
// Several processes may open one database at once: that is how several
// stateless nodes serve one region. Databases are per region; Open refuses
// a database that another region's node claimed.
package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/domicile/domicile/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors Open returns (wrapped) that callers may branch on.
var (
	// ErrRegionMismatch: the database already holds another region's
	// data.
	ErrRegionMismatch = errors.New("postgres: database belongs to another region")
	// ErrSchemaTooNew: the database was upgraded by a newer binary.
	ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary")
)

// defaultMaxConns is the pool size when neither Options.MaxConns nor the
// DSN's pool_max_conns sets one.
const defaultMaxConns = 16

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Region, if set, is the region this store serves. The first Open of
	// a database records it; later Opens with another region fail with an
	// error wrapping ErrRegionMismatch.
	Region string
	// MaxConns bounds the connection pool; zero keeps the DSN's
	// pool_max_conns or else 16.
	MaxConns int32
}

// Store is a store.Store in one PostgreSQL database (and schema, by the
// DSN's search_path). It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool

	// mu is held shared by every operation and exclusively by Close, so
	// Close waits for operations in flight and later ones see closed.
	mu     sync.RWMutex
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string; parameters such as search_path and pool_max_conns are honoured),
// brings its schema up to date and checks that it belongs to opts.Region.
// Errors never include the DSN, which may hold a password.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis: say what is
		// wrong without quoting the string.
		return nil, errors.New("postgres: open: the connection string is not a valid PostgreSQL URL or key=value list")
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !hasParam(dsn, "pool_max_conns"):
		cfg.MaxConns = defaultMaxConns
	}
	// Durability is the server's commit: insist on it whatever the
	// server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := migrate(ctx, pool, migs, opts.Region)
		if err == nil {
			break
		}
		// Where advisory locks are not enforced (some PostgreSQL-compatible
		// databases), concurrent starts collide on the schema instead:
		// the loser's transaction rolls back and it looks again.
		if !startRace(err) || attempt == maxAttempts || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
		}
	}
	return &Store{pool: pool}, nil
}

// where names the database of cfg for messages: host, port and database,
// never the user or password.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("database %s on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
}

// startRace reports whether a migration failed because another node
// migrated at the same moment.
func startRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case codeUniqueViolation, codeSerializationFailure, codeDeadlockDetected, codeDuplicateTable:
		return true
	}
	return false
}

// hasParam reports whether the DSN sets parameter name, in URL query or
// key=value form.
func hasParam(dsn, name string) bool {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Has(name)
	}
	for _, f := range strings.Fields(dsn) {
		if strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

// acquire checks ctx and holds s.mu shared if the store is open; the caller
// releases s.mu when acquire returns nil.
func (s *Store) acquire(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	return nil
}

// wrap adds context to a database error; when ctx ended, the error wraps
// ctx.Err() so callers can tell cancellation apart.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("postgres: %s: %w (%v)", op, cerr, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := s.acquire(ctx, "get"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var v []byte
	err := s.pool.QueryRow(ctx, "SELECT v FROM kv WHERE k = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: get: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Scan implements store.Store. The bounds become a range condition on the
// primary key, so the database walks its index from start and stops after
// limit rows.
func (s *Store) Scan(ctx context.Context, start, end []byte, limit int) ([]store.KV, error) {
	if err := s.acquire(ctx, "scan"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if start == nil {
		start = []byte{}
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil, nil
	}
	var lim *int64 // NULL: LIMIT ALL
	if limit > 0 {
		n := int64(limit)
		lim = &n
	}
	var rows pgx.Rows
	var err error
	if end == nil {
		rows, err = s.pool.Query(ctx, "SELECT k, v FROM kv WHERE k >= $1 ORDER BY k LIMIT $2", start, lim)
	} else {
		rows, err = s.pool.Query(ctx, "SELECT k, v FROM kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3", start, end, lim)
	}
	if err != nil {
		return nil, wrap(ctx, "scan", err)
	}
	defer rows.Close()
	var kvs []store.KV
	for rows.Next() {
		var kv store.KV
		if err := rows.Scan(&kv.Key, &kv.Value); err != nil {
			return nil, wrap(ctx, "scan", err)
		}
		if kv.Value == nil {
			kv.Value = []byte{}
		}
		kvs = append(kvs, kv)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "scan", err)
	}
	return kvs, nil
}

// GetMany implements store.MultiGetter in one query, so that a batch of
// lookups (the deterministic tokens of a tokenize request) costs one round
// trip rather than one per key.
func (s *Store) GetMany(ctx context.Context, keys [][]byte) ([][]byte, error) {
	if err := s.acquire(ctx, "get many"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT k, v FROM kv WHERE k = ANY($1)", keys)
	if err != nil {
		return nil, wrap(ctx, "get many", err)
	}
	defer rows.Close()
	found := make(map[string][]byte, len(keys))
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, wrap(ctx, "get many", err)
		}
		if v == nil {
			v = []byte{}
		}
		found[string(k)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "get many", err)
	}
	for i, k := range keys {
		if v, ok := found[string(k)]; ok {
			out[i] = append([]byte{}, v...) // each result is the caller's, even for repeated keys
		}
	}
	return out, nil
}

// Counter implements store.Store.
func (s *Store) Counter(ctx context.Context, key []byte) (int64, error) {
	if err := s.acquire(ctx, "counter"); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	var n int64
	// sum(bigint) is numeric: shards may hold partial sums beyond int64
	// as long as the total fits.
	err := s.pool.QueryRow(ctx, "SELECT coalesce(sum(n), 0)::bigint FROM counters WHERE k = $1", key).Scan(&n)
	if err != nil {
		return 0, wrap(ctx, "counter", err)
	}
	return n, nil
}

// Close implements store.Store. It waits for operations in flight, then
// closes the pool; closing a closed Store does nothing and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.pool.Close()
	return nil
}
