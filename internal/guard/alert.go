package guard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// Alert is one detection, as stored, listed, sent to webhooks and written
// to the audit log. It carries evidence (counts, windows, the rule) and
// never a personal value: principals and records appear by id only.
type Alert struct {
	// ID sorts by time: 16 hex digits of Unix nanoseconds, '-', 8 random
	// hex digits.
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Region    string    `json:"region"`
	Principal string    `json:"principal"`
	Roles     []string  `json:"roles,omitempty"`
	// Rule is the policy rule that fired, or policy.HoneytokenRule.
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// Response is what the guard answered: alert, slow or lock.
	Response string `json:"response"`
	// Signal and Window are the rule's; Count is the signal's count over
	// the window when the rule fired, Limit the threshold it crossed.
	Signal string  `json:"signal,omitempty"`
	Window string  `json:"window,omitempty"`
	Count  float64 `json:"count"`
	Limit  float64 `json:"limit"`
	// Max and Baseline are the rule's thresholds; Expected is the
	// principal's usual count for the window (the learned baseline, or
	// the floor).
	Max      int64   `json:"max,omitempty"`
	Baseline float64 `json:"baseline,omitempty"`
	Expected float64 `json:"expected,omitempty"`
	// Counts is the principal's activity when the alert was raised, as
	// "signal/window": count, for every signal that is not zero.
	Counts map[string]float64 `json:"counts,omitempty"`
	// Decoy is the id of the decoy record touched, or "token" for a decoy
	// token, for honeytoken alerts.
	Decoy  string `json:"decoy,omitempty"`
	Action Action `json:"action,omitempty"`
	// RequestIDs are the ids of the requests that are evidence of the
	// alert: the request that made the rule fire, or that touched the
	// decoy. The audit log's entries of these requests say what they did.
	RequestIDs []string `json:"request_ids,omitempty"`
}

// requestIDs is the evidence of an alert raised by request id ("" when the
// caller gave none).
func requestIDs(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// Filter selects alerts in List. Zero fields select everything.
type Filter struct {
	Principal   string
	Rule        string
	MinSeverity string // low, medium, high or critical
	Since       time.Time
	Until       time.Time // exclusive
}

func newAlertID(t time.Time) string {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%016x-%s", uint64(t.UnixNano()), hex.EncodeToString(r[:]))
}

// raise stores a and its dedup mark atomically, then hands it to OnAlert.
// It returns false when another node (or an earlier request) already
// raised the alert of this principal, dedup name (the rule) and period.
func (g *Guard) raise(ctx context.Context, a *Alert, dedup string, period int64) (bool, error) {
	a.ID = newAlertID(a.Time)
	v, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	var b store.Batch
	b.Insert(raisedKey(a.Principal, dedup, period), nil)
	b.Put(alertKey(a.ID), v)
	err = g.st.Apply(ctx, &b)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("guard: store alert: %w", err)
	}
	if g.onAlert != nil {
		g.onAlert(*a)
	}
	return true, nil
}

func severityRank(s string) int { return slices.Index(policy.GuardSeverities, s) }

func (f *Filter) match(a *Alert) bool {
	return (f.Principal == "" || a.Principal == f.Principal) &&
		(f.Rule == "" || a.Rule == f.Rule) &&
		(f.MinSeverity == "" || severityRank(a.Severity) >= severityRank(f.MinSeverity)) &&
		(f.Since.IsZero() || !a.Time.Before(f.Since)) &&
		(f.Until.IsZero() || a.Time.Before(f.Until))
}

// ErrCursor is returned by List for a cursor it did not make.
var ErrCursor = errors.New("guard: invalid cursor")

// List returns up to limit alerts matching f, oldest first, starting after
// cursor (an alert id; "" for the beginning), and the cursor of the next
// page ("" when there is none). limit <= 0 means 100.
func (g *Guard) List(ctx context.Context, f Filter, cursor string, limit int) ([]Alert, string, error) {
	if limit <= 0 {
		limit = 100
	}
	start := alertKey("")
	if cursor != "" {
		if len(cursor) != 25 || cursor[16] != '-' {
			return nil, "", ErrCursor
		}
		start = append(alertKey(cursor), 0)
	}
	if !f.Since.IsZero() {
		if s := alertKey(fmt.Sprintf("%016x", uint64(f.Since.UnixNano()))); string(s) > string(start) {
			start = s
		}
	}
	end := store.PrefixEnd(alertKey(""))
	if !f.Until.IsZero() {
		end = alertKey(fmt.Sprintf("%016x", uint64(f.Until.UnixNano())))
	}
	var out []Alert
	for string(start) < string(end) {
		kvs, err := g.st.Scan(ctx, start, end, 4*limit)
		if err != nil {
			return nil, "", fmt.Errorf("guard: list alerts: %w", err)
		}
		for _, kv := range kvs {
			var a Alert
			if err := json.Unmarshal(kv.Value, &a); err != nil {
				return nil, "", fmt.Errorf("guard: alert %s is corrupt: %w", kv.Key, err)
			}
			if !f.match(&a) {
				continue
			}
			out = append(out, a)
			if len(out) == limit {
				return out, a.ID, nil
			}
		}
		if len(kvs) < 4*limit {
			break
		}
		start = append(kvs[len(kvs)-1].Key, 0)
	}
	return out, "", nil
}

// Raise stores and sends an alert that another part of the region
// detected (a transfer the recorded mechanisms do not cover, a yearly
// count nearing a threshold), with the region and time filled in. Alerts
// of one principal and rule are raised once per dedup period (zero: every
// time); it returns whether this one was.
//
// Errors: the store's, wrapped.
func (g *Guard) Raise(ctx context.Context, a Alert, dedup time.Duration) (bool, error) {
	now := g.now()
	a.Time, a.Region = now, g.region
	if a.Response == "" {
		a.Response = "alert"
	}
	period := now.UnixNano()
	if dedup > 0 {
		period = now.UnixNano() / int64(dedup)
	}
	return g.raise(ctx, &a, a.Rule, period)
}
