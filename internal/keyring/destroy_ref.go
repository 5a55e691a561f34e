package keyring

import (
	"context"
	"slices"

	"github.com/domicile/domicile/internal/store"
)

// DestroySubjectKeyByRef is DestroySubjectKey for a subject known only by
// its ref (SubjectRef), as an erasure journal names it: it adds to b the
// deletion of every live DEK of ref and a tombstone for each. Unlike
// DestroySubjectKey it adds nothing when ref has no live DEK (a subject
// erased already, or never seen), and reports whether it added anything;
// it is meant for a store that no other process serves (a restore), where
// no creation can race with it.
//
// The caller applies b, then calls done (whatever Apply returned).
//
// Errors: ErrClosed, store errors, wrapped; never the subject id, which it
// does not know.
func (k *Keyring) DestroySubjectKeyByRef(ctx context.Context, ref []byte, b *store.Batch) (live bool, done func(), err error) {
	es, done, err := k.destroyDEKs(ctx, ref, b)
	if err != nil {
		return false, nil, err
	}
	return slices.ContainsFunc(es, func(e dekEntry) bool { return !e.dead }), done, nil
}
