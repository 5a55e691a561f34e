package keyring

import (
	"context"

	"github.com/domicile/domicile/internal/envelope"
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
	if k.closed.Load() {
		return false, nil, ErrClosed
	}
	k.cache.evict(ref)
	done = func() { k.cache.evict(ref) }
	es, err := k.entries(ctx, ref)
	if err != nil {
		return false, nil, err
	}
	for _, e := range es {
		if e.dead {
			continue
		}
		live = true
		b.Delete(dekKey(ref, e.gen))
		b.Put(tombKey(ref, e.gen), tombstone())
		if h, _, err := envelope.Parse(e.env); err == nil {
			b.Add(dekCounter(h.KeyVersion), -1)
		}
	}
	return live, done, nil
}
