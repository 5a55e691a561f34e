package transfer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/memstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type env struct {
	st    *memstore.Store
	clock *clock
	l     *Ledger
}

func newEnv(t *testing.T, region string) *env {
	t.Helper()
	pol, err := policy.Load("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: memstore.New(), clock: &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}}
	if e.l, err = New(e.st, pol, region, e.clock.now); err != nil {
		t.Fatal(err)
	}
	return e
}

// send plans and commits a transfer of the subjects' fields (all under
// rule) to dest, as a region's read would.
func (e *env) send(t *testing.T, dest, rule string, fields []string, subjects ...string) (*Plan, error) {
	t.Helper()
	p, err := e.l.Plan(context.Background(), transferOf(dest, rule, fields, subjects...))
	if err != nil {
		return nil, err
	}
	return p, e.commit(p)
}

func (e *env) commit(p *Plan) error {
	var b store.Batch
	p.AddTo(&b)
	if err := e.st.Apply(context.Background(), &b); err != nil {
		return err
	}
	e.l.Committed(p)
	return nil
}

func transferOf(dest, rule string, fields []string, subjects ...string) Transfer {
	tr := Transfer{Destination: dest, Recipient: "agent-" + strings.ToLower(dest)}
	for _, s := range subjects {
		it := Item{Record: "rec-" + s, Subject: []byte("ref:" + s), Jurisdiction: "CN", Collection: "customers", Fields: map[string]string{}}
		for _, f := range fields {
			it.Fields[f] = rule
		}
		tr.Items = append(tr.Items, it)
	}
	return tr
}

func subjects(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func (e *env) count(t *testing.T, class string) int64 {
	t.Helper()
	n, err := e.st.Counter(context.Background(), individualsCounter(e.l.Year(e.clock.now()), class))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantInsufficient(t *testing.T, err error, substr string) {
	t.Helper()
	var ins *Insufficient
	if !errors.As(err, &ins) || !strings.Contains(err.Error(), substr) {
		t.Fatalf("err = %v, want *Insufficient containing %q", err, substr)
	}
}

// TestThresholds walks the scaled-down PIPL ladder of the test policy
// (exempt below 5 individuals, a contract up to 10, sensitive information
// of up to 2 under a contract): each step with and without a covering
// mechanism.
func TestThresholds(t *testing.T) {
	name := []string{"name"}
	t.Run("exempt/then-contract-needed", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		// DE has a consent rule and no mechanism: fine while exempt.
		if _, err := e.send(t, "DE", "cn-to-de", name, subjects("a", 4)...); err != nil {
			t.Fatal(err)
		}
		// The same individuals again count once.
		if _, err := e.send(t, "DE", "cn-to-de", name, subjects("a", 4)...); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, NonSensitive); n != 4 {
			t.Fatalf("counted %d individuals, want 4", n)
		}
		_, err := e.send(t, "DE", "cn-to-de", name, "a-new")
		wantInsufficient(t, err, "need a standard contract or certification for customers to DE; no mechanism covers it")
		if n := e.count(t, NonSensitive); n != 4 {
			t.Fatalf("a refused transfer was counted: %d", n)
		}
	})
	t.Run("contract/up-to-its-limit", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		if _, err := e.send(t, "US", "cn-to-us", name, subjects("u", 10)...); err != nil {
			t.Fatal(err)
		}
		_, err := e.send(t, "US", "cn-to-us", name, "u-eleventh")
		wantInsufficient(t, err, "(11 individuals, 0 of them with sensitive information, counting this one) need a security assessment")
		wantInsufficient(t, err, "mechanism cn-us-contract is a standard-contract")
		// Japan is under an assessment: the same count is covered.
		if _, err := e.send(t, "JP", "cn-to-jp", name, "j-eleventh"); err != nil {
			t.Fatalf("under a security assessment: %v", err)
		}
		if n := e.count(t, NonSensitive); n != 11 {
			t.Fatalf("counted %d, want 11", n)
		}
	})
	t.Run("sensitive", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		id := []string{"national_id"}
		if _, err := e.send(t, "US", "cn-to-us", id, "s1", "s2"); err != nil {
			t.Fatal(err)
		}
		_, err := e.send(t, "US", "cn-to-us", id, "s3")
		wantInsufficient(t, err, "3 of them with sensitive information")
		if n, m := e.count(t, Sensitive), e.count(t, NonSensitive); n != 2 || m != 0 {
			t.Fatalf("counted %d sensitive, %d non-sensitive; want 2, 0", n, m)
		}
	})
	t.Run("expired", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		e.clock.set(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
		_, err := e.send(t, "US", "cn-to-us", name, "x")
		wantInsufficient(t, err, "mechanism cn-us-contract (standard-contract, CAC-SC-2026-0001) of transfer rule cn-to-us")
		wantInsufficient(t, err, "expired")
	})
	t.Run("exempt-kind/not-counted", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		p, err := e.send(t, "SG", "cn-to-sg-hr", name, subjects("h", 20)...)
		if err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, NonSensitive); n != 0 {
			t.Fatalf("HR transfers counted: %d", n)
		}
		if len(p.Entries) != 1 || p.Entries[0].Decision != "CN/SG/cn-sg-hr/n" || len(p.Entries[0].Subjects) != 20 {
			t.Fatalf("entries %+v, want one CN/SG/cn-sg-hr/n naming 20 subjects", p.Entries)
		}
	})
	t.Run("no-thresholds", func(t *testing.T) {
		e := newEnv(t, "eu-central")
		for i := range 3 {
			if _, err := e.send(t, "GB", "eu-to-gb", name, subjects(fmt.Sprint("g", i), 50)...); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.count(t, NonSensitive); n != 150 {
			t.Fatalf("counted %d, want 150", n)
		}
	})
}

