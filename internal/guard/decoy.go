package guard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/store"
)

// DecoyRecord is a decoy customer to create: the same shape as a real
// record, so nothing but the guard tells it apart.
type DecoyRecord struct {
	Collection   string
	Subject      string
	Jurisdiction string
	Fields       map[string]string
}

// Creator creates records the way the vault creates any record (same
// collections, same encryption) and returns their ids, in order. The lead
// adapts the vault to it.
type Creator interface {
	CreateDecoys(ctx context.Context, recs []DecoyRecord) ([]string, error)
}

// CreatorFunc adapts a function to Creator.
type CreatorFunc func(ctx context.Context, recs []DecoyRecord) ([]string, error)

// CreateDecoys calls f.
func (f CreatorFunc) CreateDecoys(ctx context.Context, recs []DecoyRecord) ([]string, error) {
	return f(ctx, recs)
}

// decoySet is the in-memory copy of the decoys, as the keyed MACs their
// store keys are made of (decoyMAC), so IsDecoy costs a MAC and a map
// lookup. It is reloaded when the store's decoy counter moves.
type decoySet struct {
	mu      sync.RWMutex
	records map[string]struct{}
	tokens  map[string]struct{}
	gen     int64

	// The planting of scheduled decoys (Plan).
	plantMu sync.Mutex
	planter Planter
	gen2    DecoyGenerator
	lastRun map[string]time.Time // plan id -> this node's last look at it
}

