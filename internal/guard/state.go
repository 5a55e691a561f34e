package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// pstate is what a node knows of one principal.
type pstate struct {
	id string
	mu sync.Mutex
	// Guarded by mu:
	series    [len(grans)]*series
	base      *baseline
	firstHour int64            // unix hour the principal was first seen, for a first baseline
	lastSeen  int64            // unix nanoseconds of the last Observe
	fired     map[string]int64 // rule -> period of the last alert raised here
	locked    bool             // the Locker was called since the last unlock
	unlock    *unlockRecord
}

// unlockRecord is stored at g/u/<principal>.
type unlockRecord struct {
	At       time.Time          `json:"at"`
	Forgiven map[string]float64 `json:"forgiven"` // rule -> count forgiven
}

func (u *unlockRecord) batch(principal string) *store.Batch {
	v, _ := json.Marshal(u)
	var b store.Batch
	b.Put(unlockKey(principal), v)
	return &b
}

// state returns the principal's state, loading it from the store the first
// time.
func (g *Guard) state(ctx context.Context, id string, now time.Time) (*pstate, error) {
	g.mu.RLock()
	ps := g.ps[id]
	g.mu.RUnlock()
	if ps != nil {
		return ps, nil
	}
	ps = &pstate{id: id, fired: map[string]int64{}, firstHour: now.Unix() / 3600}
	for i := range grans {
		ps.series[i] = newSeries(&grans[i])
		ps.series[i].advance(ps.series[i].bucketOf(now))
	}
	if err := g.readWindows(ctx, ps, now, true); err != nil {
		return nil, err
	}
	base, err := g.loadBaseline(ctx, id)
	if err != nil {
		return nil, err
	}
	ps.base = base
	g.mu.Lock()
	defer g.mu.Unlock()
	if other := g.ps[id]; other != nil {
		return other, nil // another request loaded it meanwhile
	}
	g.ps[id] = ps
	return ps, nil
}

// readWindows reads every node's buckets of the principal's windows ending
// at now, and the unlock record. With own, this node's keys are taken as
// its own totals (the principal was evicted and is reloaded); otherwise
// they are skipped, as memory is ahead of them.
func (g *Guard) readWindows(ctx context.Context, ps *pstate, now time.Time, own bool) error {
	type entry struct {
		b      int64
		counts [nCounts]int64
		sks    [nSketches]*sketch
		own    bool
	}
	var read [len(grans)][]entry
	for gi := range grans {
		gr := &grans[gi]
		c := now.UnixNano() / int64(gr.size)
		prefix := windowPrefix(ps.id, gr.id)
		kvs, err := g.st.Scan(ctx, be64(prefix, c-int64(gr.n)), be64(prefix, c+1), 0)
		if err != nil {
			return fmt.Errorf("guard: read windows: %w", err)
		}
		for _, kv := range kvs {
			b, node, ok := parseWindowKey(prefix, kv.Key)
			if !ok {
				return errCorrupt
			}
			if node == g.node && !own {
				continue
			}
			counts, sks, err := decodeBucket(kv.Value)
			if err != nil {
				return err
			}
			read[gi] = append(read[gi], entry{b, counts, sks, node == g.node})
		}
	}
	var unlock *unlockRecord
	v, err := g.st.Get(ctx, unlockKey(ps.id))
	switch {
	case err == nil:
		unlock = &unlockRecord{}
		if err := json.Unmarshal(v, unlock); err != nil {
			return errCorrupt
		}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("guard: read unlock: %w", err)
	}

	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.setUnlockLocked(unlock)
	for gi, s := range ps.series {
		s.advance(s.bucketOf(now))
		// Remote sums are replaced, bucket by bucket, by what was read.
		c := s.bucketOf(now)
		for b := c - int64(s.g.n); b <= c; b++ {
			if sl := s.slot(b); sl != nil {
				sl.remote = [nCounts]int64{}
			}
		}
		for i := range read[gi] {
			e := &read[gi][i]
			sl := s.slot(e.b)
			if sl == nil {
				continue
			}
			for k := range e.counts {
				if e.own {
					sl.own[k] = e.counts[k]
				} else {
					sl.remote[k] += e.counts[k]
				}
			}
			for k, sk := range e.sks {
				if sk == nil {
					continue
				}
				if sl.allSk[k] == nil {
					sl.allSk[k] = &sketch{}
				}
				if e.own {
					sl.ownSk[k] = sk
				}
				sl.allSk[k].merge(sk)
				s.mergeWin(k, sk)
			}
		}
	}
	return nil
}

