package audit

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// rehashPage is how many entries Rehash reads at a time, and about how
// many tiles it writes in one batch.
const rehashPage = 4096

// Rehash moves the log's tree to hash h, as a region that migrated suite
// does (docs/suite-migration.md). It integrates what is stored and signs a
// checkpoint of the tree under the old hash, builds the tree of the same
// entries under h in a key space of its own (a/h/<hash id>/), and then
// switches to it in one batch conditioned on the tree size it built and on
// the hash it replaced. Later checkpoints are of h and their alg line names
// it; the earlier ones stay verifiable, as Verify recomputes one tree per
// hash its checkpoints name. Entries are never rewritten. Another process
// of the region finds the switch at its next integration (a conflict on
// the marker) and reloads.
//
// It returns the size of the tree at the switch and the old tree's root at
// that size (the last checkpoint under the old hash covers it), for the
// entry that links the two trees. A crash before the switch leaves the old
// tree in force (the new key space is built again by the next call).
// Calling it with the tree's hash already is a no-op that returns the size
// and root of the tree in force.
//
// Errors: the store's, wrapped; one wrapping store.ErrConflict when another
// process integrated or switched meanwhile (call again).
func (l *Log) Rehash(ctx context.Context, h suite.Hash) (size uint64, oldRoot []byte, err error) {
	l.integMu.Lock()
	defer l.integMu.Unlock()
	if err := l.passLocked(ctx, true, true); err != nil {
		return 0, nil, fmt.Errorf("audit: rehash: %w", err)
	}
	old := l.tree.Load()
	size, oldRoot = l.front.Size(), l.front.Root(old.h)
	if old.h.ID() == h.ID() {
		return size, oldRoot, nil
	}
	tree := &treeHash{h: h, tiles: tilePrefix(h), raw: []byte(h.ID())}
	f, err := tlog.NewFrontier(0, nil)
	if err != nil {
		return 0, nil, err
	}
	tw := newTileWriter(h.Size(), tree.tiles, nil)
	for next := uint64(0); next < size; {
		kvs, err := l.st.Scan(ctx, entryKey(next), entryKey(size), rehashPage)
		if err != nil {
			return 0, nil, fmt.Errorf("audit: rehash: reading entries: %w", err)
		}
		for _, kv := range kvs {
			if i := binary.BigEndian.Uint64(kv.Key[len(prefixEntry):]); i != next {
				return 0, nil, fmt.Errorf("audit: rehash: %w: entry %d is missing from the integrated tree", ErrCorrupt, next)
			}
			f.Append(h, tlog.LeafHash(h, kv.Value), tw.emit)
			next++
		}
		if len(kvs) == 0 {
			return 0, nil, fmt.Errorf("audit: rehash: %w: entry %d is missing from the integrated tree", ErrCorrupt, next)
		}
		if tw.err != nil {
			return 0, nil, tw.err
		}
		if next < size && len(tw.touched) >= rehashPage/tileWidth {
			// Tiles of the new key space: not in force until the switch.
			var b store.Batch
			tw.write(&b)
			if err := l.st.Apply(ctx, &b); err != nil {
				return 0, nil, fmt.Errorf("audit: rehash: writing the new tree: %w", err)
			}
			clear(tw.touched)
		}
	}
	var b store.Batch
	tw.write(&b)
	b.Expect(keySize, l.sizeRaw)
	b.Expect(keyHash, old.raw)
	b.Put(keyHash, tree.raw)
	if err := l.st.Apply(ctx, &b); err != nil {
		return 0, nil, fmt.Errorf("audit: rehash: switching the tree to %s: %w", h.ID(), err)
	}
	l.front, l.edges = f, tw.edges
	l.tree.Store(tree)
	return size, oldRoot, nil
}
