package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
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
	raws    [][]byte      // the bytes Inserted
	state   int           // under Log.mu
	gone    bool          // integrated (or filled by others) and dropped from Log.pend, under Log.mu
}

// Pending is a reservation made by Append. Exactly one of Commit and Abort
// must be called for it, once (a second call panics: it is a programming
// error that would corrupt the log); until then integration stops at its
// index (for at most VoidGrace once later entries exist). The zero Pending
// (from an Append of no entries) may be passed to either.
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
// until then integration waits at this reservation. Apply fails with
// ErrConflict if the reservation was voided meanwhile (see the package
// comment): the caller retries with a fresh Append.
//
// Errors (nothing is reserved and b is unchanged): an *entry.Error for an
// invalid entry; an error for an entry of another region; ErrClosed;
// ErrBacklog when integration is failing; the store's error, wrapped, when
// a block of indexes cannot be leased; ctx.Err().
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
	n := uint64(len(es))
	l.mu.Lock()
	for {
		switch {
		case l.closed:
			l.mu.Unlock()
			return Pending{}, ErrClosed
		case l.outstanding+len(es) > l.o.MaxBacklog:
			err := l.lastErr
			l.mu.Unlock()
			return Pending{}, fmt.Errorf("%w (last integration error: %v)", ErrBacklog, err)
		}
		if l.limit-l.next >= n {
			break
		}
		l.mu.Unlock()
		l.leaseWaiting.Add(1)
		err := l.lease(ctx, n)
		l.leaseWaiting.Add(-1)
		if err != nil {
			return Pending{}, fmt.Errorf("audit: append: leasing indexes: %w", err)
		}
		l.mu.Lock()
	}
	first := l.next
	l.next += n
	p := &pending{first: first, entries: es, raws: make([][]byte, len(es))}
	l.pend[first] = p
	l.outstanding += len(es)
	l.mu.Unlock()

	for i := range es {
		es[i].Index = first + uint64(i)
		// Validated above, so the encoding cannot fail.
		p.raws[i] = entry.AppendMarshal(nil, &es[i])
		b.Insert(entryKey(es[i].Index), p.raws[i])
	}
	return Pending{p}, nil
}

// lease makes the current block hold at least n indexes, leasing a new
// block from the store if needed.
func (l *Log) lease(ctx context.Context, n uint64) error {
	l.leaseMu.Lock()
	defer l.leaseMu.Unlock()
	l.mu.Lock()
	enough := l.limit-l.next >= n
	l.mu.Unlock()
	if enough {
		return nil
	}
	size := l.leaseSize(n)
	for attempt := 0; ; attempt++ {
		old, err := l.st.Get(ctx, keyNext)
		var start uint64
		switch {
		case errors.Is(err, store.ErrNotFound):
			// First lease of this log: start after every stored entry.
			old = nil
			if start, err = l.storedEnd(ctx); err != nil {
				return err
			}
		case err != nil:
			return err
		case len(old) != 8:
			return fmt.Errorf("%w: a/m/next is %d bytes", ErrCorrupt, len(old))
		default:
			start = binary.BigEndian.Uint64(old)
		}
		var b store.Batch
		b.Expect(keyNext, old)
		b.Put(keyNext, binary.BigEndian.AppendUint64(nil, start+size))
		err = l.st.Apply(ctx, &b)
		if errors.Is(err, store.ErrConflict) && attempt < 1000 {
			continue // another process leased first
		}
		if err != nil {
			return err
		}
		l.queued = int(l.leaseWaiting.Load()) - 1
		l.mu.Lock()
		if start == l.limit && l.next < l.limit {
			l.limit += size // contiguous with our block: extend it
		} else {
			l.voidRest()
			l.next, l.limit, l.blockStart = start, start+size, start
		}
		l.mu.Unlock()
		return nil
	}
}

// leaseSize is how many indexes the next lease reserves, at least n. A
// lease is a durable write to the store, and every append that finds the
// block used up waits for it: with 64 appends in flight a block of 64
// lasted one round of them, and each round waited for one more fsync. So
// the block grows with the appends that queued for the latest lease: one
// LeaseBlock for the leaser and one for each of them, up to MaxLeaseFactor.
// An append alone, as in a quiet region, leases LeaseBlock: what a crashed
// or idle node leaves to be voided stays small where traffic is small.
// The caller holds leaseMu.
func (l *Log) leaseSize(n uint64) uint64 {
	factor := uint64(1 + min(max(l.queued, 0), MaxLeaseFactor-1))
	return max(uint64(l.o.LeaseBlock)*factor, n)
}