// refresh re-reads the other nodes' share of the principal's windows.
func (g *Guard) refresh(ctx context.Context, ps *pstate, now time.Time) error {
	return g.readWindows(ctx, ps, now, false)
}

// record adds the request's signals to the current buckets.
func (ps *pstate) record(ev *Event, hashes []uint64, probe uint64, now time.Time) {
	var d [nCounts]int64
	reads := ev.Action == ActionRead || ev.Action == ActionSearch || ev.Action == ActionExport
	if reads {
		d[cReads] = int64(len(ev.RecordIDs))
	}
	d[cClear] = int64(max(ev.ClearFields, 0))
	switch ev.Action {
	case ActionSearch:
		d[cSearches] = 1
	case ActionDetokenize:
		d[cDetok] = int64(max(len(ev.Tokens), 1))
	case ActionExport:
		d[cExports] = 1
	}
	if ev.Err {
		d[cErrors] = 1
	}
	if ev.Denied {
		d[cDenials] = 1
	}
	ps.lastSeen = now.UnixNano()
	for _, s := range ps.series {
		c := s.bucketOf(now)
		s.advance(c)
		sl := s.slot(c)
		for k, n := range d {
			if n != 0 {
				sl.own[k] += n
				sl.dirty = true
			}
		}
		if reads {
			for _, h := range hashes {
				s.addDistinct(sl, sRecords, h)
			}
		}
		if ev.SearchProbe != nil {
			s.addDistinct(sl, sProbes, probe)
		}
	}
}

// firing is a rule that fires on a request.
type firing struct {
	r      *rule
	period int64
	raise  bool // no alert of this rule and period was raised here yet
	alert  Alert
}

// evaluate returns the rules that fire for a principal holding roles.
func (ps *pstate) evaluate(g *Guard, ev *Event, now time.Time) []firing {
	var out []firing
	t := now.UnixNano()
	for i := range g.rules {
		r := &g.rules[i]
		if !r.Applies(ev.Roles) {
			continue
		}
		count := ps.series[r.gi].count(r.ref, now)
		if u := ps.unlock; u != nil && now.Before(u.At.Add(r.size)) {
			count = math.Max(0, count-u.Forgiven[r.Name])
		}
		count += ev.Elsewhere.Counts[r.Signal+"/"+r.Window]
		var expected, limit float64
		fire := false
		if r.Max > 0 && count > float64(r.Max) {
			fire, limit = true, float64(r.Max)
		}
		if r.Baseline > 0 {
			expected = ps.base.expected(r.si, r.gi, t, g.floors[r.si])
			if bl := math.Max(float64(r.Min), r.Baseline*expected); count > bl && !fire {
				fire, limit = true, bl
			}
		}
		if !fire {
			continue
		}
		out = append(out, firing{r: r, period: t / int64(r.size), alert: Alert{
			Time: now, Region: g.region, Principal: ps.id, Roles: ev.Roles, Rule: r.Name, Severity: r.Severity,
			Response: r.Response, Signal: r.Signal, Window: r.Window, Count: math.Round(count*10) / 10, Limit: math.Round(limit*10) / 10,
			Max: r.Max, Baseline: r.Baseline, Expected: math.Round(expected*10) / 10, Action: ev.Action,
			RequestIDs: requestIDs(ev.RequestID),
		}})
	}
	return out
}

