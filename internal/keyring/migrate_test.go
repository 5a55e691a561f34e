package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/suite"
)

// other returns the suite that is not s.
func other(s suite.Suite) suite.Suite {
	if s.ID() == suite.CN {
		return suite.IntlSuite()
	}
	return suite.CNSuite()
}

// TestMigrate moves a keyring to the other suite and checks that new work
// uses it, that what the old versions protect stays readable under theirs,
// and that both survive a reopen under either suite's name.
func TestMigrate(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		to := other(s)
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		k.rewrapPage = 3
		const n = 10
		olds := make([][]byte, n)
		for i := range n {
			olds[i] = sealField(t, subjectKey(t, k, st, fmt.Sprint("old", i)), s, fmt.Sprint("old value ", i))
		}
		bi1, _ := k.BlindIndex(1, "customers", "email", "a@example.com")
		tok1, _ := k.DeriveKey(Token, 1, "det", 32)
		oldAudit := k.AuditPublicKey()

		nvs, err := k.Migrate(ctx, to)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if len(nvs) != 4 || nvs[0].Version != 2 || nvs[3].AuditKey == nil {
			t.Fatalf("Migrate = %+v", nvs)
		}
		if k.Suite().ID() != to.ID() || k.Origin().ID() != s.ID() {
			t.Fatalf("Suite/Origin = %s/%s, want %s/%s", k.Suite().ID(), k.Origin().ID(), to.ID(), s.ID())
		}
		for _, p := range purposes {
			if k.CurrentVersion(p) != 2 {
				t.Errorf("%s current = v%d, want v2", p, k.CurrentVersion(p))
			}
			if got, _ := k.SuiteOf(p, 1); got.ID() != s.ID() {
				t.Errorf("%s v1 suite = %s", p, got.ID())
			}
			if got, _ := k.SuiteOf(p, 2); got.ID() != to.ID() {
				t.Errorf("%s v2 suite = %s", p, got.ID())
			}
			// The new versions are sealed with the new suite, under its root.
			env, err := st.Get(ctx, kekKey(p, 2))
			if err != nil {
				t.Fatal(err)
			}
			if h, _, _ := envelope.Parse(env); h.Suite != to.ID() {
				t.Errorf("%s v2 record sealed under %s", p, h.Suite)
			}
		}
		if _, err := k.Migrate(ctx, to); !errors.Is(err, ErrSameSuite) {
			t.Errorf("second Migrate: err = %v, want ErrSameSuite", err)
		}

		fresh := subjectKey(t, k, st, "fresh")
		if fresh.Suite != to.ID() || len(fresh.dek) != to.AEAD().KeySize() || storedKEKVersion(t, st, fresh) != 2 {
			t.Fatalf("new DEK: suite %s, %d bytes, under data v%d", fresh.Suite, len(fresh.dek), storedKEKVersion(t, st, fresh))
		}
		freshEnv := sealField(t, fresh, to, "fresh value")
		// An existing subject keeps its DEK, which now seals with the new
		// suite under a key derived from it (dek.go).
		old := subjectKey(t, k, st, "old0")
		if old.Suite != to.ID() || old.native.ID() != s.ID() || old.Version != 1 {
			t.Errorf("an existing subject's key: suite %s, native %s, v%d", old.Suite, old.native.ID(), old.Version)
		}
		if len(old.dek) != s.AEAD().KeySize() {
			t.Errorf("the DEK secret of suite %s has %d bytes", s.ID(), len(old.dek))
		}
		lateEnv := sealField(t, old, to, "written after the migration")
		bi2, err := k.BlindIndex(2, "customers", "email", "a@example.com")
		if err != nil || bytes.Equal(bi1, bi2) {
			t.Errorf("blind index v2 = %x, %v (v1 %x)", bi2, err, bi1)
		}
		if again, _ := k.BlindIndex(1, "customers", "email", "a@example.com"); !bytes.Equal(again, bi1) {
			t.Error("blind index v1 changed with the migration")
		}
		if tok2, err := k.DeriveKey(Token, 2, "det", 32); err != nil || bytes.Equal(tok1, tok2) {
			t.Errorf("token key v2: %v", err)
		}
		signer, _ := k.AuditSigner()
		sig, err := to.Signature().Sign(rand.Reader, signer, []byte("checkpoint"))
		if err != nil {
			t.Fatalf("signing with the new audit key: %v", err)
		}
		if err := to.Signature().Verify(k.AuditPublicKey(), []byte("checkpoint"), sig); err != nil {
			t.Fatal(err)
		}
		aks, _ := k.AuditKeys(ctx)
		if len(aks) != 2 || aks[0].Suite.ID() != s.ID() || aks[1].Suite.ID() != to.ID() || !samePub(t, s, aks[0].Public, oldAudit) {
			t.Errorf("audit keys = %+v", aks)
		}

		// Rewrap moves the old suite's DEKs under the new suite's data KEK;
		// each keeps its native suite, so the data of both suites opens.
		if err := k.Retire(ctx, Data, 1); !errors.Is(err, ErrInUse) {
			t.Errorf("Retire data v1 before rewrap: err = %v, want ErrInUse", err)
		}
		if moved, err := k.Rewrap(ctx, nil); err != nil || moved != n {
			t.Fatalf("Rewrap after Migrate = %d, %v, want %d", moved, err, n)
		}
		if err := k.Retire(ctx, Data, 1); err != nil {
			t.Errorf("Retire data v1 after rewrap: %v", err)
		}
		// A rotation after the migration stays in the new suite, and
		// Rewrap moves every DEK to it.
		if v, err := k.Rotate(ctx, Data); err != nil || v != 3 {
			t.Fatalf("Rotate = %d, %v", v, err)
		}
		if got, _ := k.SuiteOf(Data, 3); got.ID() != to.ID() {
			t.Errorf("data v3 suite = %s", got.ID())
		}
		if moved, err := k.Rewrap(ctx, nil); err != nil || moved != n+1 {
			t.Fatalf("Rewrap after Rotate = %d, %v, want %d", moved, err, n+1)
		}

		stt, err := k.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stt.Suite != string(to.ID()) || stt.Origin != string(s.ID()) {
			t.Errorf("status suite %s origin %s", stt.Suite, stt.Origin)
		}
		if vs := stt.Purposes[0].Versions; len(vs) != 3 || vs[0].Suite != string(s.ID()) || vs[0].DEKs != 0 || vs[0].State != Retired || vs[2].Suite != string(to.ID()) || vs[2].DEKs != n+1 {
			t.Errorf("data versions = %+v", vs)
		}

		// Another process opens the store under either name of the region's
		// suite and reads both generations of data.
		for _, name := range []suite.Suite{s, to} {
			k2 := mustOpen(t, opts(st, name))
			if k2.Suite().ID() != to.ID() {
				t.Errorf("reopened as %s: Suite = %s", name.ID(), k2.Suite().ID())
			}
			for i := range n {
				if got, err := openField(k2, fmt.Sprint("old", i), olds[i]); err != nil || got != fmt.Sprint("old value ", i) {
					t.Fatalf("old value %d: %q, %v", i, got, err)
				}
			}
			if got, err := openField(k2, "fresh", freshEnv); err != nil || got != "fresh value" {
				t.Fatalf("fresh value: %q, %v", got, err)
			}
			if got, err := openField(k2, "old0", lateEnv); err != nil || got != "written after the migration" {
				t.Fatalf("an old subject's value written after the migration: %q, %v", got, err)
			}
			if got, _ := k2.BlindIndex(1, "customers", "email", "a@example.com"); !bytes.Equal(got, bi1) {
				t.Error("blind index v1 differs after reopen")
			}
			if got, _ := k2.BlindIndex(2, "customers", "email", "a@example.com"); !bytes.Equal(got, bi2) {
				t.Error("blind index v2 differs after reopen")
			}
			if !bytes.Equal(k2.SubjectRef("old0"), k.SubjectRef("old0")) {
				t.Error("subject refs changed with the migration")
			}
			k2.Close()
		}
	})
}

