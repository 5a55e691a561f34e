package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// TestIdentity: a database keeps its identity across opens; another
// database, or another schema of the same one (where a dump could be
// loaded), has another; a closed store says so.
func TestIdentity(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	other := pgtest.NewDatabase(t)
	id := func(dsn string) string {
		t.Helper()
		s := openTest(t, dsn, Options{})
		got, err := s.Identity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(got, "/") != 2 {
			t.Fatalf("identity %q is not SYSID/OID/SCHEMA", got)
		}
		return got
	}
	first := id(db)
	tests := []struct {
		name string
		dsn  string
		same bool
	}{
		{"the same database, opened again", db, true},
		{"another database", other, false},
		{"another schema of the same database", pgtest.NewSchema(t, db), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := id(tt.dsn); (got == first) != tt.same {
				t.Errorf("identity %q, first %q: same %v, want %v", got, first, got == first, tt.same)
			}
		})
	}
	s := openTest(t, db, Options{})
	_ = s.Close()
	if _, err := s.Identity(ctx); err == nil {
		t.Error("Identity of a closed store: no error")
	}
}