// TestYearStartsInRegionTimeZone checks that the count starts again on 1
// January in the region's time zone (Asia/Shanghai is UTC+8).
func TestYearStartsInRegionTimeZone(t *testing.T) {
	e := newEnv(t, "cn-north")
	e.clock.set(time.Date(2026, 12, 31, 15, 30, 0, 0, time.UTC)) // 23:30 in Shanghai
	if _, err := e.send(t, "JP", "cn-to-jp", []string{"name"}, "y1", "y2"); err != nil {
		t.Fatal(err)
	}
	e.clock.set(time.Date(2026, 12, 31, 16, 30, 0, 0, time.UTC)) // 00:30 on 1 January
	if n := e.count(t, NonSensitive); n != 0 {
		t.Fatalf("2027 starts with %d individuals counted, want 0", n)
	}
	p, err := e.send(t, "JP", "cn-to-jp", []string{"name"}, "y1")
	if err != nil || p.Year != 2027 || p.Counted[NonSensitive] != 1 {
		t.Fatalf("first transfer of 2027: %+v, %v", p, err)
	}
}

// TestConcurrentPlansCountOnce checks exactness when two nodes plan at
// the same time: the same new individual, or two new individuals racing
// for the last place below a limit, conflict at commit, and planning
// again gives the right answer.
func TestConcurrentPlansCountOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("same-individual", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		a, err := e.l.Plan(ctx, transferOf("JP", "cn-to-jp", []string{"name"}, "same"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.l.Plan(ctx, transferOf("JP", "cn-to-jp", []string{"name"}, "same"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.commit(a); err != nil {
			t.Fatal(err)
		}
		if err := e.commit(b); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second plan of the same new individual committed: %v", err)
		}
		b, err = e.l.Replan(ctx, transferOf("JP", "cn-to-jp", []string{"name"}, "same"))
		if err != nil || e.commit(b) != nil {
			t.Fatalf("planned again: %v", err)
		}
		if n := e.count(t, NonSensitive); n != 1 {
			t.Fatalf("counted %d, want 1", n)
		}
	})
	t.Run("last-place-below-a-limit", func(t *testing.T) {
		e := newEnv(t, "cn-north")
		if _, err := e.send(t, "US", "cn-to-us", []string{"name"}, subjects("l", 9)...); err != nil {
			t.Fatal(err)
		}
		a, err := e.l.Plan(ctx, transferOf("US", "cn-to-us", []string{"name"}, "tenth-a"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.l.Plan(ctx, transferOf("US", "cn-to-us", []string{"name"}, "tenth-b"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.commit(a); err != nil {
			t.Fatal(err)
		}
		if err := e.commit(b); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("two individuals took the last place below the contract's limit: %v", err)
		}
		// Planned on the cached count, b conflicts again; afresh, it is
		// refused.
		if p, err := e.l.Plan(ctx, transferOf("US", "cn-to-us", []string{"name"}, "tenth-b")); err == nil {
			if err := e.commit(p); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("a plan on a stale count took a taken place: %v", err)
			}
		}
		_, err = e.l.Replan(ctx, transferOf("US", "cn-to-us", []string{"name"}, "tenth-b"))
		wantInsufficient(t, err, "need a security assessment")
		if n := e.count(t, NonSensitive); n != 10 {
			t.Fatalf("counted %d, want 10", n)
		}
	})
}

// TestWarnings checks the 80% and 95% marks of the limit in force.
func TestWarnings(t *testing.T) {
	e := newEnv(t, "cn-north")
	var got []string
	for i := range 10 {
		p, err := e.send(t, "US", "cn-to-us", []string{"name"}, fmt.Sprint("w", i))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range p.Warnings {
			got = append(got, fmt.Sprintf("%d:%s:%d%%:%d/%d", i+1, w.Class, w.Percent, w.Count, w.Limit))
		}
	}
	// Exempt up to 4: 80% of 4 is reached at 4 (and 95% too); from the
	// 5th a contract is needed, up to 10: 80% at 8, 95% at 10.
	want := []string{"4:n:95%:4/4", "8:n:80%:8/10", "10:n:95%:10/10"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("warnings %v, want %v", got, want)
	}
}

// TestEntriesHoldNoValues checks the ledger's audit entries: one per
// bucket, naming jurisdiction, destination, mechanism and class, the
// fields and rules, records and keyed subject references.
func TestEntries(t *testing.T) {
	e := newEnv(t, "cn-north")
	p, err := e.send(t, "US", "cn-to-us", []string{"name", "national_id"}, "e1", "e2")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 2 {
		t.Fatalf("%d entries, want 2 (non-sensitive and sensitive buckets)", len(p.Entries))
	}
	byDecision := map[string]entry.Entry{}
	for _, en := range p.Entries {
		byDecision[en.Decision] = en
		if en.Action != entry.Transfer || en.Rule != "cn-to-us" || len(en.Records) != 2 || len(en.Subjects) != 2 {
			t.Errorf("entry %+v", en)
		}
	}
	if f := byDecision["CN/US/cn-us-contract/n"].Fields; len(f) != 1 || f[0] != "name" {
		t.Errorf("non-sensitive entry fields %v", f)
	}
	if f := byDecision["CN/US/cn-us-contract/s"].Fields; len(f) != 1 || f[0] != "national_id" {
		t.Errorf("sensitive entry fields %v", f)
	}
}

// TestReport checks the report's figures against the transfers made: per
// bucket, per mechanism, the headroom under each level and the
// mechanisms' status.
func TestReport(t *testing.T) {
	e := newEnv(t, "cn-north")
	e.clock.set(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	if _, err := e.send(t, "US", "cn-to-us", []string{"name", "national_id"}, "r1", "r2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.send(t, "US", "cn-to-us", []string{"name"}, "r1", "r3"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.send(t, "SG", "cn-to-sg-hr", []string{"name"}, "r9"); err != nil {
		t.Fatal(err)
	}
	r, err := e.l.Report(context.Background(), 2026)
	if err != nil {
		t.Fatal(err)
	}
	if r.Individuals != (Individuals{NonSensitive: 3, Sensitive: 2}) || r.Required != "standard contract or certification" || r.TimeZone != "Asia/Shanghai" {
		t.Fatalf("report %+v", r)
	}
	got := map[string]Count{}
	for _, c := range r.Transfers {
		got[c.Destination+"/"+c.Mechanism+"/"+c.Class] = c
	}
	want := map[string][2]int64{
		"US/cn-us-contract/non-sensitive": {3, 4}, // individuals r1, r2, r3; records of both requests
		"US/cn-us-contract/sensitive":     {2, 2},
		"SG/cn-sg-hr/non-sensitive":       {0, 1}, // exempt: not counted, records still are
	}
	if len(got) != len(want) {
		t.Fatalf("buckets %+v", r.Transfers)
	}
	for k, w := range want {
		if c := got[k]; c.Individuals != w[0] || c.Records != w[1] {
			t.Errorf("%s: %d individuals, %d records; want %d, %d", k, c.Individuals, c.Records, w[0], w[1])
		}
	}
	th := map[string]Threshold{}
	for _, x := range r.Thresholds {
		th[x.Level] = x
	}
	if x := th["standard contract or certification"]; x.LimitNonSensitive != 10 || x.HeadroomNonSensitive != 7 || x.LimitSensitive != 2 || x.HeadroomSensitive != 0 {
		t.Errorf("contract threshold %+v", x)
	}
	if x := th["security assessment"]; x.LimitNonSensitive != -1 || x.HeadroomSensitive != -1 {
		t.Errorf("assessment threshold %+v", x)
	}
	status := map[string]string{}
	for _, m := range r.Mechanisms {
		status[m.Name] = m.Status
	}
	if status["cn-us-contract"] != "expiring" || status["cn-jp-assessment"] != "valid" || status["cn-sg-hr"] != "valid" {
		t.Errorf("mechanism status %v", status)
	}
}

// TestCommittedNeverCountsTwice: a count cached after a plan's commit
// already includes it; telling the ledger of the commit afterwards must
// not add it again (it would refuse transfers the thresholds allow).
func TestCommittedNeverCountsTwice(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "cn-north")
	p1, err := e.l.Plan(ctx, transferOf("JP", "cn-to-jp", []string{"name"}, "x"))
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	p1.AddTo(&b)
	if err := e.st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	// Another request reads the count afresh, after p1's commit.
	if _, err := e.l.Replan(ctx, transferOf("JP", "cn-to-jp", []string{"name"}, "y")); err != nil {
		t.Fatal(err)
	}
	e.l.Committed(p1)
	p3, err := e.l.Plan(ctx, transferOf("JP", "cn-to-jp", []string{"name"}, "z"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p3.Counted[NonSensitive]; got != 2 {
		t.Fatalf("after x (committed) and z (planned), the plan counts %d individuals, want 2", got)
	}
}

// TestRecipientOrganisation: a mechanism that names its recipients covers
// a transfer only to a principal of one of those organisations.
func TestRecipientOrganisation(t *testing.T) {
	e := newEnv(t, "cn-north")
	e.clock.set(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	for _, c := range []struct{ org, want string }{
		{"acme-kr", ""},
		{"", "does not cover an unnamed recipient (it covers acme-kr)"},
		{"beta-kr", "does not cover recipient beta-kr"},
	} {
		tr := transferOf("KR", "cn-to-kr-acme", []string{"name"}, "s1")
		tr.Organisation = c.org
		_, err := e.l.Plan(context.Background(), tr)
		if c.want == "" {
			if err != nil {
				t.Errorf("organisation %q: %v", c.org, err)
			}
			continue
		}
		wantInsufficient(t, err, c.want)
	}
}

// raceStore runs before, once, when the ledger first reads a count: after
// the ledger read its individuals' markers, before it reads the count.
type raceStore struct {
	store.Store
	once   sync.Once
	before func()
}

func (r *raceStore) Counter(ctx context.Context, key []byte) (int64, error) {
	r.once.Do(r.before)
	return r.Store.Counter(ctx, key)
}

// TestPlanAfterARaceIsNotRefused: another node transfers the same new
// individual between this node's read of the individual's marker and its
// read of the year's count. The count then already holds the individual
// this plan also adds; the plan must not count it twice and refuse (it
// re-plans from fresh reads before a refusal stands).
func TestPlanAfterARaceIsNotRefused(t *testing.T) {
	e := newEnv(t, "cn-north")
	name := []string{"name"}
	if _, err := e.send(t, "DE", "cn-to-de", name, subjects("a", 3)...); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs := &raceStore{Store: e.st}
	rs.before = func() {
		if _, err := e.send(t, "DE", "cn-to-de", name, "x"); err != nil {
			t.Errorf("the other node's transfer: %v", err)
		}
	}
	racer, err := New(rs, pol, "cn-north", e.clock.now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := racer.Plan(context.Background(), transferOf("DE", "cn-to-de", name, "x"))
	if err != nil {
		t.Fatalf("plan after the race: %v", err)
	}
	var b store.Batch
	p.AddTo(&b)
	if err := e.st.Apply(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, NonSensitive); n != 4 {
		t.Fatalf("counted %d individuals, want 4", n)
	}
}
