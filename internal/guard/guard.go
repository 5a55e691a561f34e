// Package guard detects a principal draining a region (DESIGN promise 6):
// bulk, enumerating or unusual reading raises an alert and can slow or lock
// the principal, and a read of a decoy (honeytoken) raises a critical alert
// within the same request.
//
// The API layer calls Observe once per request, after the access decision
// and before writing the response. Observe counts the request's signals
// per principal over sliding windows (a minute, an hour, a day), compares
// them with the policy's rules, absolute budgets and multiples of the
// principal's own baseline learned per hour of the week, and returns a
// Verdict: the alerts raised, whether to lock the principal, and how long
// to delay the response.
//
// Observe works in memory; it touches the store only to raise an alert and
// the first time it sees a principal. A flusher writes each node's totals
// every FlushEvery and reads the other nodes', so state survives restarts
// and is shared by every node over one store (see keys.go for the layout).
// The price is a bounded window: a crash loses at most FlushEvery of this
// node's counts, and a node sees the others' activity at most FlushEvery
// late.
//
// The package imports neither net/http nor the vault: alerts leave through
// the OnAlert hook (the webhook sub-package sends them over HTTP), locks
// through a Locker, and decoys are created through a Creator.
package guard

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// Action is what a request did, for the signals.
type Action string

// The actions.
const (
	ActionRead       Action = "read"       // records returned (get, list)
	ActionSearch     Action = "search"     // a search and the records it returned
	ActionDetokenize Action = "detokenize" // tokens turned back into values
	ActionExport     Action = "export"     // an export of records
	ActionWrite      Action = "write"      // create, update, delete, erase
	ActionAdmin      Action = "admin"      // principals, keys, alerts
)

// Event is what one request did, as Observe sees it. It holds ids and
// counts, never a value.
type Event struct {
	Principal string
	Roles     []string
	Action    Action
	// RequestID is the request's id; an alert the request raises names it.
	RequestID string
	// RecordIDs are the records the request touched or returned. For
	// reads, searches and exports they count as records read.
	RecordIDs []string
	// ClearFields is the number of field values returned in clear.
	ClearFields int
	// SearchProbe is a keyed MAC of the normalised value searched for
	// (see Probe), nil for none.
	SearchProbe []byte
	// Tokens are the tokens presented (detokenization), checked against
	// the decoy tokens.
	Tokens []string
	// Denied is true when the access decision refused the request; Err
	// when the request failed otherwise.
	Denied bool
	Err    bool
	// Elsewhere is what the principal did in the other regions, as the
	// gateway relays it; the rules count it with this region's own.
	Elsewhere Elsewhere
}

// Verdict is what the caller must do with the request.
type Verdict struct {
	// Alerts are the alerts this request raised (already stored and
	// handed to OnAlert).
	Alerts []Alert
	// Lock is true when the principal must be locked: the caller refuses
	// this request (403 principal_locked). The Locker, if set, has been
	// called.
	Lock bool
	// Delay is how long the caller waits before responding (at most the
	// policy's max_delay).
	Delay time.Duration
	// Decoy is true when the request touched a decoy.
	Decoy bool
}

// Locker locks a principal; the lead passes one backed by the directory.
type Locker interface {
	Lock(ctx context.Context, principal string) error
}

// LockerFunc adapts a function to Locker.
type LockerFunc func(ctx context.Context, principal string) error

// Lock calls f.
func (f LockerFunc) Lock(ctx context.Context, principal string) error { return f(ctx, principal) }

// Options configure New.
type Options struct {
	Store  store.Store
	Policy *policy.Policy
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MAC returns a hash keyed with a region key kept for the guard. It
	// keys search probes (Probe) and the hashing of ids in the sketches,
	// so every node of a region must use the same key.
	MAC func() hash.Hash
	// OnAlert receives every alert raised, after it is stored, on the
	// goroutine that raised it (in Observe); it must not block for long.
	// The lead connects it to the audit log, the webhooks and the log.
	OnAlert func(Alert)
	// Locker locks principals; nil leaves locking to the caller, which
	// reads Verdict.Lock.
	Locker Locker
	// FlushEvery is the period of the background flush; zero means 250ms
	// and a negative value disables it (tests call Flush).
	FlushEvery time.Duration
	// Logger receives background flush errors; nil discards them.
	Logger *slog.Logger
}

