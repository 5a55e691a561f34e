package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
)

// InclusionProof returns the audit path of entry index in the tree of the
// given size (at most Size()). A client checks it with
// tlog.VerifyInclusion against the root of a checkpoint of that size and
// tlog.LeafHash of the entry's bytes.
//
// Errors: ErrRange (wrapped) when index >= size or size > Size(); store
// errors, wrapped.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if size > l.Size() || index >= size {
		return nil, fmt.Errorf("audit: inclusion proof of %d in %d (tree size %d): %w", index, size, l.Size(), ErrRange)
	}
	t := l.tree.Load()
	p, err := tlog.InclusionProof(ctx, t.h, tileNodes{st: l.st, h: t.h, tiles: t.tiles}, index, size)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return p, nil
}

// ConsistencyProof returns the proof that the tree of size old is a prefix
// of the tree of size new (at most Size()); check it with
// tlog.VerifyConsistency.
//
// Errors: ErrRange (wrapped) when old > new or new > Size(); store errors,
// wrapped.
func (l *Log) ConsistencyProof(ctx context.Context, old, new uint64) ([][]byte, error) {
	if new > l.Size() || old > new {
		return nil, fmt.Errorf("audit: consistency proof %d -> %d (tree size %d): %w", old, new, l.Size(), ErrRange)
	}
	t := l.tree.Load()
	p, err := tlog.ConsistencyProof(ctx, t.h, tileNodes{st: l.st, h: t.h, tiles: t.tiles}, old, new)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return p, nil
}

// Root returns the root hash of the tree of the given size (at most
// Size()).
//
// Errors: ErrRange (wrapped); store errors, wrapped.
func (l *Log) Root(ctx context.Context, size uint64) ([]byte, error) {
	if size > l.Size() {
		return nil, fmt.Errorf("audit: root of size %d (tree size %d): %w", size, l.Size(), ErrRange)
	}
	t := l.tree.Load()
	r, err := tlog.Root(ctx, t.h, tileNodes{st: l.st, h: t.h, tiles: t.tiles}, size)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return r, nil
}

// Entry returns the stored bytes of entry index and their parse. The leaf
// hash is tlog.LeafHash(hash, raw).
//
// Errors: ErrRange (wrapped) when no entry is stored at index; ErrCorrupt
// (wrapped) when it does not parse; store errors, wrapped.
func (l *Log) Entry(ctx context.Context, index uint64) (raw []byte, e *entry.Entry, err error) {
	raw, err = l.st.Get(ctx, entryKey(index))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("audit: entry %d: %w", index, ErrRange)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("audit: entry %d: %w", index, err)
	}
	e, err = entry.Parse(raw)
	if err != nil || e.Index != index {
		return nil, nil, fmt.Errorf("audit: entry %d: %w", index, ErrCorrupt)
	}
	return raw, e, nil
}