// TestMigratedRecordSuiteMustMatch swaps the suite named by a migrated
// version's record: the header and the sealed record must agree, or the
// version is refused.
func TestMigratedRecordSuiteMustMatch(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		if _, err := k.Migrate(ctx, other(s)); err != nil {
			t.Fatal(err)
		}
		// Reseal token v2's record as format 1 (the origin suite's) under the
		// new suite's root: well sealed, but header and record disagree.
		kk, _ := k.lookup(Token, 2)
		rec := *kk.rec
		rec.suite = ""
		pt := rec.encode()
		root, _ := k.rootFor(other(s))
		env, err := envelope.Seal(root, rand.Reader, other(s).ID(), rootVersion, k.kekBinding(Token, 2), pt)
		if err != nil {
			t.Fatal(err)
		}
		k.Close()
		st.Set(kekKey(Token, 2), env)
		if _, err := Open(ctx, opts(st, s)); err == nil {
			t.Fatal("Open accepted a record whose suite disagrees with its seal")
		}
	})
}

// TestOpenRefusesOtherSuiteBeforeMigrate: before Migrate, a keyring opened
// under another suite than its own is refused.
func TestOpenRefusesOtherSuiteBeforeMigrate(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		mustOpen(t, opts(st, s)).Close()
		if _, err := Open(context.Background(), opts(st, other(s))); !errors.Is(err, ErrRegionMismatch) {
			t.Fatalf("Open as %s: err = %v, want ErrRegionMismatch", other(s).ID(), err)
		}
	})
}
