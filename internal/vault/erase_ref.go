package vault

import (
	"context"
	"fmt"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
)

// Backup and restore support: a restore re-applies the erasures of an
// erasure journal, which names subjects only by their refs (the keyed
// MACs of the audit log), and a backup copies the vault's store.

// EraseRef erases the subject whose ref (keyring.SubjectRef) is ref, as
// EraseSubject does for a subject id: it destroys the subject's live data
// keys and deletes its records, their indexes and the live entries of its
// fpe tokens, committed in one batch with an erase entry naming ref (with
// who's rule) in the audit log. A subject with no live key and no records
// (erased already, or never in this store) is left as it is: EraseRef
// then writes nothing and returns erased false.
//
// It is meant for a store no other process serves (a restore before its
// region serves); the ref is never checked against a subject id.
//
// Errors: CodeInvalidSubject for a ref of the wrong length; those of
// EraseSubject.
func (v *Vault) EraseRef(ctx context.Context, ref []byte, who Actor) (records int, erased bool, err error) {
	if len(ref) < entry.MinMAC || len(ref) > entry.MaxMAC || len(ref) != len(v.keys.SubjectRef("")) {
		return 0, false, errorf(CodeInvalidSubject, "a subject ref of %d bytes is not one of region %s", len(ref), v.region.Name)
	}
	var b store.Batch
	ids, err := v.eraseOps(ctx, ref, &b)
	if err != nil {
		return 0, false, err
	}
	live, done, err := v.keys.DestroySubjectKeyByRef(ctx, ref, &b)
	if err != nil {
		return 0, false, fmt.Errorf("vault: erase: %w", err)
	}
	if !live && b.Len() == 0 {
		done()
		return 0, false, nil
	}
	err = v.apply(ctx, who, &b, who.entry(entry.Erase, "", ids, nil, ref))
	done()
	if err != nil {
		return 0, false, fmt.Errorf("vault: erase: %w", err)
	}
	return len(ids), true, nil
}

// Snapshotter returns the vault's store as a store.Snapshotter, and
// whether it is one (the embedded store is; PostgreSQL is not).
func (v *Vault) Snapshotter() (store.Snapshotter, bool) {
	s, ok := v.st.(store.Snapshotter)
	return s, ok
}
