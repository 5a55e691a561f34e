// Package pgtest gives tests their own PostgreSQL databases and schemas on
// the local test server, and decides what happens when there is none: skip
// with a hint locally, fail in CI (the environment variable CI is set), where
// PostgreSQL tests must never skip silently.
//
// The server is the one in the environment variable DOMICILE_TEST_PG, by
// default postgres://postgres@127.0.0.1:5432/test?sslmode=disable (trust
// authentication, as .ci/run sets it up).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable with the test server's DSN.
const EnvDSN = "DOMICILE_TEST_PG"

// DefaultDSN is the test server when EnvDSN is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// hint says how to get a local server.
const hint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start " +
	"(or point " + EnvDSN + " at a server where the user may create databases)"

// timeout bounds each administrative statement: a guard against a hung
// server, not a performance limit.
const timeout = time.Minute

// AdminDSN returns the DSN of the test server's administrative database.
func AdminDSN() string {
	if s := os.Getenv(EnvDSN); s != "" {
		return s
	}
	return DefaultDSN
}

// Require connects to the test server, or skips tb (fails it when CI is
// set) with instructions when the server is unreachable.
func Require(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL test server unreachable (%v); %s", err, hint)
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s\nCI is set: PostgreSQL tests must run, not skip", msg)
		}
		tb.Skip(msg)
	}
	conn.Close(ctx)
}

// NewDatabase creates a fresh database domicile_test_<random> on the test
// server, drops it (closing any connections left) when tb ends, and returns
// its DSN. It calls Require first.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	Require(tb)
	name := "domicile_test_" + randomSuffix()
	exec(tb, AdminDSN(), "CREATE DATABASE "+name)
	tb.Cleanup(func() {
		exec(tb, AdminDSN(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return WithDatabase(tb, AdminDSN(), name)
}

// NewSchema creates a fresh schema in the database at dsn and returns a DSN
// whose connections use it (search_path). The schema disappears with its
// database; NewSchema is for many small stores in one NewDatabase.
func NewSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	name := "s_" + randomSuffix()
	exec(tb, dsn, "CREATE SCHEMA "+name)
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " search_path=" + name
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// WithDatabase returns dsn with its database replaced by name.
func WithDatabase(tb testing.TB, dsn, name string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " dbname=" + name // key=value form: the last value wins
	}
	u.Path = "/" + name
	return u.String()
}

// Dump returns every key and value of the store in the database at dsn,
// for tests that check what a region's database holds.
func Dump(tb testing.TB, dsn string) (keys, values [][]byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT k, v FROM kv ORDER BY k")
	if err != nil {
		tb.Fatalf("pgtest: reading the store: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			tb.Fatalf("pgtest: reading the store: %v", err)
		}
		keys, values = append(keys, k), append(values, v)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("pgtest: reading the store: %v", err)
	}
	return keys, values
}

// Counter returns the value of a store counter in the database at dsn.
func Counter(tb testing.TB, dsn string, key []byte) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(sum(n), 0)::bigint FROM counters WHERE k = $1", key).Scan(&n); err != nil {
		tb.Fatalf("pgtest: reading a counter: %v", err)
	}
	return n
}

// Exec runs one statement in the database at dsn.
func Exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	exec(tb, dsn, sql)
}

func exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", strings.Fields(sql)[0], err)
	}
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
