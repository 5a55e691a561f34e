package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/memstore"
)

// fakeDB is a store whose database identity the test sets.
type fakeDB struct {
	*memstore.Store
	id  string
	err error
}

func (f *fakeDB) Identity(context.Context) (string, error) { return f.id, f.err }

// TestRefuseRestoredDatabase: a PostgreSQL store is bound to its database
// by the first open and refused (ErrRestorePending, naming the restore
// command) once it is opened as another database: a loaded dump. An
// unknown identity binds and refuses nothing; a restore-pending mark is
// refused whatever the identity; a failed identity read is an error, not
// a refusal.
func TestRefuseRestoredDatabase(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("connection reset")
	tests := []struct {
		name    string
		bound   string // identity stored before ("" none)
		pending bool
		id      string
		idErr   error
		wantErr error  // nil: opens
		wantIn  string // in the error
		binds   string // the binding after ("" none)
	}{
		{name: "first open binds", id: "7/16384/public", binds: "7/16384/public"},
		{name: "same database", bound: "7/16384/public", id: "7/16384/public", binds: "7/16384/public"},
		{name: "loaded into another database", bound: "7/16384/public", id: "7/16999/public", wantErr: ErrRestorePending,
			wantIn: "domicile restore --region eu-central --store URL --erasures JOURNAL", binds: "7/16384/public"},
		{name: "loaded into another schema", bound: "7/16384/public", id: "7/16384/restored", wantErr: ErrRestorePending, binds: "7/16384/public"},
		{name: "another cluster", bound: "7/16384/public", id: "8/16384/public", wantErr: ErrRestorePending, binds: "7/16384/public"},
		{name: "unknown identity binds nothing", id: ""},
		{name: "unknown identity refuses nothing", bound: "7/16384/public", id: "", binds: "7/16384/public"},
		{name: "restore pending", pending: true, id: "7/16384/public", wantErr: ErrRestorePending, wantIn: "--store URL"},
		{name: "identity unreadable", id: "", idErr: boom, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeDB{Store: memstore.New(), id: tt.id, err: tt.idErr}
			var b store.Batch
			if tt.bound != "" {
				b.Put(databaseKey, []byte(tt.bound))
			}
			if tt.pending {
				b.Put(backup.PendingKey, []byte("postgres restore started 2026-01-01T00:00:00Z"))
			}
			if err := st.Apply(ctx, &b); err != nil {
				t.Fatal(err)
			}
			err := refuseRestorePending(ctx, st, "eu-central")
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			case err != nil && !strings.Contains(err.Error(), tt.wantIn):
				t.Errorf("err = %v, want it to say %q", err, tt.wantIn)
			}
			got, gerr := st.Get(ctx, databaseKey)
			switch {
			case tt.binds == "" && !errors.Is(gerr, store.ErrNotFound):
				t.Errorf("bound to %q, want no binding", got)
			case tt.binds != "" && string(got) != tt.binds:
				t.Errorf("bound to %q (%v), want %q", got, gerr, tt.binds)
			}
		})
	}
}
