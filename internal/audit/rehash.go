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
	if l.Hash().ID() == h.ID() {
		l.integMu.Lock()
		defer l.integMu.Unlock()
		return l.front.Size(), l.front.Root(h), nil
	}
	// The bulk of the new tree is built without holding up integration
	// (appends would otherwise back up behind it): the integrated entries
	// never change. The rest is added under the lock, just before the
	// switch.
	l.integMu.Lock()
	start := l.front.Size()
	l.integMu.Unlock()
	b := &rehashBuild{l: l, h: h, tiles: tilePrefix(h)}
	if b.f, err = tlog.NewFrontier(0, nil); err != nil {
		return 0, nil, err
	}
	b.tw = newTileWriter(h.Size(), b.tiles, nil)
	if err := b.extend(ctx, start); err != nil {
		return 0, nil, err
	}

	l.integMu.Lock()
	defer l.integMu.Unlock()
	if err := l.passLocked(ctx, true, true); err != nil {
		return 0, nil, fmt.Errorf("audit: rehash: %w", err)
	}
	old := l.tree.Load()
	if old.h.ID() == h.ID() { // another call switched meanwhile
		return l.front.Size(), l.front.Root(h), nil
	}
	size, oldRoot = l.front.Size(), l.front.Root(old.h)
	if err := b.extend(ctx, size); err != nil {
		return 0, nil, err
	}
	tree := &treeHash{h: h, tiles: b.tiles, raw: []byte(h.ID())}
	var sw store.Batch
	b.tw.write(&sw)
	sw.Expect(keySize, l.sizeRaw)
	sw.Expect(keyHash, old.raw)
	sw.Put(keyHash, tree.raw)
	if err := l.st.Apply(ctx, &sw); err != nil {
		return 0, nil, fmt.Errorf("audit: rehash: switching the tree to %s: %w", h.ID(), err)
	}
	l.front, l.edges = b.f, b.tw.edges
	l.tree.Store(tree)
	return size, oldRoot, nil
}

// rehashBuild is the tree Rehash builds under the new hash.
type rehashBuild struct {
	l     *Log
	h     suite.Hash
	tiles []byte
	f     *tlog.Frontier
	tw    *tileWriter
}

// extend appends the stored entries from the tree's size to size (all
// integrated), writing full tiles as it goes: they are in the new key
// space, not in force until the switch. The edge tiles stay in tw for the
// switch's batch.
func (b *rehashBuild) extend(ctx context.Context, size uint64) error {
	for next := b.f.Size(); next < size; {
		kvs, err := b.l.st.Scan(ctx, entryKey(next), entryKey(size), rehashPage)
		if err != nil {
			return fmt.Errorf("audit: rehash: reading entries: %w", err)
		}
		if len(kvs) == 0 {
			return fmt.Errorf("audit: rehash: %w: entry %d is missing from the integrated tree", ErrCorrupt, next)
		}
		for _, kv := range kvs {
			if i := binary.BigEndian.Uint64(kv.Key[len(prefixEntry):]); i != next {
				return fmt.Errorf("audit: rehash: %w: entry %d is missing from the integrated tree", ErrCorrupt, next)
			}
			b.f.Append(b.h, tlog.LeafHash(b.h, kv.Value), b.tw.emit)
			next++
		}
		if b.tw.err != nil {
			return b.tw.err
		}
		if next < size && len(b.tw.touched) >= rehashPage/tileWidth {
			var wb store.Batch
			b.tw.write(&wb)
			if err := b.l.st.Apply(ctx, &wb); err != nil {
				return fmt.Errorf("audit: rehash: writing the new tree: %w", err)
			}
			clear(b.tw.touched)
		}
	}
	return nil
}
