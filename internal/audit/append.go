package audit

import (
	"context"
	"fmt"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Reservation states.
const (
	stateReserved = iota
	stateCommitted
	stateAborted
)

// pending is one Append's reservation until it is integrated.
type pending struct {
	first   uint64
	entries []entry.Entry // Index set
	leaves  [][]byte      // leaf hashes of the committed bytes
	state   int           // under Log.mu
}

func newPending(h suite.Hash, first uint64, es []entry.Entry, state int) *pending {
	p := &pending{first: first, entries: es, leaves: make([][]byte, len(es)), state: state}
	for i := range es {
		p.leaves[i] = tlog.LeafHash(h, entry.AppendMarshal(nil, &es[i]))
	}
	return p
}

// Pending is a reservation made by Append. Exactly one of Commit and Abort
// must be called for it, once (a second call panics: it is a programming
// error that would corrupt the log); until then integration stops at its
// index. The zero Pending (from an Append of no entries) may be passed to
// either.
type Pending struct{ p *pending }

// First returns the index of the reservation's first entry.
func (p Pending) First() uint64 {
	if p.p == nil {
		return 0
	}
	return p.p.first
}

// Len returns the number of entries reserved.
func (p Pending) Len() int {
	if p.p == nil {
		return 0
	}
	return len(p.p.entries)
}

// Append reserves the next indexes for entries and adds their Inserts to b,
// so that they commit atomically with the caller's own operations. Entries
// whose Time is zero get the log's clock; whose Region is empty get the
// log's region. After Apply(b) the caller must call Commit(p) if Apply
// succeeded and Abort(p) if it failed (any error, ErrConflict included);
// until then integration waits at this reservation.
//
// Errors (nothing is reserved and b is unchanged): an *entry.Error for an
// invalid entry; an error for an entry of another region; ErrClosed;
// ErrBacklog when integration is failing; ctx.Err().
func (l *Log) Append(ctx context.Context, b *store.Batch, entries ...entry.Entry) (Pending, error) {
	if len(entries) == 0 {
		return Pending{}, nil
	}
	if err := ctx.Err(); err != nil {
		return Pending{}, fmt.Errorf("audit: append: %w", err)
	}
	es := make([]entry.Entry, len(entries))
	now := l.o.Now()
	for i, e := range entries {
		if e.Time.IsZero() {
			e.Time = now
		}
		if e.Region == "" {
			e.Region = l.o.Region
		}
		if e.Region != l.o.Region {
			return Pending{}, fmt.Errorf("audit: append: entry of region %s in the log of %s", e.Region, l.o.Region)
		}
		if err := e.Validate(); err != nil {
			return Pending{}, fmt.Errorf("audit: append: %w", err)
		}
		es[i] = e
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return Pending{}, ErrClosed
	case l.next-l.integrated+uint64(len(es)) > uint64(l.o.MaxBacklog):
		err := l.lastErr
		l.mu.Unlock()
		return Pending{}, fmt.Errorf("%w (last integration error: %v)", ErrBacklog, err)
	}
	first := l.next
	l.next += uint64(len(es))
	p := &pending{first: first, entries: es, leaves: make([][]byte, len(es))}
	l.pend[first] = p
	l.mu.Unlock()

	for i := range es {
		es[i].Index = first + uint64(i)
		// Validated above, so the encoding cannot fail.
		raw := entry.AppendMarshal(nil, &es[i])
		p.leaves[i] = tlog.LeafHash(l.o.Hash, raw)
		b.Insert(entryKey(es[i].Index), raw)
	}
	return Pending{p}, nil
}

// Commit records that the batch holding p's entries was applied.
func (l *Log) Commit(p Pending) { l.resolve(p, stateCommitted) }

// Abort records that the batch holding p's entries was not applied. The
// log then writes the same entries with outcome "aborted" at p's indexes
// (or keeps what is stored there if the batch did commit after all), in
// its next integration pass.
func (l *Log) Abort(p Pending) { l.resolve(p, stateAborted) }

func (l *Log) resolve(p Pending, state int) {
	if p.p == nil {
		return
	}
	l.mu.Lock()
	if p.p.state != stateReserved {
		l.mu.Unlock()
		panic("audit: Commit or Abort called twice for one Pending")
	}
	p.p.state = state
	l.ready += len(p.p.entries)
	wake := l.ready >= l.o.IntegrateBatch || state == stateAborted
	l.mu.Unlock()
	if wake {
		l.kick()
	}
}

func (l *Log) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// AppendNow appends entries in their own durable Apply and returns when
// they are stored: for operations that write nothing else (reads,
// searches, denials), before the response is sent.
//
// Errors: those of Append; the store's Apply error, wrapped (the entries
// are then recorded as aborted).
func (l *Log) AppendNow(ctx context.Context, entries ...entry.Entry) error {
	var b store.Batch
	p, err := l.Append(ctx, &b, entries...)
	if err != nil {
		return err
	}
	if err := l.st.Apply(ctx, &b); err != nil {
		l.Abort(p)
		return fmt.Errorf("audit: append: %w", err)
	}
	l.Commit(p)
	return nil
}
