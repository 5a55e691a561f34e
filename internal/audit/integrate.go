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
	"github.com/domicile/domicile/internal/suite"
)

// Limits of one integration pass.
const (
	maxRun      = 4096 // entries integrated by one Apply
	maxRounds   = 64   // Applies (integration, voids, retries) of one pass
	maxVoidSpan = 4096 // entries voided by one Apply
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
		case <-l.retry.C:
			force = true
		}
		if err := l.pass(ctx, force, false); err != nil {
			l.o.Logf("audit: integration: %v", err)
		}
		l.publishLater()
	}
}

// Sync integrates every stored entry up to the first hole, fills holes
// older than VoidGrace with void entries, and signs a checkpoint if one is
// due (CheckpointEvery entries or CheckpointInterval since the last one,
// by the log's clock). A checkpoint it signs is published to the witness
// (within WitnessTimeout) before it returns.
//
// Errors: the store's, wrapped; the signer's.
func (l *Log) Sync(ctx context.Context) error {
	err := l.pass(ctx, true, false)
	l.publishNow(ctx)
	return err
}

// Checkpoint integrates like Sync, signs a checkpoint of the tree if it
// grew since the latest one, publishes it to the witness (within
// WitnessTimeout; the cosignatures it returns are added) and returns the
// latest signed checkpoint.
//
// Errors: ErrNotFound (wrapped) for an empty log; those of Sync.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	err := l.pass(ctx, true, true)
	l.publishNow(ctx)
	if err != nil {
		return nil, err
	}
	return l.LatestCheckpoint()
}

// LatestCheckpoint returns the latest signed checkpoint known to this
// process.
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

// pass writes the local aborted reservations, then integrates the stored
// entries. Without force it does nothing more until IntegrateBatch entries
// are ready; signCP signs a checkpoint whenever the tree grew.
func (l *Log) pass(ctx context.Context, force, signCP bool) error {
	l.integMu.Lock()
	defer l.integMu.Unlock()
	err := l.passLocked(ctx, force, signCP)
	l.mu.Lock()
	l.lastErr = err
	l.mu.Unlock()
	return err
}

func (l *Log) passLocked(ctx context.Context, force, signCP bool) error {
	if err := l.writeFillers(ctx); err != nil {
		return err
	}
	if !force {
		l.mu.Lock()
		ready := l.ready
		l.mu.Unlock()
		if ready < l.o.IntegrateBatch {
			return nil
		}
	}
	reload := false
	for round := 0; round < maxRounds; round++ {
		if reload {
			if err := l.load(ctx); err != nil {
				return err
			}
			reload = false
		}
		size := l.front.Size()
		kvs, err := l.st.Scan(ctx, entryKey(size), store.PrefixEnd(prefixEntry), maxRun+1)
		if err != nil {
			return fmt.Errorf("audit: integrate: %w", err)
		}
		n := 0
		for n < len(kvs) && n < maxRun && binary.BigEndian.Uint64(kvs[n].Key[len(prefixEntry):]) == size+uint64(n) {
			n++
		}
		if n < len(kvs) && n < maxRun {
			// A hole at size+n with later entries.
			voided, err := l.hole(ctx, size+uint64(n), kvs[n])
			if err != nil {
				return err
			}
			if voided {
				continue // rescan
			}
		}
		now := l.o.Now()
		l.mu.Lock()
		cpSize, cpTime, cpText := l.cpSize, l.cpTime, l.cpText
		l.mu.Unlock()
		newSize := size + uint64(n)
		due := newSize > cpSize && (signCP || newSize-cpSize >= l.o.CheckpointEvery || !now.Before(cpTime.Add(l.o.CheckpointInterval)))
		if n == 0 && !due {
			return nil
		}
		if !force && n < l.o.IntegrateBatch && !(due && newSize-cpSize >= l.o.CheckpointEvery) {
			return nil
		}
		if now.Before(cpTime) {
			now = cpTime // checkpoints never go back in time (clocks of several nodes)
		}
		err = l.integrate(ctx, kvs[:n], newSize, due, now, cpText)
		if errors.Is(err, store.ErrConflict) {
			reload = true // another process integrated or signed first
			l.stale.Add(1)
			continue
		}
		if err != nil {
			return err
		}
		if n < maxRun {
			return nil
		}
	}
	return nil
}

// hole decides about the hole at index h (kv is the next stored entry):
// it voids the indexes up to kv once they have been missing for VoidGrace,
// or at once when they are the unused rest of this process's block.
func (l *Log) hole(ctx context.Context, h uint64, kv store.KV) (bool, error) {
	j := binary.BigEndian.Uint64(kv.Key[len(prefixEntry):])
	now := l.o.Now()
	l.mu.Lock()
	mine := h >= l.next && h < l.limit && j >= l.limit
	if mine {
		l.voidRest()
	}
	l.mu.Unlock()
	if mine {
		return true, l.writeFillers(ctx)
	}
	// Evidence: now, j is stored; and j was written after its own Time.
	l.seen(j, now)
	if e, err := entry.Parse(kv.Value); err == nil && e.Time.Before(now) {
		l.seen(j, e.Time)
	}
	old := now.Add(-l.o.VoidGrace)
	eligible := false
	kept := l.holes[:0]
	for _, s := range l.holes {
		if s.j <= h {
			continue // filled since
		}
		if !s.t.After(old) {
			eligible = true
		}
		kept = append(kept, s)
	}
	l.holes = kept
	if !eligible {
		if l.retry != nil {
			l.retry.Reset(l.o.VoidGrace)
		}
		return false, nil
	}
	var b store.Batch
	for i := h; i < j && i < h+maxVoidSpan; i++ {
		e := entry.Entry{Index: i, Time: now, Region: l.o.Region, Action: entry.Void, Outcome: entry.Aborted}
		b.Insert(entryKey(i), entry.AppendMarshal(nil, &e))
	}
	err := l.st.Apply(ctx, &b)
	switch {
	case err == nil:
		l.voids.Add(uint64(b.Len()))
		l.o.Logf("audit: filled indexes %d..%d with void entries (no entry for %s)", h, min(j, h+maxVoidSpan)-1, l.o.VoidGrace)
	case errors.Is(err, store.ErrConflict):
		// An entry (or another process's void) arrived meanwhile.
	default:
		return false, fmt.Errorf("audit: void: %w", err)
	}
	return true, nil
}

