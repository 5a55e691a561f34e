package pebble

import (
	"context"
	"errors"
	"fmt"
	"os"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/domicile/domicile/internal/store"
)

var _ store.Snapshotter = (*Store)(nil)

// Checkpoint implements store.Snapshotter with Pebble's checkpoint: the
// WAL is flushed and synced first, then the sstables are hard-linked into
// dir where dir shares the store's file system (copied where it does
// not), with the MANIFEST, OPTIONS and WAL copied. Applies go on
// meanwhile. dir must not exist; its parent is created. With mark, the
// copy is then opened on its own, mark is applied to it and it is closed
// again, so that dir holds a closed, consistent store when Checkpoint
// returns. On error, dir is removed.
func (s *Store) Checkpoint(ctx context.Context, dir string, mark *store.Batch) (err error) {
	if err := s.acquire(ctx, "checkpoint"); err != nil {
		return err
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		s.mu.RUnlock()
		if err == nil {
			return fmt.Errorf("pebble: checkpoint: %s exists; give a new directory", dir)
		}
		return fmt.Errorf("pebble: checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	cerr := s.db.Checkpoint(dir, pebbledb.WithFlushedWAL())
	s.mu.RUnlock()
	if cerr != nil {
		return fmt.Errorf("pebble: checkpoint: %w", cerr)
	}
	if mark == nil || mark.Len() == 0 {
		return nil
	}
	cp, err := Open(dir, Options{CacheSize: 1 << 20})
	if err != nil {
		return fmt.Errorf("pebble: checkpoint: opening the copy: %w", err)
	}
	if err := cp.Apply(ctx, mark); err != nil {
		_ = cp.Close()
		return fmt.Errorf("pebble: checkpoint: marking the copy: %w", err)
	}
	if err := cp.Close(); err != nil {
		return fmt.Errorf("pebble: checkpoint: closing the copy: %w", err)
	}
	return nil
}