// Guard is the detection of one region. It is safe for concurrent use.
type Guard struct {
	st      store.Store
	pol     *policy.Guard
	polFull *policy.Policy
	region  string
	now     func() time.Time
	mac     func() hash.Hash
	onAlert func(Alert)
	locker  Locker
	log     *slog.Logger
	node    string // random id of this instance, in the keys it writes
	seed    uint64 // keys the sketch hash
	floors  [len(signalOrder)]float64
	rules   []rule
	flushMu sync.Mutex // one Flush at a time
	mu      sync.RWMutex
	ps      map[string]*pstate
	decoys  decoySet
	stop    chan struct{}
	poke    chan struct{}
	done    chan struct{}
	closeMu sync.Once
}

// rule is a policy rule resolved to its signal and granularity.
type rule struct {
	*policy.GuardRule
	ref  signalRef
	si   int // index in signalOrder
	gi   int
	size time.Duration // window length, for dedup periods and unlocks
}

var windowLength = [3]time.Duration{time.Minute, time.Hour, 24 * time.Hour}

// New returns the guard of a region and starts its background flush. It
// loads the decoys from the store.
func New(ctx context.Context, o Options) (*Guard, error) {
	if o.Store == nil || o.Policy == nil || o.MAC == nil || o.Region == "" {
		return nil, errors.New("guard: Store, Policy, MAC and Region are required")
	}
	g := &Guard{st: o.Store, pol: &o.Policy.Guard, polFull: o.Policy, region: o.Region, now: o.Now, mac: o.MAC, onAlert: o.OnAlert,
		locker: o.Locker, log: o.Logger, ps: map[string]*pstate{}}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	g.node = hex.EncodeToString(id[:])
	h := g.mac()
	h.Write([]byte("domicile guard sketch hash v1"))
	g.seed = binary.LittleEndian.Uint64(h.Sum(nil))
	for i, s := range signalOrder {
		g.floors[i] = g.pol.Floor[s]
	}
	for i := range g.pol.Rules {
		r := &g.pol.Rules[i]
		gi := granOf(r.Window)
		ref, ok := signals[r.Signal]
		if gi < 0 || !ok {
			return nil, fmt.Errorf("guard: rule %s: unknown signal or window", r.Name)
		}
		g.rules = append(g.rules, rule{GuardRule: r, ref: ref, si: signalIndex(r.Signal), gi: gi, size: windowLength[gi]})
	}
	if err := g.loadDecoys(ctx); err != nil {
		return nil, err
	}
	every := o.FlushEvery
	if every == 0 {
		every = 250 * time.Millisecond
	}
	if every > 0 {
		g.stop, g.poke, g.done = make(chan struct{}), make(chan struct{}, 1), make(chan struct{})
		go g.loop(every)
	}
	return g, nil
}

func signalIndex(name string) int {
	for i, s := range signalOrder {
		if s == name {
			return i
		}
	}
	return -1
}

// Probe returns the keyed MAC of a normalised searched value that Event
// carries in SearchProbe: the guard counts distinct probes without ever
// seeing the value. collection and field keep equal values of different
// fields apart.
func (g *Guard) Probe(collection, field, normalized string) []byte {
	h := g.mac()
	h.Write([]byte("probe\x00" + collection + "\x00" + field + "\x00"))
	h.Write([]byte(normalized))
	return h.Sum(nil)
}