// seen adds the evidence that index j was stored at time t, unless other
// evidence implies it.
func (l *Log) seen(j uint64, t time.Time) {
	for _, s := range l.holes {
		if s.j >= j && !s.t.After(t) {
			return
		}
	}
	if len(l.holes) >= 64 {
		l.holes = l.holes[1:]
	}
	l.holes = append(l.holes, holeSeen{j: j, t: t})
}

// writeFillers writes the local aborted reservations: their entries with
// outcome "aborted", each by Insert, keeping whatever is stored already.
func (l *Log) writeFillers(ctx context.Context) error {
	l.mu.Lock()
	fs := l.fillers
	l.fillers = nil
	l.mu.Unlock()
	if len(fs) == 0 {
		return nil
	}
	type fill struct {
		key, raw []byte
	}
	var todo []fill
	for _, p := range fs {
		for i := range p.entries {
			e := p.entries[i]
			e.Outcome = entry.Aborted
			todo = append(todo, fill{entryKey(e.Index), entry.AppendMarshal(nil, &e)})
		}
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		var b store.Batch
		for _, f := range todo {
			b.Insert(f.key, f.raw)
		}
		err := l.st.Apply(ctx, &b)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 8 {
			l.mu.Lock()
			l.fillers = append(fs, l.fillers...)
			l.mu.Unlock()
			return fmt.Errorf("audit: writing aborted entries: %w", err)
		}
		// Some indexes hold an entry after all (the batch did commit,
		// or another process voided them): keep those.
		rest := todo[:0]
		for _, f := range todo {
			_, err := l.st.Get(ctx, f.key)
			switch {
			case errors.Is(err, store.ErrNotFound):
				rest = append(rest, f)
			case err != nil:
				l.mu.Lock()
				l.fillers = append(fs, l.fillers...)
				l.mu.Unlock()
				return fmt.Errorf("audit: writing aborted entries: %w", err)
			}
		}
		todo = rest
	}
	return nil
}

// integrate appends the stored entries kvs (from the tree's size on) to the
// tree and writes it (and a checkpoint if due) in one Apply that holds only
// if the stored size (and checkpoint) are still what this process last
// saw; on success it publishes the new state.
func (l *Log) integrate(ctx context.Context, kvs []store.KV, size uint64, due bool, now time.Time, cpText []byte) error {
	tree := l.tree.Load()
	var b store.Batch
	b.Expect(keySize, l.sizeRaw)
	b.Expect(keyHash, tree.raw) // a Rehash by another process makes this one reload
	f := l.front.Clone()
	tw := newTileWriter(tree.h.Size(), tree.tiles, l.edges)
	for _, kv := range kvs {
		f.Append(tree.h, tlog.LeafHash(tree.h, kv.Value), tw.emit)
	}
	if tw.err != nil {
		return tw.err
	}
	tw.write(&b)
	sizeRaw := binary.BigEndian.AppendUint64(nil, size)
	b.Put(keySize, sizeRaw)
	var cp []byte
	if due {
		priv, err := l.o.Signer()
		if err != nil {
			return fmt.Errorf("audit: signing key: %w", err)
		}
		sig := l.o.Signature
		if _, err := sig.MarshalPublicKey(priv.Public()); err != nil {
			// The key of a region that migrated suite is of the new
			// suite's scheme; the checkpoint's alg line names it.
			if sig, err = suite.SignatureOf(priv.Public()); err != nil {
				return fmt.Errorf("audit: signing key: %w", err)
			}
		}
		cp, err = checkpoint.Sign(checkpoint.Checkpoint{Origin: l.o.Origin, Size: size, Root: f.Root(tree.h), Time: now},
			sig, tree.h, priv, l.o.Rand)
		if err != nil {
			return err
		}
		b.Expect(keyLatest, cpText)
		b.Insert(checkpointKey(size), cp)
		b.Put(keyLatest, cp)
	}
	if err := l.st.Apply(ctx, &b); err != nil {
		return fmt.Errorf("audit: integrate: %w", err)
	}
	l.front, l.edges, l.sizeRaw = f, tw.edges, sizeRaw
	l.mu.Lock()
	l.setIntegrated(size)
	if due {
		l.cpSize, l.cpTime, l.cpText = size, now, cp
	}
	l.mu.Unlock()
	if due {
		l.queue(cp) // published once the pass is over (see publisher)
	}
	return nil
}
