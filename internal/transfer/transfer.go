// Package transfer is one region's ledger of cross-border transfers.
//
// Every clear value of a strict region's data that reaches a principal
// located outside the region is a transfer (access.Decide marks the fields
// a transfer rule lets leave). Before such an answer leaves the region,
// Plan decides whether the mechanisms the policy records cover it: the
// mechanism the transfer rule names, or any of the region's mechanisms
// for that destination, collection and recipient, valid that day, and of
// a level the year's counts of distinct individuals require (PIPL and the
// 2024 cross-border provisions: see policy.Thresholds). A transfer they do
// not cover is refused (*Insufficient) and nothing is counted.
//
// A transfer that is covered is recorded in the same commit as the
// answer's audit entry: Plan gives the store writes (Plan.AddTo) and the
// audit entries (action "transfer", one per bucket) that make up the
// ledger. The counts are exact: an individual is counted once per year and
// class (its non-sensitive or sensitive personal information) by inserting
// a marker keyed by the region's keyed subject reference, with the
// counter added in the same atomic batch; a concurrent first transfer of
// the same individual conflicts and is planned again. Near a threshold
// (within Band individuals of it) every newly counted individual also
// takes a numbered slot, so that nodes racing for the last places below a
// limit cannot both take it. The year starts on 1 January in the region's
// time zone.
//
// Store layout, all under "x/":
//
//	x/i/<year>/<class>/<subject ref>             marker: the individual is counted in class (n, s)
//	x/q/<year>/<class>/<n, 8B BE>                slot n of class, taken near a threshold
//	x/k/<year>/<bucket>                          the bucket exists (for Counts)
//	x/b/<year>/<bucket>/<subject ref>            marker: the individual is counted in the bucket
//
// and the counters x/I/<year>/<class> (individuals), x/B/<year>/<bucket>
// (individuals) and x/R/<year>/<bucket> (records). A bucket is
// "<jurisdiction>|<destination>|<mechanism>|<class>", mechanism "-" for a
// transfer that names none. Nothing stored holds a personal value: subjects
// appear only as the region's keyed references.
package transfer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// Band is how close to a threshold (in individuals) counting takes slots.
const Band = 1024

// Classes of personal information: an individual counts in each class of
// which a field left.
const (
	NonSensitive = "n"
	Sensitive    = "s"
)

// NoMechanism is the mechanism part of a bucket whose transfers name none.
const NoMechanism = "-"

// Ledger is one region's transfer ledger. It is safe for concurrent use.
type Ledger struct {
	st     store.Store
	pol    *policy.Policy
	region *policy.Region
	now    func() time.Time

	mu     sync.Mutex
	known  map[string]struct{}    // markers seen stored: they stay for their year
	counts map[string]cachedCount // the year's counters, read within CountTTL

	turn chan struct{} // held while a contended plan commits (Turn)
}

// cachedCount is a counter's value and when (monotonic) it was read.
type cachedCount struct {
	n  int64
	at time.Time
}

// Caches. Counters are cached for CountTTL: a counter added to by many
// transfers is a merge of many operands until the store compacts it, and
// reading it on every request would cost more than the read itself. A
// cached count only lags; it never makes a count wrong, and near a limit
// the slots make a plan on a stale count conflict (then Replan reads
// afresh). Markers, once stored, stay for their year, so knowing one is
// never stale; at most maxKnown are remembered.
const (
	CountTTL = 100 * time.Millisecond
	maxKnown = 1 << 17
)

// New returns the ledger of region in st, under pol; now is the clock (nil:
// time.Now).
//
// Errors: when pol has no such region.
func New(st store.Store, pol *policy.Policy, region string, now func() time.Time) (*Ledger, error) {
	r, ok := pol.Region(region)
	if !ok {
		return nil, fmt.Errorf("transfer: region %q is not in the policy", region)
	}
	if now == nil {
		now = time.Now
	}
	return &Ledger{st: st, pol: pol, region: r, now: now, known: map[string]struct{}{}, counts: map[string]cachedCount{},
		turn: make(chan struct{}, 1)}, nil
}

// Item is what one answer sends abroad of one record: the fields shown in
// clear that a transfer rule lets leave, each with its rule.
type Item struct {
	Record       string
	Subject      []byte // the region's keyed subject reference
	Jurisdiction string // the record's
	Collection   string
	Fields       map[string]string // field → transfer rule
}

// Transfer is what one request sends abroad.
type Transfer struct {
	Destination string // ISO 3166-1 alpha-2: where the recipient is
	Recipient   string // the principal receiving it
	// Organisation is the legal entity the recipient acts for, which a
	// mechanism's recipients must name; "" is the controller itself.
	Organisation string
	Items        []Item
}