// storedEnd returns one past the last stored entry (the stored size if
// none is past it).
func (l *Log) storedEnd(ctx context.Context) (uint64, error) {
	v, err := l.st.Get(ctx, keySize)
	var end uint64
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("%w: a/m/size is %d bytes", ErrCorrupt, len(v))
	default:
		end = binary.BigEndian.Uint64(v)
	}
	for {
		kvs, err := l.st.Scan(ctx, entryKey(end), store.PrefixEnd(prefixEntry), 4096)
		if err != nil {
			return 0, err
		}
		if len(kvs) == 0 {
			return end, nil
		}
		end = binary.BigEndian.Uint64(kvs[len(kvs)-1].Key[len(prefixEntry):]) + 1
	}
}

// voidRest gives up the indexes of the current block not handed out: they
// are written as void entries at the next pass. Under mu.
func (l *Log) voidRest() {
	if l.next >= l.limit {
		return
	}
	now := l.o.Now()
	es := make([]entry.Entry, l.limit-l.next)
	for i := range es {
		es[i] = entry.Entry{Index: l.next + uint64(i), Time: now, Region: l.o.Region, Action: entry.Void, Outcome: entry.Aborted}
	}
	p := &pending{first: l.next, entries: es, state: stateAborted}
	l.pend[p.first] = p
	l.outstanding += len(es)
	l.ready += len(es)
	l.fillers = append(l.fillers, p)
	l.next = l.limit
	l.voids.Add(uint64(len(es)))
}

// release hands the unused rest of the block back to the store if nobody
// leased after it, and voids it otherwise (Close).
func (l *Log) release(ctx context.Context) {
	l.leaseMu.Lock()
	defer l.leaseMu.Unlock()
	l.mu.Lock()
	next, limit := l.next, l.limit
	l.mu.Unlock()
	if next >= limit {
		return
	}
	var b store.Batch
	b.Expect(keyNext, binary.BigEndian.AppendUint64(nil, limit))
	b.Put(keyNext, binary.BigEndian.AppendUint64(nil, next))
	err := l.st.Apply(ctx, &b)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.limit = l.next
	} else {
		l.voidRest()
	}
}

// Commit records that the batch holding p's entries was applied.
func (l *Log) Commit(p Pending) { l.resolve(p, stateCommitted) }

// Abort records that the batch holding p's entries was not applied. The
// log then writes the same entries with outcome "aborted" at p's indexes
// (or keeps what is stored there if the batch did commit after all, or if
// another process voided them), in its next integration pass.
func (l *Log) Abort(p Pending) { l.abort(p) }

// abort is Abort, and reports whether another process voided p's first
// index (so a conflict of the batch was the log's).
func (l *Log) abort(p Pending) (voided bool) {
	if p.p == nil {
		return false
	}
	// If another process voided the index, the rest of our block is
	// probably void too: stop handing it out.
	if raw, err := l.st.Get(context.Background(), entryKey(p.p.first)); err == nil && !bytes.Equal(raw, p.p.raws[0]) {
		voided = true
		l.mu.Lock()
		if p.p.first >= l.blockStart {
			l.voidRest()
		}
		l.mu.Unlock()
	}
	l.resolve(p, stateAborted)
	return voided
}

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
	if p.p.gone {
		l.mu.Unlock()
		return
	}
	l.ready += len(p.p.entries)
	if state == stateAborted {
		l.fillers = append(l.fillers, p.p)
	}
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

// Apply commits b with entries in the same durable Apply of the log's
// store, so that the write happens with its record or not at all (fail
// closed). If another process voided the reserved indexes meanwhile, it
// retries with new ones (the rest of b is applied again as it is).
//
// Errors: those of Append, wrapping ErrNotRecorded (nothing was applied);
// the store's Apply error as it is (the entries are then recorded as
// aborted).
func (l *Log) Apply(ctx context.Context, b *store.Batch, entries ...entry.Entry) error {
	n := b.Len()
	for attempt := 1; ; attempt++ {
		p, err := l.Append(ctx, b, entries...)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotRecorded, err)
		}
		err = l.st.Apply(ctx, b)
		if err == nil {
			l.Commit(p)
			return nil
		}
		if !l.abort(p) || !errors.Is(err, store.ErrConflict) || attempt == 8 {
			return err
		}
		b.Truncate(n)
	}
}

// AppendNow appends entries in their own durable Apply and returns when
// they are stored: for operations that write nothing else (reads,
// searches, denials), before the response is sent.
//
// Errors: those of Apply, the store's wrapped.
func (l *Log) AppendNow(ctx context.Context, entries ...entry.Entry) error {
	if err := l.Apply(ctx, &store.Batch{}, entries...); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}
