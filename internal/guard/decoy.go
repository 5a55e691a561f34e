package guard

import (
	"context"
	"encoding/json"
	"fmt"
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

// decoySet is the in-memory copy of the decoys, so IsDecoy costs a map
// lookup. It is reloaded when the store's decoy counter moves.
type decoySet struct {
	mu      sync.RWMutex
	records map[string]struct{}
	tokens  map[string]struct{}
	gen     int64
}

// decoyInfo is stored with each decoy.
type decoyInfo struct {
	Created      time.Time `json:"created"`
	Collection   string    `json:"collection,omitempty"`
	Jurisdiction string    `json:"jurisdiction,omitempty"`
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
	now := g.now().UTC()
	var b store.Batch
	for i, id := range ids {
		v, _ := json.Marshal(decoyInfo{Created: now, Collection: collection, Jurisdiction: recs[i].Jurisdiction})
		b.Put(decoyRecordKey(id), v)
	}
	if err := g.mark(ctx, &b, ids, nil); err != nil {
		return nil, err
	}
	return ids, nil
}

// MarkDecoyTokens records tokens (of decoy values) as decoys: presenting
// one (Event.Tokens) raises a critical alert.
func (g *Guard) MarkDecoyTokens(ctx context.Context, tokens []string) error {
	now := g.now().UTC()
	var b store.Batch
	for _, t := range tokens {
		v, _ := json.Marshal(decoyInfo{Created: now})
		b.Put(decoyTokenKey(t), v)
	}
	return g.mark(ctx, &b, nil, tokens)
}

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
	d := &g.decoys
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.records[id]
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
	for _, id := range ev.RecordIDs {
		if _, ok := d.records[id]; ok {
			out = append(out, id)
		}
	}
	for _, t := range ev.Tokens {
		if _, ok := d.tokens[t]; ok {
			out = append(out, "token")
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
	for _, kv := range kvs {
		k := string(kv.Key)
		if id, ok := strings.CutPrefix(k, prefixDecoyRec); ok {
			recs[id] = struct{}{}
		} else if t, ok := strings.CutPrefix(k, prefixDecoyTok); ok {
			toks[t] = struct{}{}
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
