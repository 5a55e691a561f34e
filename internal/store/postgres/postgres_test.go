package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
	"github.com/domicile/domicile/internal/store/storetest"
)

// These tests need the PostgreSQL test server (see package pgtest): they
// skip with instructions when it is down, and fail instead when CI is set.

func openTest(tb testing.TB, dsn string, opts Options) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	db := pgtest.NewDatabase(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, pgtest.NewSchema(t, db), Options{})
	})
}

func BenchmarkConformance(b *testing.B) {
	db := pgtest.NewDatabase(b)
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		return openTest(b, pgtest.NewSchema(b, db), Options{})
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	s := openTest(t, dsn, Options{Region: "eu-central"})
	var b store.Batch
	b.Put([]byte("k"), []byte("v"))
	b.Add([]byte("n"), 41)
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dsn, Options{Region: "eu-central"})
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
		t.Errorf("after reopen Get(k) = %q, %v; want v", v, err)
	}
	if n, err := s.Counter(ctx, []byte("n")); err != nil || n != 41 {
		t.Errorf("after reopen Counter(n) = %d, %v; want 41", n, err)
	}
}

func TestTwoStoresOneDatabase(t *testing.T) {
	// Two nodes of one region: what one commits the other reads, and an
	// Insert on one conflicts with the other's.
	ctx := context.Background()
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	a := openTest(t, dsn, Options{Region: "r"})
	b := openTest(t, dsn, Options{Region: "r"})
	var batch store.Batch
	batch.Insert([]byte("k"), []byte("from a"))
	batch.Add([]byte("n"), 1)
	if err := a.Apply(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, []byte("k")); err != nil || string(v) != "from a" {
		t.Errorf("node b: Get(k) = %q, %v; want node a's write", v, err)
	}
	batch.Reset()
	batch.Insert([]byte("k"), []byte("from b"))
	if err := b.Apply(ctx, &batch); !errors.Is(err, store.ErrConflict) {
		t.Errorf("node b: Insert of node a's key: error = %v, want ErrConflict", err)
	}
	batch.Reset()
	batch.Add([]byte("n"), 2)
	if err := b.Apply(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Counter(ctx, []byte("n")); err != nil || n != 3 {
		t.Errorf("node a: Counter(n) = %d, %v; want 3", n, err)
	}
}

func TestRegion(t *testing.T) {
	db := pgtest.NewDatabase(t)
	cases := []struct {
		name   string
		first  string
		second string
		ok     bool
	}{
		{name: "ok/same-region", first: "eu-central", second: "eu-central", ok: true},
		{name: "ok/unnamed-open-skips-check", first: "eu-central", second: "", ok: true},
		{name: "ok/first-named-open-claims", first: "", second: "cn-north", ok: true},
		{name: "fail/other-region", first: "eu-central", second: "cn-north"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.NewSchema(t, db)
			openTest(t, dsn, Options{Region: tc.first})
			s, err := Open(context.Background(), dsn, Options{Region: tc.second})
			if tc.ok {
				if err != nil {
					t.Fatalf("Open error = %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("Open of another region's database succeeded")
			}
			if !errors.Is(err, ErrRegionMismatch) {
				t.Errorf("Open error = %v, want ErrRegionMismatch", err)
			}
			for _, want := range []string{"holds region eu-central's data", "each region needs its own database"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open error = %q, want it to say %q", err, want)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Run("fail/dsn-hides-password", func(t *testing.T) {
		_, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:5432/db?sslmode=bogus", Options{})
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open error = %v, want an error without the password", err)
		}
	})
	t.Run("fail/unreachable", func(t *testing.T) {
		// Port 1 on 127.0.0.1 refuses connections.
		_, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", Options{})
		if err == nil {
			t.Fatal("Open of an unreachable server succeeded")
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open error %q contains the password", err)
		}
	})
}

// countMigrations returns the rows of schema_migrations.
func countMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	embedded, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/fresh", func(t *testing.T) {
		s := openTest(t, pgtest.NewSchema(t, db), Options{})
		if got := countMigrations(t, s); got != len(embedded) {
			t.Errorf("schema_migrations has %d rows, want %d", got, len(embedded))
		}
		for _, table := range []string{"kv", "counters", "domicile_meta"} {
			var ok bool
			if err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
				t.Errorf("table %s missing (%v)", table, err)
			}
		}
	})
	t.Run("ok/rerun-is-idempotent", func(t *testing.T) {
		dsn := pgtest.NewSchema(t, db)
		for range 3 {
			s := openTest(t, dsn, Options{})
			if got := countMigrations(t, s); got != len(embedded) {
				t.Errorf("schema_migrations has %d rows, want %d", got, len(embedded))
			}
			s.Close()
		}
	})
	t.Run("ok/concurrent-start", func(t *testing.T) {
		dsn := pgtest.NewSchema(t, db)
		const nodes = 8
		stores := make([]*Store, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { stores[i], errs[i] = Open(ctx, dsn, Options{Region: "eu-central", MaxConns: 2}) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("node %d: Open error = %v", i, err)
			}
			defer stores[i].Close()
		}
		if got := countMigrations(t, stores[0]); got != len(embedded) {
			t.Errorf("schema_migrations has %d rows, want %d", got, len(embedded))
		}
	})
	t.Run("ok/upgrade-applies-only-new", func(t *testing.T) {
		dsn := pgtest.NewSchema(t, db)
		s := openTest(t, dsn, Options{})
		next := migration{version: len(embedded) + 1, name: "9999_test", sql: "CREATE TABLE upgraded (x int); INSERT INTO upgraded VALUES (1);"}
		migs := append(append([]migration(nil), embedded...), next)
		for range 2 {
			if err := migrate(ctx, s.pool, migs, ""); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM upgraded").Scan(&n); err != nil || n != 1 {
			t.Errorf("the new migration ran %d times (%v), want once", n, err)
		}
		// The binary that knows fewer versions refuses the newer schema.
		if err := migrate(ctx, s.pool, embedded, ""); !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("migrate with older migrations: error = %v, want ErrSchemaTooNew", err)
		}
	})
	t.Run("fail/broken-migration-rolls-back", func(t *testing.T) {
		dsn := pgtest.NewSchema(t, db)
		s := openTest(t, dsn, Options{})
		bad := migration{version: len(embedded) + 1, name: "9999_bad", sql: "CREATE TABLE half (x int); SELECT no_such_function();"}
		if err := migrate(ctx, s.pool, append(append([]migration(nil), embedded...), bad), ""); err == nil {
			t.Fatal("a failing migration succeeded")
		}
		var exists bool
		if err := s.pool.QueryRow(ctx, "SELECT to_regclass('half') IS NOT NULL").Scan(&exists); err != nil || exists {
			t.Errorf("a failed migration left its table behind (%v)", err)
		}
		if got := countMigrations(t, s); got != len(embedded) {
			t.Errorf("schema_migrations has %d rows, want %d", got, len(embedded))
		}
	})
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name  string
		files fstest.MapFS
		want  int
		fail  bool
	}{
		{name: "ok/ordered", files: fstest.MapFS{"m/0002_b.sql": file("b"), "m/0001_a.sql": file("a"), "m/README": file("x")}, want: 2},
		{name: "fail/gap", files: fstest.MapFS{"m/0001_a.sql": file("a"), "m/0003_c.sql": file("c")}, fail: true},
		{name: "fail/bad-name", files: fstest.MapFS{"m/init.sql": file("a")}, fail: true},
		{name: "fail/zero", files: fstest.MapFS{"m/0000_a.sql": file("a")}, fail: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := loadMigrations(tc.files, "m")
			if tc.fail {
				if err == nil {
					t.Fatalf("loadMigrations = %d migrations, want an error", len(migs))
				}
				return
			}
			if err != nil || len(migs) != tc.want {
				t.Fatalf("loadMigrations = %d, %v; want %d", len(migs), err, tc.want)
			}
			for i, m := range migs {
				if m.version != i+1 {
					t.Errorf("migration %d has version %d", i, m.version)
				}
			}
		})
	}
}