// Insufficient is the error of a transfer the recorded mechanisms do not
// cover; its message names what is missing, never a value.
type Insufficient struct {
	Reason string
}

func (e *Insufficient) Error() string { return e.Reason }

// Warning is a threshold the transfer brings the year's count to 80% or
// 95% of.
type Warning struct {
	Class   string       // NonSensitive or Sensitive
	Level   policy.Level // the level whose limit is near
	Percent int          // 80 or 95
	Count   int64        // individuals counted after the transfer
	Limit   int64
}

// Plan is a transfer decided and ready to record.
type Plan struct {
	Year     int
	Entries  []entry.Entry // the ledger's audit entries, one per bucket
	Warnings []Warning
	// Counted is the year's count of distinct individuals after the
	// transfer, by class.
	Counted map[string]int64
	ops     store.Batch
	added   map[string]int64 // new individuals by class
	markers [][]byte         // the markers it inserts
	slotted bool             // it takes numbered slots below a limit
}

// Contended reports whether p takes numbered slots below a limit. Every
// other such plan of the year takes the same next slot, so all but one of
// them conflict at commit: a node commits them one at a time (Turn), and
// only plans of different nodes race.
func (p *Plan) Contended() bool { return p != nil && p.slotted }

// Committed tells the ledger that p was committed, so that its caches
// know p's markers and no longer hold the counts p changed (the next plan
// reads them afresh): call it after the commit succeeds.
func (l *Ledger) Committed(p *Plan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for class, n := range p.added {
		if n > 0 {
			// Not adjusted in place: the cached value may have been read
			// after this commit already, and would then count it twice.
			delete(l.counts, string(individualsCounter(p.Year, class)))
		}
	}
	for _, m := range p.markers {
		if len(l.known) >= maxKnown {
			clear(l.known)
		}
		l.known[string(m)] = struct{}{}
	}
}

// AddTo adds the plan's writes to b, which must commit with Entries.
func (p *Plan) AddTo(b *store.Batch) {
	for _, op := range p.ops.Ops() {
		switch op.Kind {
		case store.OpPut:
			b.Put(op.Key, op.Value)
		case store.OpInsert:
			b.Insert(op.Key, op.Value)
		case store.OpAdd:
			b.Add(op.Key, op.Delta)
		}
	}
}

// Apply commits b, holding a plan's writes, to the ledger's store: for a
// region whose audit log is off (otherwise the log's Apply commits the
// plan with its entries).
func (l *Ledger) Apply(ctx context.Context, b *store.Batch) error { return l.st.Apply(ctx, b) }

// Turn waits until no other contended plan of this node is committing
// and returns the function that ends the turn; waited says whether
// another was (the plan in hand may then be stale: make it again). Without
// turns, n concurrent plans near a limit take n-1 rounds of conflicts, and
// one that keeps losing is refused for no reason.
//
// Errors: ctx's, when it ends first.
func (l *Ledger) Turn(ctx context.Context) (end func(), waited bool, err error) {
	select {
	case l.turn <- struct{}{}:
		return l.endTurn, false, nil
	default:
	}
	select {
	case l.turn <- struct{}{}:
		return l.endTurn, true, nil
	case <-ctx.Done():
		return nil, false, fmt.Errorf("transfer: waiting to commit: %w", ctx.Err())
	}
}

func (l *Ledger) endTurn() { <-l.turn }

// Year returns the ledger year of t: the calendar year in the region's
// time zone.
func (l *Ledger) Year(t time.Time) int { return t.In(l.region.TimeZone).Year() }

// ThisYear is the ledger year of the ledger's clock now: the year a
// report of year 0 covers.
func (l *Ledger) ThisYear() int { return l.Year(l.now()) }

// choice is the mechanism chosen for one item.
type choice struct {
	mech    *policy.Mechanism // nil: none
	counted bool
	rules   []string
	// candidates are the covering mechanisms to pick from once the
	// required level is known (when the rule names none).
	candidates []*policy.Mechanism
}

// Plan decides t: it reads the year's counts and the markers of t's
// individuals, checks that the mechanisms cover the transfer at the level
// the counts after it require, and prepares its writes and entries. A plan
// whose writes conflict at commit (another node counted one of the same
// individuals first, or took the same place below a limit) must be made
// again with Replan.
//
// Errors: *Insufficient; the store's, wrapped.
func (l *Ledger) Plan(ctx context.Context, t Transfer) (*Plan, error) { return l.decide(ctx, t, false) }