// Observe records one request and returns what the caller must do. Call
// it once per request, after the access decision and before writing the
// response. On an error (the store failed while raising an alert or
// loading the principal) the verdict still holds what was decided; the
// caller should refuse the request, as it would when the audit log fails.
func (g *Guard) Observe(ctx context.Context, ev Event) (Verdict, error) {
	var v Verdict
	if err := checkPrincipal(ev.Principal); err != nil {
		return v, err
	}
	now := g.now()
	decoys := g.decoyHits(&ev)
	ps, err := g.state(ctx, ev.Principal, now)
	if err != nil {
		return v, err
	}
	fired, err := g.observe(ctx, ps, &ev, now)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range decoys {
		v.Decoy = true
		v.Lock = v.Lock || g.pol.HoneytokenLock
		a := Alert{Time: now, Region: g.region, Principal: ev.Principal, Roles: ev.Roles, Rule: policy.HoneytokenRule,
			Severity: policy.SeverityCritical, Response: policy.ResponseAlert, Decoy: d, Action: ev.Action, Count: 1, Limit: 0,
			RequestIDs: requestIDs(ev.RequestID)}
		if g.pol.HoneytokenLock {
			a.Response = policy.ResponseLock
		}
		// One alert per principal, decoy and minute: a loop over a decoy
		// does not flood the log.
		ok, err := g.raise(ctx, &a, policy.HoneytokenRule+"/"+d, now.Unix()/60)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			v.Alerts = append(v.Alerts, a)
		}
	}
	if ev.Elsewhere.LockedIn != "" && ev.Elsewhere.LockedIn != g.region {
		// Another region's guard locked the principal: a lock holds in
		// every region.
		v.Lock = true
		a := Alert{Time: now, Region: g.region, Principal: ev.Principal, Roles: ev.Roles, Rule: LockedElsewhereRule,
			Severity: policy.SeverityHigh, Response: policy.ResponseLock, Signal: "locked-in:" + ev.Elsewhere.LockedIn,
			Action: ev.Action, Count: 1, RequestIDs: requestIDs(ev.RequestID)}
		ok, err := g.raise(ctx, &a, LockedElsewhereRule, now.Unix()/60)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			v.Alerts = append(v.Alerts, a)
		}
	}
	for i := range fired {
		f := &fired[i]
		switch f.r.Response {
		case policy.ResponseLock:
			v.Lock = true
		case policy.ResponseSlow:
			v.Delay = max(v.Delay, min(f.r.Delay, g.pol.MaxDelay))
		}
		if !f.raise {
			continue
		}
		ok, err := g.raise(ctx, &f.alert, f.r.Name, f.period)
		if err != nil {
			ps.unmark(f.r.Name, f.period)
			errs = append(errs, err)
		} else if ok {
			v.Alerts = append(v.Alerts, f.alert)
		}
	}
	if v.Lock && g.locker != nil && ps.markLocked() {
		if err := g.locker.Lock(ctx, ev.Principal); err != nil {
			ps.unmarkLocked()
			errs = append(errs, fmt.Errorf("guard: lock %s: %w", ev.Principal, err))
		}
	}
	return v, errors.Join(errs...)
}

// Unlock records that an administrator unlocked the principal: the
// activity that made a rule fire until now is forgiven, so the next
// request does not lock it again at once; only activity after the unlock
// counts against the rules until their windows have rolled past it. Call
// it together with setting the principal active in the directory.
func (g *Guard) Unlock(ctx context.Context, principal string) error {
	if err := checkPrincipal(principal); err != nil {
		return err
	}
	now := g.now()
	ps, err := g.state(ctx, principal, now)
	if err != nil {
		return err
	}
	if err := g.refresh(ctx, ps, now); err != nil {
		return err
	}
	u := ps.forgive(g, now)
	if err := g.st.Apply(ctx, u.batch(principal)); err != nil {
		return fmt.Errorf("guard: unlock %s: %w", principal, err)
	}
	ps.setUnlock(u)
	return nil
}

// Close stops the background flush and flushes a last time.
func (g *Guard) Close(ctx context.Context) error {
	g.closeMu.Do(func() {
		if g.stop != nil {
			close(g.stop)
			<-g.done
		}
	})
	return g.Flush(ctx)
}

func (g *Guard) loop(every time.Duration) {
	defer close(g.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		case <-g.poke:
		}
		if err := g.Flush(context.Background()); err != nil {
			g.log.Error("guard flush", "err", err)
		}
		if _, err := g.PlantDue(context.Background()); err != nil {
			g.log.Error("guard: plant decoys", "err", err)
		}
	}
}