// claim marks which firings raise an alert here (one per rule and period)
// and fills in their evidence.
func (ps *pstate) claim(fired []firing, now time.Time) {
	for i := range fired {
		f := &fired[i]
		if ps.fired[f.r.Name] == f.period {
			continue
		}
		ps.fired[f.r.Name] = f.period
		f.raise = true
		f.alert.Counts = ps.evidence(now)
	}
}

// evidence returns every non-zero signal count of every window.
func (ps *pstate) evidence(now time.Time) map[string]float64 {
	out := map[string]float64{}
	for gi, s := range ps.series {
		for _, name := range signalOrder {
			if n := math.Round(s.count(signals[name], now)); n > 0 {
				out[name+"/"+grans[gi].window] = n
			}
		}
	}
	return out
}

func (ps *pstate) unmark(rule string, period int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.fired[rule] == period {
		delete(ps.fired, rule)
	}
}

// markLocked reports whether the principal still has to be locked, and
// marks it as being locked.
func (ps *pstate) markLocked() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.locked {
		return false
	}
	ps.locked = true
	return true
}

func (ps *pstate) unmarkLocked() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.locked = false
}

// forgive returns the unlock record forgiving every rule's current count.
func (ps *pstate) forgive(g *Guard, now time.Time) *unlockRecord {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	u := &unlockRecord{At: now, Forgiven: map[string]float64{}}
	for i := range g.rules {
		r := &g.rules[i]
		ps.series[r.gi].advance(ps.series[r.gi].bucketOf(now))
		u.Forgiven[r.Name] = ps.series[r.gi].count(r.ref, now)
	}
	return u
}

func (ps *pstate) setUnlock(u *unlockRecord) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.setUnlockLocked(u)
}

// setUnlockLocked takes u if it is newer than the unlock known; a new
// unlock clears the locked mark. ps.mu is held.
func (ps *pstate) setUnlockLocked(u *unlockRecord) bool {
	if u == nil || (ps.unlock != nil && !u.At.After(ps.unlock.At)) {
		return false
	}
	ps.unlock, ps.locked = u, false
	return true
}

// recheckUnlock reads the principal's unlock record and reports whether it
// is newer than the one known: an administrator unlocked the principal
// through another node since the last flush.
func (g *Guard) recheckUnlock(ctx context.Context, ps *pstate) (bool, error) {
	v, err := g.st.Get(ctx, unlockKey(ps.id))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("guard: read unlock: %w", err)
	}
	u := &unlockRecord{}
	if err := json.Unmarshal(v, u); err != nil {
		return false, errCorrupt
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.setUnlockLocked(u), nil
}

// observe records ev and evaluates the rules, rechecking a lock against a
// concurrent unlock.
func (g *Guard) observe(ctx context.Context, ps *pstate, ev *Event, now time.Time) ([]firing, error) {
	var buf [8]uint64
	hashes := buf[:0]
	for _, id := range ev.RecordIDs {
		hashes = append(hashes, hashString(g.seed, id))
	}
	var probe uint64
	if ev.SearchProbe != nil {
		probe = hash64(g.seed, ev.SearchProbe)
	}
	ps.mu.Lock()
	ps.record(ev, hashes, probe, now)
	fired := ps.evaluate(g, ev, now)
	recheck := false
	for i := range fired {
		// An administrator may have unlocked the principal through
		// another node since the last flush; a lock is rare enough to
		// afford one read to make sure.
		recheck = recheck || fired[i].r.Response == policy.ResponseLock
	}
	if !recheck {
		ps.claim(fired, now)
		ps.mu.Unlock()
		return fired, nil
	}
	ps.mu.Unlock()
	changed, err := g.recheckUnlock(ctx, ps)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if changed {
		fired = ps.evaluate(g, ev, now)
	}
	ps.claim(fired, now)
	return fired, err
}