// Replan is Plan reading the year's counts afresh: after a conflict.
func (l *Ledger) Replan(ctx context.Context, t Transfer) (*Plan, error) {
	return l.decide(ctx, t, true)
}

// decide is plan, with a refusal confirmed. A plan reads the individuals'
// markers and then the year's counts, not one snapshot: when another node
// counts one of the same individuals in between, the plan counts it twice
// and may find the mechanisms insufficient. So *Insufficient stands only
// when plans made afresh after it refuse too (three more reads at most;
// refusals are rare): each reads the markers after the counts its
// predecessor saw.
func (l *Ledger) decide(ctx context.Context, t Transfer, fresh bool) (*Plan, error) {
	p, err := l.plan(ctx, t, fresh)
	var ins *Insufficient
	for range 3 {
		if !errors.As(err, &ins) {
			break
		}
		p, err = l.plan(ctx, t, true)
	}
	return p, err
}

func (l *Ledger) plan(ctx context.Context, t Transfer, fresh bool) (*Plan, error) {
	now := l.now()
	p := &Plan{Year: l.Year(now), Counted: map[string]int64{}}
	if len(t.Items) == 0 {
		return p, nil
	}
	choices := make([]choice, len(t.Items))
	for i := range t.Items {
		c, err := l.choose(&t.Items[i], t, now)
		if err != nil {
			return nil, err
		}
		choices[i] = c
	}
	// The individuals this transfer adds to the year's counts.
	type key struct{ ref, class string }
	news := map[key]bool{}
	added := map[string]int64{}
	for i, it := range t.Items {
		if !choices[i].counted {
			continue
		}
		for _, class := range l.classes(it) {
			k := key{string(it.Subject), class}
			if _, seen := news[k]; seen {
				continue
			}
			ok, err := l.has(ctx, individualKey(p.Year, class, it.Subject))
			if err != nil {
				return nil, err
			}
			news[k] = !ok
			if !ok {
				added[class]++
			}
		}
	}
	before := map[string]int64{}
	for _, class := range []string{NonSensitive, Sensitive} {
		n, err := l.counter(ctx, individualsCounter(p.Year, class), fresh)
		if err != nil {
			return nil, fmt.Errorf("transfer: read the year's count: %w", err)
		}
		before[class] = n
		p.Counted[class] = n + added[class]
	}
	required := policy.LevelNone
	if th := l.region.Thresholds; th != nil {
		required = th.Required(p.Counted[NonSensitive], p.Counted[Sensitive])
	}
	for i := range choices {
		if err := l.settle(&choices[i], &t.Items[i], t, required, p.Counted); err != nil {
			return nil, err
		}
	}
	// Writes: individuals and slots, then buckets.
	for k, isNew := range news {
		if !isNew {
			continue
		}
		mk := individualKey(p.Year, k.class, []byte(k.ref))
		p.ops.Insert(mk, []byte{})
		p.ops.Add(individualsCounter(p.Year, k.class), 1)
		p.markers = append(p.markers, mk)
	}
	p.added = added
	l.slots(p, before, added)
	p.Warnings = l.warnings(before, p.Counted, required)
	if err := l.buckets(ctx, p, t, choices); err != nil {
		return nil, err
	}
	return p, nil
}

// classes returns the classes of personal information of it that leave.
func (l *Ledger) classes(it Item) []string {
	var out []string
	for name := range it.Fields {
		if class := l.classOf(it.Collection, name); !slices.Contains(out, class) {
			out = append(out, class)
		}
	}
	slices.Sort(out)
	return out
}

