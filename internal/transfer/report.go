package transfer

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// ExpiringWithin is how soon a mechanism's end makes a report flag it.
const ExpiringWithin = 90 * 24 * time.Hour

// Count is the year's figures of one bucket.
type Count struct {
	Jurisdiction string `json:"jurisdiction"` // of the records
	Destination  string `json:"destination"`
	Mechanism    string `json:"mechanism"` // NoMechanism when none
	Class        string `json:"class"`     // "non-sensitive" or "sensitive"
	Individuals  int64  `json:"individuals"`
	Records      int64  `json:"records"`
}

// Counts is a year's figures of the ledger.
type Counts struct {
	Year int
	// NonSensitive and Sensitive are the distinct individuals counted
	// towards the thresholds (exempt mechanisms' transfers are not).
	NonSensitive, Sensitive int64
	Buckets                 []Count // by jurisdiction, destination, mechanism, class
}

// Counts reads the figures of year: a few counters per bucket.
//
// Errors: the store's, wrapped.
func (l *Ledger) Counts(ctx context.Context, year int) (*Counts, error) {
	c := &Counts{Year: year}
	var err error
	if c.NonSensitive, err = l.st.Counter(ctx, individualsCounter(year, NonSensitive)); err != nil {
		return nil, fmt.Errorf("transfer: read counts: %w", err)
	}
	if c.Sensitive, err = l.st.Counter(ctx, individualsCounter(year, Sensitive)); err != nil {
		return nil, fmt.Errorf("transfer: read counts: %w", err)
	}
	prefix := bucketKey(year, "")
	kvs, err := l.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return nil, fmt.Errorf("transfer: read buckets: %w", err)
	}
	for _, kv := range kvs {
		b := string(kv.Key[len(prefix):])
		parts := strings.Split(b, "|")
		if len(parts) != 4 {
			return nil, fmt.Errorf("transfer: read buckets: malformed bucket %q", b)
		}
		n, err := l.st.Counter(ctx, bucketIndividuals(year, b))
		if err != nil {
			return nil, fmt.Errorf("transfer: read counts: %w", err)
		}
		r, err := l.st.Counter(ctx, bucketRecords(year, b))
		if err != nil {
			return nil, fmt.Errorf("transfer: read counts: %w", err)
		}
		c.Buckets = append(c.Buckets, Count{Jurisdiction: parts[0], Destination: parts[1], Mechanism: parts[2], Class: className(parts[3]),
			Individuals: n, Records: r})
	}
	return c, nil
}

func className(c string) string {
	if c == Sensitive {
		return "sensitive"
	}
	return "non-sensitive"
}

// Report is a year's account of the region's transfers for a regulator or
// an auditor: individuals and records per destination, mechanism and
// class, where the counts stand against the thresholds, and the mechanisms
// with their validity. It holds no personal value.
type Report struct {
	Region    string    `json:"region"`
	Year      int       `json:"year"`
	TimeZone  string    `json:"time_zone"` // the year runs from 1 January in it
	Generated time.Time `json:"generated"`
	// Individuals are the distinct individuals counted towards the
	// thresholds (exempt mechanisms' transfers are not counted).
	Individuals Individuals `json:"individuals"`
	// Required is the mechanism level the counts need ("" without
	// thresholds).
	Required   string       `json:"required,omitempty"`
	Thresholds []Threshold  `json:"thresholds,omitempty"`
	Transfers  []Count      `json:"transfers"`
	Mechanisms []MechReport `json:"mechanisms"`
}

// Individuals is a count of distinct individuals by class.
type Individuals struct {
	NonSensitive int64 `json:"non_sensitive"`
	Sensitive    int64 `json:"sensitive"`
}

// Threshold is the headroom under one level's limits.
type Threshold struct {
	Level string `json:"level"`
	// Limits are the counts the level covers up to; -1: no limit.
	LimitNonSensitive int64 `json:"limit_non_sensitive"`
	LimitSensitive    int64 `json:"limit_sensitive"`
	// Headroom is how many more individuals the level covers (negative:
	// over); -1 with no limit.
	HeadroomNonSensitive int64 `json:"headroom_non_sensitive"`
	HeadroomSensitive    int64 `json:"headroom_sensitive"`
}

// MechReport is one recorded mechanism of the region.
type MechReport struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Reference  string   `json:"reference,omitempty"`
	To         []string `json:"to"`
	ValidFrom  string   `json:"valid_from"`
	ValidUntil string   `json:"valid_until,omitempty"`
	// Status is "valid", "expiring" (ends within 90 days), "expired" or
	// "not yet valid" at the report's time.
	Status string `json:"status"`
	// Individuals and Records are its transfers' this year, summed over
	// destinations and classes (an individual sent both kinds of
	// information counts in each).
	Individuals int64 `json:"individuals"`
	Records     int64 `json:"records"`
}

// Report builds the report of year.
//
// Errors: those of Counts.
func (l *Ledger) Report(ctx context.Context, year int) (*Report, error) {
	c, err := l.Counts(ctx, year)
	if err != nil {
		return nil, err
	}
	now := l.now()
	r := &Report{Region: l.region.Name, Year: year, TimeZone: l.region.TimeZone.String(), Generated: now.UTC().Truncate(time.Second),
		Individuals: Individuals{NonSensitive: c.NonSensitive, Sensitive: c.Sensitive}, Transfers: c.Buckets}
	if r.Transfers == nil {
		r.Transfers = []Count{}
	}
	if th := l.region.Thresholds; th != nil {
		r.Required = th.Required(c.NonSensitive, c.Sensitive).String()
		for _, lv := range []policy.Level{policy.LevelExempt, policy.LevelContract, policy.LevelAssessment} {
			ln, ls := th.Limit(lv, false), th.Limit(lv, true)
			hn, hs := th.Headroom(lv, c.NonSensitive, c.Sensitive)
			r.Thresholds = append(r.Thresholds, Threshold{Level: lv.String(), LimitNonSensitive: unbounded(ln), LimitSensitive: unbounded(ls),
				HeadroomNonSensitive: unbounded(hn), HeadroomSensitive: unbounded(hs)})
		}
	}
	r.Mechanisms = []MechReport{}
	for _, m := range l.pol.MechanismsOf(l.region.Name) {
		mr := MechReport{Name: m.Name, Kind: m.Kind, Reference: m.Reference, To: m.To, ValidFrom: m.ValidFrom.Format(time.DateOnly),
			Status: status(m, now)}
		if !m.ValidUntil.IsZero() {
			mr.ValidUntil = m.ValidUntil.Format(time.DateOnly)
		}
		for _, b := range c.Buckets {
			if b.Mechanism == m.Name {
				mr.Individuals += b.Individuals
				mr.Records += b.Records
			}
		}
		r.Mechanisms = append(r.Mechanisms, mr)
	}
	slices.SortFunc(r.Mechanisms, func(a, b MechReport) int { return cmp.Compare(a.Name, b.Name) })
	return r, nil
}

func unbounded(n int64) int64 {
	if n == math.MaxInt64 {
		return -1
	}
	return n
}

func status(m *policy.Mechanism, now time.Time) string {
	switch {
	case now.Before(m.ValidFrom):
		return "not yet valid"
	case m.ValidUntil.IsZero():
		return "valid"
	case !now.Before(m.ValidUntil.AddDate(0, 0, 1)):
		return "expired"
	case m.ValidUntil.Sub(now) <= ExpiringWithin:
		return "expiring"
	}
	return "valid"
}