// decoyMAC is the keyed MAC, in hex, that stands for a decoy record id
// (kind "r") or token (kind "t") in the store and in memory: someone who
// reads the store without the region's keys learns how many decoys there
// are, not which records they are.
func (g *Guard) decoyMAC(kind, v string) string {
	h := g.mac()
	h.Write([]byte("decoy\x00" + kind + "\x00"))
	h.Write([]byte(v))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// DecoyGenerator makes decoy customers. Production uses
// internal/guard/decoys; the guard needs nothing else of it.
type DecoyGenerator interface {
	// Supported reports whether Decoy makes customers of jurisdiction (an
	// upper-case ISO 3166-1 alpha-2 code).
	Supported(jurisdiction string) bool
	// Decoy returns a new decoy customer resident in jurisdiction, with
	// Subject, Jurisdiction and Fields set (by field name: the customers
	// collection's name, email, phone, national_id, date_of_birth and
	// address). It must be drawn like a real customer and be unpredictable,
	// so that nothing in its shape tells it apart. It fails for an
	// unsupported jurisdiction.
	Decoy(jurisdiction string) (DecoyRecord, error)
}

// Seed creates n decoy customers in collection, drawn by gen round-robin
// over jurisdictions, through c, and records their ids as decoys. Only the
// fields the collection defines are kept. It returns the new record ids.
// Every jurisdiction drawn must be one gen supports; otherwise nothing is
// created.
//
// The records are created before they are marked: a crash in between
// leaves unmarked fake customers, which nothing reads and nothing alerts
// on; run Seed again.
func (g *Guard) Seed(ctx context.Context, c Creator, gen DecoyGenerator, collection string, jurisdictions []string, n int) ([]string, error) {
	coll, ok := g.polColl(collection)
	if !ok {
		return nil, fmt.Errorf("guard: seed: unknown collection %q", collection)
	}
	if len(jurisdictions) == 0 {
		return nil, fmt.Errorf("guard: seed: no jurisdictions")
	}
	recs := make([]DecoyRecord, 0, n)
	for i := range n {
		j := jurisdictions[i%len(jurisdictions)]
		if !gen.Supported(j) {
			return nil, fmt.Errorf("guard: seed: no decoys for jurisdiction %q", j)
		}
		cust, err := gen.Decoy(j)
		if err != nil {
			return nil, fmt.Errorf("guard: seed: %w", err)
		}
		fields := map[string]string{}
		for _, f := range coll {
			if v, ok := cust.Fields[f]; ok {
				fields[f] = v
			}
		}
		recs = append(recs, DecoyRecord{Collection: collection, Subject: cust.Subject, Jurisdiction: j, Fields: fields})
	}
	ids, err := c.CreateDecoys(ctx, recs)
	if err != nil {
		return nil, fmt.Errorf("guard: seed: %w", err)
	}
	if len(ids) != len(recs) {
		return nil, fmt.Errorf("guard: seed: created %d records for %d decoys", len(ids), len(recs))
	}
	if err := g.markRecords(ctx, ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// markRecords records ids as decoy records. The store keeps a keyed MAC of
// each id and nothing else: no time, collection or jurisdiction that would
// tie the mark to a record.
func (g *Guard) markRecords(ctx context.Context, ids []string) error {
	var b store.Batch
	macs := make([]string, len(ids))
	for i, id := range ids {
		macs[i] = g.decoyMAC("r", id)
		b.Put(decoyRecordKey(macs[i]), nil)
	}
	return g.mark(ctx, &b, macs, nil)
}

// MarkDecoyTokens records tokens (of decoy values) as decoys: presenting
// one (Event.Tokens) raises a critical alert.
func (g *Guard) MarkDecoyTokens(ctx context.Context, tokens []string) error {
	var b store.Batch
	macs := make([]string, len(tokens))
	for i, t := range tokens {
		macs[i] = g.decoyMAC("t", t)
		b.Put(decoyTokenKey(macs[i]), nil)
	}
	return g.mark(ctx, &b, nil, macs)
}

// mark applies b, which stores decoys, and adds their MACs to memory.
func (g *Guard) mark(ctx context.Context, b *store.Batch, ids, tokens []string) error {
	b.Add([]byte(counterDecoys), 1)
	if err := g.st.Apply(ctx, b); err != nil {
		return fmt.Errorf("guard: mark decoys: %w", err)
	}
	d := &g.decoys
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		d.records[id] = struct{}{}
	}
	for _, t := range tokens {
		d.tokens[t] = struct{}{}
	}
	return nil
}

// IsDecoy reports whether id is a decoy record. It reads memory only.
func (g *Guard) IsDecoy(id string) bool {
	mac := g.decoyMAC("r", id)
	d := &g.decoys
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.records[mac]
	return ok
}

// decoyHits returns the decoys ev touches: record ids, and "token" for
// each decoy token.
func (g *Guard) decoyHits(ev *Event) []string {
	d := &g.decoys
	d.mu.RLock()
	defer d.mu.RUnlock()
	if len(d.records) == 0 && len(d.tokens) == 0 {
		return nil
	}
	var out []string
	if len(d.records) > 0 {
		for _, id := range ev.RecordIDs {
			if _, ok := d.records[g.decoyMAC("r", id)]; ok {
				out = append(out, id)
			}
		}
	}
	if len(d.tokens) > 0 {
		for _, t := range ev.Tokens {
			if _, ok := d.tokens[g.decoyMAC("t", t)]; ok {
				out = append(out, "token")
			}
		}
	}
	return out
}

// loadDecoys reads every decoy from the store.
func (g *Guard) loadDecoys(ctx context.Context) error {
	gen, err := g.st.Counter(ctx, []byte(counterDecoys))
	if err != nil {
		return fmt.Errorf("guard: load decoys: %w", err)
	}
	kvs, err := g.st.Scan(ctx, []byte("g/h/"), store.PrefixEnd([]byte("g/h/")), 0)
	if err != nil {
		return fmt.Errorf("guard: load decoys: %w", err)
	}
	recs, toks := map[string]struct{}{}, map[string]struct{}{}
	var legacy store.Batch
	for _, kv := range kvs {
		k := string(kv.Key)
		if v, ok := strings.CutPrefix(k, prefixDecoyRec); ok {
			if !isDecoyMAC(v) {
				// Marked before decoys were keyed by MAC: rekey it.
				v = g.decoyMAC("r", v)
				legacy.Delete(kv.Key)
				legacy.Put(decoyRecordKey(v), nil)
			}
			recs[v] = struct{}{}
		} else if v, ok := strings.CutPrefix(k, prefixDecoyTok); ok {
			if !isDecoyMAC(v) {
				v = g.decoyMAC("t", v)
				legacy.Delete(kv.Key)
				legacy.Put(decoyTokenKey(v), nil)
			}
			toks[v] = struct{}{}
		}
	}
	if legacy.Len() > 0 {
		if err := g.st.Apply(ctx, &legacy); err != nil {
			return fmt.Errorf("guard: rekey decoys: %w", err)
		}
	}
	d := &g.decoys
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records, d.tokens, d.gen = recs, toks, gen
	return nil
}

// refreshDecoys reloads the decoys when another node added some.
func (g *Guard) refreshDecoys(ctx context.Context) error {
	gen, err := g.st.Counter(ctx, []byte(counterDecoys))
	if err != nil {
		return fmt.Errorf("guard: refresh decoys: %w", err)
	}
	g.decoys.mu.RLock()
	same := gen == g.decoys.gen
	g.decoys.mu.RUnlock()
	if same {
		return nil
	}
	return g.loadDecoys(ctx)
}

// polColl returns the field names of a policy collection.
func (g *Guard) polColl(name string) ([]string, bool) {
	c, ok := g.polFull.Collection(name)
	if !ok {
		return nil, false
	}
	out := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		out[i] = f.Name
	}
	return out, true
}

// isDecoyMAC reports whether a decoy key's suffix is a MAC (32 lower-case
// hex digits) rather than an id stored in clear by an older version:
// record ids and tokens always hold a '_'.
func isDecoyMAC(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// DecoyPlan schedules decoys to be planted one at a time over a period, each
// created the way Principal creates records, so that neither the audit
// log, nor the records' times, nor the region's counts set them apart from
// the records around them.
type DecoyPlan struct {
	Collection    string
	Jurisdictions []string
	Count         int
	// Principal is the service whose creates the decoys' look like; its
	// creates around them are the crowd they hide in. Purpose is the
	// purpose their entries state.
	Principal, Purpose string
	// Spread is how long the planting takes: each decoy is created at a
	// random time within Spread of the plan.
	Spread time.Duration
}

// storedPlan is a DecoyPlan in the store, under g/h/p/<plan id>: a count,
// names and times, no record id and no value.
type storedPlan struct {
	Collection    string    `json:"collection"`
	Jurisdictions []string  `json:"jurisdictions"`
	Principal     string    `json:"principal"`
	Purpose       string    `json:"purpose,omitempty"`
	Count         int       `json:"count"`
	Done          int       `json:"done"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
}

// Planter creates one decoy as principal, stating purpose, the way that
// principal creates records (its location, a request id of the usual
// shape, the access rule of its create), and returns the new record id.
type Planter interface {
	PlantDecoy(ctx context.Context, principal, purpose string, rec DecoyRecord) (string, error)
}

// SetPlanter makes the guard plant the decoys of Plan through p, drawn by
// gen: the background loop plants those that fall due.
func (g *Guard) SetPlanter(p Planter, gen DecoyGenerator) {
	d := &g.decoys
	d.plantMu.Lock()
	defer d.plantMu.Unlock()
	d.planter, d.gen2 = p, gen
}

// Plan schedules p's decoys. Nothing is created now: the decoys are
// created one at a time at random times over p.Spread, by any node of the
// region, through the Planter (SetPlanter).
func (g *Guard) Plan(ctx context.Context, p DecoyPlan) error {
	if _, ok := g.polColl(p.Collection); !ok {
		return fmt.Errorf("guard: plan: unknown collection %q", p.Collection)
	}
	if len(p.Jurisdictions) == 0 || p.Count < 1 || p.Principal == "" || p.Spread <= 0 {
		return errors.New("guard: plan: jurisdictions, count, principal and spread are required")
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	now := g.now().UTC()
	v, err := json.Marshal(storedPlan{Collection: p.Collection, Jurisdictions: p.Jurisdictions, Principal: p.Principal,
		Purpose: p.Purpose, Count: p.Count, Start: now, End: now.Add(p.Spread)})
	if err != nil {
		return err
	}
	var b store.Batch
	b.Insert([]byte(prefixDecoyPlan+hex.EncodeToString(id[:])), v)
	if err := g.st.Apply(ctx, &b); err != nil {
		return fmt.Errorf("guard: plan decoys: %w", err)
	}
	g.pokeLoop()
	return nil
}

// pokeLoop wakes the background loop, if there is one.
func (g *Guard) pokeLoop() {
	if g.poke != nil {
		select {
		case g.poke <- struct{}{}:
		default:
		}
	}
}

// PlantDue plants the scheduled decoys that are due: each plan's remaining
// decoys fall due at random, as a Poisson process that ends with the plan's
// spread (what is left then is planted at once). The background loop calls
// it; tests with a controlled clock may call it themselves. It returns how
// many decoys it planted.
func (g *Guard) PlantDue(ctx context.Context) (int, error) {
	d := &g.decoys
	d.plantMu.Lock()
	defer d.plantMu.Unlock()
	if d.planter == nil || d.gen2 == nil {
		return 0, nil
	}
	kvs, err := g.st.Scan(ctx, []byte(prefixDecoyPlan), store.PrefixEnd([]byte(prefixDecoyPlan)), 0)
	if err != nil {
		return 0, fmt.Errorf("guard: plant decoys: %w", err)
	}
	if d.lastRun == nil {
		d.lastRun = map[string]time.Time{}
	}
	now := g.now()
	planted := 0
	var errs []error
	for _, kv := range kvs {
		var p storedPlan
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			errs = append(errs, fmt.Errorf("guard: decoy plan %s is corrupt: %w", kv.Key, err))
			continue
		}
		id := string(kv.Key)
		last, ok := d.lastRun[id]
		if !ok || last.Before(p.Start) {
			last = p.Start
		}
		d.lastRun[id] = now
		left := p.Count - p.Done
		due := 0
		if !now.Before(p.End) {
			due = left
		} else if dt := now.Sub(last); dt > 0 {
			// Each remaining decoy falls due in this step with the
			// probability that a uniform time in (last, End) falls in it.
			prob := float64(dt) / float64(p.End.Sub(last))
			for range left {
				if chance(prob) {
					due++
				}
			}
		}
		raw := kv.Value
		for range due {
			n, next, err := g.plantOne(ctx, kv.Key, raw, p)
			planted += n
			if err != nil {
				errs = append(errs, err)
				break
			}
			if next == nil {
				break
			}
			raw = next
			json.Unmarshal(next, &p)
		}
	}
	return planted, errors.Join(errs...)
}

// chance returns true with probability p.
func chance(p float64) bool {
	if p >= 1 {
		return true
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<53))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return float64(n.Int64())/(1<<53) < p
}

// plantOne claims the plan's next decoy (a compare-and-set of the plan, so
// that two nodes never plant the same one) and plants it. It returns the
// plan's new bytes, nil once it is done or when another node changed it.
func (g *Guard) plantOne(ctx context.Context, key, raw []byte, p storedPlan) (int, []byte, error) {
	if p.Done >= p.Count {
		return 0, nil, nil
	}
	j := p.Jurisdictions[p.Done%len(p.Jurisdictions)]
	p.Done++
	var b store.Batch
	b.Expect(key, raw)
	var next []byte
	if p.Done >= p.Count {
		b.Delete(key)
	} else {
		next, _ = json.Marshal(p)
		b.Put(key, next)
	}
	err := g.st.Apply(ctx, &b)
	if errors.Is(err, store.ErrConflict) {
		return 0, nil, nil // another node planted it; its turn
	}
	if err != nil {
		return 0, nil, fmt.Errorf("guard: claim decoy: %w", err)
	}
	// A crash from here until the mark leaves a fake customer that
	// nothing reads and nothing alerts on: one decoy fewer.
	rec, err := g.drawDecoy(p.Collection, j)
	if err != nil {
		return 0, next, err
	}
	id, err := g.decoys.planter.PlantDecoy(ctx, p.Principal, p.Purpose, rec)
	if err != nil {
		return 0, next, fmt.Errorf("guard: plant decoy: %w", err)
	}
	if err := g.markRecords(ctx, []string{id}); err != nil {
		return 0, next, err
	}
	return 1, next, nil
}

// drawDecoy draws one decoy of collection resident in jurisdiction j,
// with the fields the collection defines.
func (g *Guard) drawDecoy(collection, j string) (DecoyRecord, error) {
	coll, ok := g.polColl(collection)
	if !ok {
		return DecoyRecord{}, fmt.Errorf("guard: unknown collection %q", collection)
	}
	cust, err := g.decoys.gen2.Decoy(j)
	if err != nil {
		return DecoyRecord{}, fmt.Errorf("guard: draw decoy: %w", err)
	}
	fields := map[string]string{}
	for _, f := range coll {
		if v, ok := cust.Fields[f]; ok {
			fields[f] = v
		}
	}
	return DecoyRecord{Collection: collection, Subject: cust.Subject, Jurisdiction: j, Fields: fields}, nil
}

// PendingDecoys returns how many scheduled decoys are not planted yet.
func (g *Guard) PendingDecoys(ctx context.Context) (int, error) {
	kvs, err := g.st.Scan(ctx, []byte(prefixDecoyPlan), store.PrefixEnd([]byte(prefixDecoyPlan)), 0)
	if err != nil {
		return 0, fmt.Errorf("guard: pending decoys: %w", err)
	}
	n := 0
	for _, kv := range kvs {
		var p storedPlan
		if err := json.Unmarshal(kv.Value, &p); err == nil {
			n += p.Count - p.Done
		}
	}
	return n, nil
}
