package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/store"
)

// evictAfter is how long a principal stays in memory after its last
// request: past the day window, everything about it is in the store.
const evictAfter = 25 * time.Hour

// gcBatch bounds the stale bucket keys deleted per principal per flush.
const gcBatch = 512

// Flush writes this node's new totals in one Apply, re-reads the other
// nodes' share for the principals active here, folds finished hours into
// baselines, picks up decoys added by other nodes and forgets idle
// principals. The background loop calls it every FlushEvery; tests with a
// controlled clock call it themselves.
func (g *Guard) Flush(ctx context.Context) error {
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	now := g.now()
	g.mu.RLock()
	all := make([]*pstate, 0, len(g.ps))
	for _, ps := range g.ps {
		all = append(all, ps)
	}
	g.mu.RUnlock()

	if err := g.write(ctx, all); err != nil {
		return err
	}
	var errs []error
	for _, ps := range all {
		if err := g.maintain(ctx, ps, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := g.refreshDecoys(ctx); err != nil {
		errs = append(errs, err)
	}
	g.evict(now)
	return errors.Join(errs...)
}

// dirtyRef names a bucket written by a flush, to mark it dirty again if the
// write fails.
type dirtyRef struct {
	ps *pstate
	gi int
	b  int64
}

func (g *Guard) write(ctx context.Context, all []*pstate) error {
	var batch store.Batch
	var written []dirtyRef
	for _, ps := range all {
		ps.mu.Lock()
		for gi, s := range ps.series {
			for i := range s.slots {
				sl := &s.slots[i]
				if !sl.dirty {
					continue
				}
				batch.Put(windowKey(ps.id, s.g.id, sl.b, g.node), encodeBucket(sl))
				sl.dirty = false
				written = append(written, dirtyRef{ps, gi, sl.b})
			}
		}
		ps.mu.Unlock()
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := g.st.Apply(ctx, &batch); err != nil {
		for _, d := range written {
			d.ps.mu.Lock()
			if sl := d.ps.series[d.gi].peek(d.b); sl != nil {
				sl.dirty = true
			}
			d.ps.mu.Unlock()
		}
		return fmt.Errorf("guard: flush: %w", err)
	}
	return nil
}

// maintain refreshes a principal seen recently and folds its finished
// hours into its baseline.
func (g *Guard) maintain(ctx context.Context, ps *pstate, now time.Time) error {
	ps.mu.Lock()
	lastSeen, base, first := ps.lastSeen, ps.base, ps.firstHour
	ps.mu.Unlock()
	through := first
	if base != nil {
		through = base.through
	}
	settled := now.Add(-settle).Unix() / 3600 // hours before this one are final
	active := now.UnixNano()-lastSeen < int64(10*time.Minute)
	if !active && through >= settled {
		return nil
	}
	if err := g.refresh(ctx, ps, now); err != nil {
		return err
	}
	if through >= settled {
		return nil
	}
	for attempt := 0; ; attempt++ {
		if attempt == 3 {
			return fmt.Errorf("guard: baseline of %s: too many concurrent folds", ps.id)
		}
		nb := &baseline{through: through}
		if base != nil {
			*nb = *base
		}
		from := max(nb.through, settled-maxCatchUp)
		ps.mu.Lock()
		d := ps.series[2]
		for h := from; h < settled; h++ {
			var totals [len(signalOrder)]float64
			for si, name := range signalOrder {
				totals[si] = d.total(signals[name], h)
			}
			nb.fold(h, &totals, g.pol.Weight)
		}
		ps.mu.Unlock()
		ok, err := g.storeBaseline(ctx, ps.id, base, nb)
		if err != nil {
			return err
		}
		if !ok {
			// Another node folded first: take its baseline and go on
			// from where it got.
			if base, err = g.loadBaseline(ctx, ps.id); err != nil {
				return err
			}
			if base != nil && base.through >= settled {
				nb = base
			} else {
				continue
			}
		}
		ps.mu.Lock()
		ps.base = nb
		ps.mu.Unlock()
		break
	}
	return g.gc(ctx, ps, now)
}

// gc deletes the principal's bucket keys that no window needs any more;
// the day buckets stay until their hour is folded into the baseline.
func (g *Guard) gc(ctx context.Context, ps *pstate, now time.Time) error {
	var b store.Batch
	for _, gr := range grans {
		keep := int64(gr.n) + 1
		if gr.id == 'd' {
			keep = int64(gr.n) + 3
		}
		prefix := windowPrefix(ps.id, gr.id)
		kvs, err := g.st.Scan(ctx, prefix, be64(prefix, now.UnixNano()/int64(gr.size)-keep), gcBatch)
		if err != nil {
			return fmt.Errorf("guard: gc: %w", err)
		}
		for _, kv := range kvs {
			b.Delete(kv.Key)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := g.st.Apply(ctx, &b); err != nil {
		return fmt.Errorf("guard: gc: %w", err)
	}
	return nil
}

// evict forgets principals idle for longer than the day window whose
// totals are all written.
func (g *Guard) evict(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, ps := range g.ps {
		ps.mu.Lock()
		idle := now.UnixNano()-ps.lastSeen > int64(evictAfter)
		dirty := false
		for _, s := range ps.series {
			for i := range s.slots {
				dirty = dirty || s.slots[i].dirty
			}
		}
		ps.mu.Unlock()
		if idle && !dirty {
			delete(g.ps, id)
		}
	}
}