// has reports whether marker key is stored.
func (l *Ledger) has(ctx context.Context, key []byte) (bool, error) {
	l.mu.Lock()
	_, ok := l.known[string(key)]
	l.mu.Unlock()
	if ok {
		return true, nil
	}
	_, err := l.st.Get(ctx, key)
	switch {
	case err == nil:
		l.mu.Lock()
		if len(l.known) >= maxKnown {
			clear(l.known)
		}
		l.known[string(key)] = struct{}{}
		l.mu.Unlock()
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("transfer: read the ledger: %w", err)
}

// counter reads counter key, from the cache when it is younger than
// CountTTL and not fresh.
func (l *Ledger) counter(ctx context.Context, key []byte, fresh bool) (int64, error) {
	l.mu.Lock()
	c, ok := l.counts[string(key)]
	l.mu.Unlock()
	if ok && !fresh && time.Since(c.at) < CountTTL {
		return c.n, nil
	}
	n, err := l.st.Counter(ctx, key)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	if len(l.counts) > 64 {
		clear(l.counts) // years and classes: a handful
	}
	l.counts[string(key)] = cachedCount{n: n, at: time.Now()}
	l.mu.Unlock()
	return n, nil
}

// choose finds the mechanism of one item: the one its transfer rules name
// (which must cover it), else the region's mechanisms that cover it. An
// exempt mechanism (contract necessity, HR, emergency) makes the item
// uncounted.
func (l *Ledger) choose(it *Item, t Transfer, now time.Time) (choice, error) {
	var c choice
	for _, rule := range it.Fields {
		if !slices.Contains(c.rules, rule) {
			c.rules = append(c.rules, rule)
		}
	}
	slices.Sort(c.rules)
	for _, name := range c.rules {
		r := l.rule(name)
		if r == nil || r.Mechanism == "" {
			continue
		}
		m, ok := l.pol.Mechanism(r.Mechanism)
		if !ok {
			return c, &Insufficient{Reason: fmt.Sprintf("transfer rule %s names mechanism %s, which the policy does not record", name, r.Mechanism)}
		}
		if ok, why := m.Covers(it.Collection, t.Destination, t.Organisation, now); !ok {
			return c, &Insufficient{Reason: fmt.Sprintf("mechanism %s (%s, %s) of transfer rule %s %s", m.Name, m.Kind, m.Reference, name, why)}
		}
		c.mech, c.counted = m, m.Counted()
		return c, nil
	}
	for _, m := range l.pol.MechanismsOf(l.region.Name) {
		if ok, _ := m.Covers(it.Collection, t.Destination, t.Organisation, now); ok {
			if !m.Counted() {
				c.mech, c.counted, c.candidates = m, false, nil
				return c, nil
			}
			c.candidates = append(c.candidates, m)
		}
	}
	c.counted = true
	return c, nil
}

// rule returns the transfer rule named name, nil if none.
func (l *Ledger) rule(name string) *policy.Transfer {
	for i := range l.pol.Transfers {
		if l.pol.Transfers[i].Name == name {
			return &l.pol.Transfers[i]
		}
	}
	return nil
}

// settle checks that the item's mechanism is of the required level, or
// picks the lowest covering one that is. Within the exemption any
// mechanism, or none, will do.
func (l *Ledger) settle(c *choice, it *Item, t Transfer, required policy.Level, counted map[string]int64) error {
	if !c.counted {
		return nil
	}
	if c.mech == nil {
		slices.SortStableFunc(c.candidates, func(a, b *policy.Mechanism) int { return int(a.Level()) - int(b.Level()) })
		for _, m := range c.candidates {
			if m.Level() >= required {
				c.mech = m
				break
			}
		}
	}
	if required <= policy.LevelExempt || (c.mech != nil && c.mech.Level() >= required) {
		return nil
	}
	have := "no mechanism covers it"
	if c.mech != nil {
		have = fmt.Sprintf("mechanism %s is a %s", c.mech.Name, c.mech.Kind)
	} else if len(c.candidates) > 0 {
		var names []string
		for _, m := range c.candidates {
			names = append(names, m.Name+" ("+m.Kind+")")
		}
		have = "the covering mechanisms are " + strings.Join(names, ", ")
	}
	return &Insufficient{Reason: fmt.Sprintf("this year's transfers from %s (%d individuals, %d of them with sensitive information, counting this one) need a %s for %s to %s; %s",
		l.region.Name, counted[NonSensitive], counted[Sensitive], required, it.Collection, t.Destination, have)}
}

// slots adds the numbered slots of the individuals counted within Band of
// a limit: two plans taking the same place below a limit conflict.
func (l *Ledger) slots(p *Plan, before, fresh map[string]int64) {
	th := l.region.Thresholds
	if th == nil {
		return
	}
	for _, class := range []string{NonSensitive, Sensitive} {
		if fresh[class] == 0 {
			continue
		}
		near := false
		for _, lv := range []policy.Level{policy.LevelExempt, policy.LevelContract} {
			lim := th.Limit(lv, class == Sensitive)
			if lim > 0 && lim < math.MaxInt64 && before[class]+fresh[class] >= lim-Band && before[class] <= lim+Band {
				near = true
			}
		}
		if !near {
			continue
		}
		for n := before[class] + 1; n <= before[class]+fresh[class]; n++ {
			p.ops.Insert(slotKey(p.Year, class, n), []byte{})
		}
		p.slotted = true
	}
}

// warnings are the 80% and 95% marks of the required level's limits that
// this transfer reaches.
func (l *Ledger) warnings(before, after map[string]int64, required policy.Level) []Warning {
	th := l.region.Thresholds
	if th == nil {
		return nil
	}
	var out []Warning
	lv := max(required, policy.LevelExempt)
	for _, class := range []string{NonSensitive, Sensitive} {
		lim := th.Limit(lv, class == Sensitive)
		if lim <= 0 || lim == math.MaxInt64 {
			continue
		}
		for _, pct := range []int{95, 80} {
			mark := (lim*int64(pct) + 99) / 100
			if before[class] < mark && after[class] >= mark {
				out = append(out, Warning{Class: class, Level: lv, Percent: pct, Count: after[class], Limit: lim})
				break
			}
		}
	}
	return out
}

// buckets adds the per-bucket markers, counters and audit entries.
func (l *Ledger) buckets(ctx context.Context, p *Plan, t Transfer, choices []choice) error {
	type agg struct {
		records, fields, rules []string
		subjects               [][]byte
		coll                   string
	}
	byBucket := map[string]*agg{}
	var order []string
	seen := map[string]bool{}
	for i, it := range t.Items {
		mech := NoMechanism
		if choices[i].mech != nil {
			mech = choices[i].mech.Name
		}
		for _, class := range l.classes(it) {
			b := bucketName(it.Jurisdiction, t.Destination, mech, class)
			a := byBucket[b]
			if a == nil {
				a = &agg{coll: it.Collection}
				byBucket[b] = a
				order = append(order, b)
			}
			if it.Record != "" {
				a.records = appendOnce(a.records, it.Record)
			}
			for f, rule := range it.Fields {
				if l.classOf(it.Collection, f) == class {
					a.fields = appendOnce(a.fields, f)
					a.rules = appendOnce(a.rules, rule)
				}
			}
			if choices[i].counted {
				mk := string(bucketMarker(p.Year, b, it.Subject))
				if !seen[mk] {
					seen[mk] = true
					a.subjects = append(a.subjects, it.Subject)
					ok, err := l.has(ctx, []byte(mk))
					if err != nil {
						return err
					}
					if !ok {
						p.ops.Insert([]byte(mk), []byte{})
						p.ops.Add(bucketIndividuals(p.Year, b), 1)
						p.markers = append(p.markers, []byte(mk))
					}
				}
			} else if !containsRef(a.subjects, it.Subject) {
				a.subjects = append(a.subjects, it.Subject)
			}
		}
	}
	for _, b := range order {
		a := byBucket[b]
		bk := bucketKey(p.Year, b)
		ok, err := l.has(ctx, bk)
		if err != nil {
			return err
		}
		if !ok {
			p.ops.Put(bk, []byte{})
			p.markers = append(p.markers, bk)
		}
		p.ops.Add(bucketRecords(p.Year, b), int64(len(a.records)))
		slices.Sort(a.fields)
		slices.Sort(a.rules)
		e := entry.Entry{Action: entry.Transfer, Collection: a.coll, Records: a.records, Fields: a.fields,
			Decision: strings.ReplaceAll(b, "|", "/"), Rule: strings.Join(a.rules, ",")}
		for _, s := range a.subjects {
			e.Subjects = append(e.Subjects, entry.SubjectMAC(s))
		}
		p.Entries = append(p.Entries, e)
	}
	return nil
}

func (l *Ledger) classOf(collection, field string) string {
	if coll, ok := l.pol.Collection(collection); ok {
		if f, ok := coll.Field(field); ok && f.Sensitive {
			return Sensitive
		}
	}
	return NonSensitive
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func containsRef(list [][]byte, ref []byte) bool {
	return slices.ContainsFunc(list, func(r []byte) bool { return string(r) == string(ref) })
}

func bucketName(jurisdiction, destination, mechanism, class string) string {
	return jurisdiction + "|" + destination + "|" + mechanism + "|" + class
}

func year(y int) string { return strconv.Itoa(y) }

func individualKey(y int, class string, ref []byte) []byte {
	return append([]byte("x/i/"+year(y)+"/"+class+"/"), ref...)
}

func individualsCounter(y int, class string) []byte { return []byte("x/I/" + year(y) + "/" + class) }

func slotKey(y int, class string, n int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("x/q/"+year(y)+"/"+class+"/"), uint64(n))
}

func bucketKey(y int, b string) []byte { return []byte("x/k/" + year(y) + "/" + b) }

func bucketMarker(y int, b string, ref []byte) []byte {
	return append([]byte("x/b/"+year(y)+"/"+b+"/"), ref...)
}

func bucketIndividuals(y int, b string) []byte { return []byte("x/B/" + year(y) + "/" + b) }

func bucketRecords(y int, b string) []byte { return []byte("x/R/" + year(y) + "/" + b) }
