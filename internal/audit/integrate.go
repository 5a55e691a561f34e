package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
)

// run is the background integrator.
func (l *Log) run() {
	defer close(l.done)
	ctx := context.Background()
	for {
		force := false
		select {
		case <-l.stop:
			return
		case <-l.wake:
		case <-l.tick.C:
			force = true
		}
		if err := l.pass(ctx, force, false); err != nil {
			l.o.Logf("audit: integration: %v", err)
		}
	}
}

// Sync integrates every resolved entry and signs a checkpoint if one is due
// (CheckpointEvery entries or CheckpointInterval since the last one, by the
// log's clock).
//
// Errors: the store's, wrapped; the signer's.
func (l *Log) Sync(ctx context.Context) error { return l.pass(ctx, true, false) }

// Checkpoint integrates every resolved entry, signs a checkpoint of the
// tree if it grew since the latest one, and returns the latest signed
// checkpoint.
//
// Errors: ErrNotFound (wrapped) for an empty log; those of Sync.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	if err := l.pass(ctx, true, true); err != nil {
		return nil, err
	}
	return l.LatestCheckpoint()
}

// LatestCheckpoint returns the latest signed checkpoint.
//
// Errors: ErrNotFound (wrapped) when none was signed yet.
func (l *Log) LatestCheckpoint() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cpText == nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", ErrNotFound)
	}
	return bytes.Clone(l.cpText), nil
}

// pass integrates the contiguous run of resolved reservations. Without
// force it does nothing until IntegrateBatch entries are ready; signCP
// signs a checkpoint whenever the tree grew.
func (l *Log) pass(ctx context.Context, force, signCP bool) error {
	l.integMu.Lock()
	defer l.integMu.Unlock()

	l.mu.Lock()
	var run []*pending
	n := 0
	for i := l.integrated; ; {
		p := l.pend[i]
		if p == nil || p.state == stateReserved {
			break
		}
		run = append(run, p)
		n += len(p.entries)
		i += uint64(len(p.entries))
	}
	cpSize, cpTime := l.cpSize, l.cpTime
	l.mu.Unlock()

	now := l.o.Now()
	size := l.front.Size() + uint64(n)
	due := size > cpSize && (signCP || size-cpSize >= l.o.CheckpointEvery || !now.Before(cpTime.Add(l.o.CheckpointInterval)))
	if n == 0 && !due {
		return nil
	}
	if !force && n < l.o.IntegrateBatch && !(due && size-cpSize >= l.o.CheckpointEvery) {
		return nil
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var fillers map[uint64]bool
		fillers, err = l.integrate(ctx, run, size, due, now)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || len(fillers) == 0 {
			break
		}
		// A filler met an entry: the aborted batch was applied after all
		// (or another writer took the index). Keep what is stored.
		if rerr := l.adoptStored(ctx, run); rerr != nil {
			err = rerr
			break
		}
	}
	l.mu.Lock()
	l.lastErr = err
	l.mu.Unlock()
	return err
}

// integrate writes the tree over run (and a checkpoint if due) in one
// Apply and, on success, publishes the new state. It returns the indexes
// written as fillers.
func (l *Log) integrate(ctx context.Context, run []*pending, size uint64, due bool, now time.Time) (map[uint64]bool, error) {
	var b store.Batch
	f := l.front.Clone()
	fillers := map[uint64]bool{}
	tw := newTileWriter(l.o.Hash.Size(), l.edges)
	emit := tw.emit
	for _, p := range run {
		for i := range p.entries {
			if p.state == stateAborted {
				e := p.entries[i]
				e.Outcome = entry.Aborted
				raw := entry.AppendMarshal(nil, &e)
				p.leaves[i] = tlog.LeafHash(l.o.Hash, raw)
				b.Insert(entryKey(e.Index), raw)
				fillers[e.Index] = true
			}
			f.Append(l.o.Hash, p.leaves[i], emit)
		}
	}
	if tw.err != nil {
		return nil, tw.err
	}
	tw.write(&b)
	b.Put(keySize, binary.BigEndian.AppendUint64(nil, size))
	var cp []byte
	if due {
		priv, err := l.o.Signer()
		if err != nil {
			return nil, fmt.Errorf("audit: signing key: %w", err)
		}
		cp, err = checkpoint.Sign(checkpoint.Checkpoint{Origin: l.o.Origin, Size: size, Root: f.Root(l.o.Hash), Time: now},
			l.o.Signature, l.o.Hash, priv, l.o.Rand)
		if err != nil {
			return nil, err
		}
		b.Insert(checkpointKey(size), cp)
		b.Put(keyLatest, cp)
	}
	if err := l.st.Apply(ctx, &b); err != nil {
		return fillers, fmt.Errorf("audit: integrate: %w", err)
	}
	l.front, l.edges = f, tw.edges
	l.mu.Lock()
	for _, p := range run {
		delete(l.pend, p.first)
		l.ready -= len(p.entries)
	}
	l.integrated = size
	if due {
		l.cpSize, l.cpTime, l.cpText = size, now, cp
	}
	l.lastErr = nil
	l.mu.Unlock()
	if due && l.o.Witness != nil {
		if err := l.o.Witness.Publish(ctx, cp); err != nil {
			l.o.Logf("audit: witness: checkpoint at size %d: %v", size, err)
		}
	}
	return fillers, nil
}

// adoptStored replaces aborted reservations whose index already holds an
// entry by that entry (marking them committed).
func (l *Log) adoptStored(ctx context.Context, run []*pending) error {
	for _, p := range run {
		if p.state != stateAborted {
			continue
		}
		stored := 0
		for i := range p.entries {
			raw, err := l.st.Get(ctx, entryKey(p.entries[i].Index))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("audit: integrate: %w", err)
			}
			e, err := entry.Parse(raw)
			if err != nil || e.Index != p.entries[i].Index {
				return fmt.Errorf("audit: integrate: %w: entry %d", ErrCorrupt, p.entries[i].Index)
			}
			p.entries[i] = *e
			p.leaves[i] = tlog.LeafHash(l.o.Hash, raw)
			stored++
		}
		if stored == len(p.entries) {
			l.mu.Lock()
			p.state = stateCommitted
			l.mu.Unlock()
		} else if stored != 0 {
			return fmt.Errorf("audit: integrate: %w: reservation at %d partly stored", ErrCorrupt, p.first)
		}
	}
	return nil
}
