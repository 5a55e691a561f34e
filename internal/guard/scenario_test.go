package guard_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/decoys"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
)

// The scenarios of issue 7, on the example policy's guard section, against
// a real Pebble store and a controlled clock: days run in milliseconds.

// clock is a controlled time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// locks records the principals locked.
type locks struct {
	mu  sync.Mutex
	ids []string
}

func (l *locks) Lock(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, id)
	return nil
}

func (l *locks) locked(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.ids, id)
}

// monday is a Monday, 00:00 UTC.
var monday = time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)

func examplePolicy(t testing.TB) *policy.Policy {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func testMAC() hash.Hash { return hmac.New(sha256.New, []byte("guard test key")) }

func openStore(t testing.TB, dir string) store.Store {
	t.Helper()
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// env is one node of a region under test.
type env struct {
	g      *guard.Guard
	clk    *clock
	locks  *locks
	alerts *[]guard.Alert
}

func newGuard(t testing.TB, st store.Store, clk *clock) *env {
	t.Helper()
	e := &env{clk: clk, locks: &locks{}, alerts: &[]guard.Alert{}}
	var mu sync.Mutex
	g, err := guard.New(context.Background(), guard.Options{Store: st, Policy: examplePolicy(t), Region: "cn-north",
		Now: clk.Now, MAC: testMAC, Locker: e.locks, FlushEvery: -1,
		OnAlert: func(a guard.Alert) { mu.Lock(); *e.alerts = append(*e.alerts, a); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	return e
}

// read observes one support read of a CN record revealing two clear fields
// (name and phone: what support sees in clear).
func (e *env) read(t testing.TB, principal string, roles []string, id string) guard.Verdict {
	t.Helper()
	v, err := e.g.Observe(context.Background(), guard.Event{Principal: principal, Roles: roles,
		Action: guard.ActionRead, RecordIDs: []string{id}, ClearFields: 2})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) flush(t testing.TB) {
	t.Helper()
	if err := e.g.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var support = []string{"support"}

// weekday is a support agent's reads per hour (UTC) on a working day: a
// morning and an afternoon peak, about 430 a day, 18 an hour on average.
var weekday = [24]int{8: 10, 9: 30, 10: 60, 11: 55, 12: 25, 13: 35, 14: 60, 15: 55, 16: 45, 17: 30, 18: 20, 19: 10}

// history replays normal days of a support agent starting at the clock's
// (midnight) time: per hour the usual count +-10%, spread over the hour,
// each read a customer drawn from a pool of 3000, flushing every 10
// minutes as the background loop would (more often in real life). It
// returns the alerts raised.
func (e *env) history(t testing.TB, principal string, days int, rng *rand.Rand) []guard.Alert {
	t.Helper()
	var raised []guard.Alert
	for range days {
		wd := e.clk.Now().Weekday()
		for h := range 24 {
			n := weekday[h]
			if wd == time.Saturday || wd == time.Sunday {
				n = 0
			}
			if n > 0 {
				n += rng.IntN(n/5+1) - n/10
			}
			step := time.Hour / time.Duration(n+1)
			var spent time.Duration
			for i := range n {
				e.clk.Advance(step)
				spent += step
				v := e.read(t, principal, support, fmt.Sprintf("cn-north_hist%04d", rng.IntN(3000)))
				raised = append(raised, v.Alerts...)
				if i%10 == 9 {
					e.flush(t)
				}
			}
			e.clk.Advance(time.Hour - spent)
			e.flush(t)
		}
	}
	return raised
}

// learned returns a store holding three weeks of a support agent's normal
// history, and the clock at the Monday after.
func learned(t *testing.T, principal string) (store.Store, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t, dir)
	clk := &clock{t: monday}
	e := newGuard(t, st, clk)
	if a := e.history(t, principal, 21, rand.New(rand.NewPCG(1, 2))); len(a) != 0 {
		t.Fatalf("alerts while learning a normal history: %+v", a)
	}
	return st, clk, dir
}

func TestFastDrain(t *testing.T) {
	st, clk, _ := learned(t, "agent")
	e := newGuard(t, st, clk)
	clk.Advance(10 * time.Hour) // Monday 10:00, a peak hour
	for i := range 10_000 {
		clk.Advance(time.Millisecond)
		v := e.read(t, "agent", support, fmt.Sprintf("cn-north_drain%05d", i))
		if !v.Lock {
			continue
		}
		if i >= 600 {
			t.Fatalf("locked after %d reads, want fewer than 600", i+1)
		}
		if len(v.Alerts) == 0 || v.Alerts[0].Severity != policy.SeverityHigh || v.Alerts[0].Response != policy.ResponseLock {
			t.Fatalf("lock without its alert: %+v", v)
		}
		if !e.locks.locked("agent") {
			t.Fatal("the Locker was not called")
		}
		t.Logf("locked after %d reads by rule %s: %.0f %s per %s, limit %.0f", i+1, v.Alerts[0].Rule,
			v.Alerts[0].Count, v.Alerts[0].Signal, v.Alerts[0].Window, v.Alerts[0].Limit)
		// A request that still gets through is refused too.
		if v := e.read(t, "agent", support, "cn-north_late"); !v.Lock {
			t.Error("the request after the lock was not refused")
		}
		list, _, err := e.g.List(context.Background(), guard.Filter{Principal: "agent"}, "", 10)
		if err != nil || len(list) == 0 || list[0].Counts["records/minute"] == 0 {
			t.Errorf("List = %+v, %v", list, err)
		}
		return
	}
	t.Fatal("10,000 reads and no lock")
}

func TestLowAndSlow(t *testing.T) {
	st, clk, _ := learned(t, "agent")
	e := newGuard(t, st, clk)
	start := clk.Now()
	for clk.Now().Sub(start) < 3*24*time.Hour {
		clk.Advance(20 * time.Second)
		v := e.read(t, "agent", support, fmt.Sprintf("cn-north_slow%06d", clk.Now().Unix()))
		if clk.Now().Second() == 0 && clk.Now().Minute()%10 == 0 {
			e.flush(t)
		}
		if len(v.Alerts) > 0 {
			a := v.Alerts[0]
			took := clk.Now().Sub(start)
			if took > 24*time.Hour {
				t.Fatalf("first alert after %s, want within a day", took)
			}
			if a.Rule != "unusual-hour" && a.Rule != "unusual-day" {
				t.Errorf("alert by rule %s", a.Rule)
			}
			t.Logf("alert after %s (%d reads) by rule %s: %.0f records per %s, expected %.1f, limit %.0f",
				took, int(took/(20*time.Second)), a.Rule, a.Count, a.Window, a.Expected, a.Limit)
			return
		}
	}
	t.Fatal("three days of reading ten times the baseline and no alert")
}

func TestNoFalseAlarm(t *testing.T) {
	st, clk, _ := learned(t, "agent")
	e := newGuard(t, st, clk)
	if a := e.history(t, "agent", 7, rand.New(rand.NewPCG(7, 8))); len(a) != 0 {
		t.Fatalf("a normal week raised %d alerts, the first: %+v", len(a), a[0])
	}
	if len(*e.alerts) != 0 || len(e.locks.ids) != 0 {
		t.Fatalf("alerts %v, locks %v", *e.alerts, e.locks.ids)
	}
}

func TestSearchEnumeration(t *testing.T) {
	e := newGuard(t, openStore(t, t.TempDir()), &clock{t: monday.Add(9 * time.Hour)})
	for i := range 1000 {
		e.clk.Advance(time.Second)
		email := fmt.Sprintf("user%d@example.com", i)
		v, err := e.g.Observe(context.Background(), guard.Event{Principal: "prober", Roles: support, Action: guard.ActionSearch,
			SearchProbe: e.g.Probe("customers", "email", email)})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Alerts) == 0 {
			continue
		}
		if a := v.Alerts[0]; a.Rule != "search-enumeration" || v.Delay != 2*time.Second || v.Lock {
			t.Fatalf("verdict %+v", v)
		}
		t.Logf("alert after %d distinct probes: %.0f probes per hour, limit %.0f", i+1, v.Alerts[0].Count, v.Alerts[0].Limit)
		// The same value searched again and again is no enumeration.
		return
	}
	t.Fatal("1000 distinct probes and no alert")
}

func TestRepeatedSearchIsNotEnumeration(t *testing.T) {
	e := newGuard(t, openStore(t, t.TempDir()), &clock{t: monday.Add(9 * time.Hour)})
	probe := e.g.Probe("customers", "email", "same@example.com")
	for range 150 {
		e.clk.Advance(time.Second)
		v, err := e.g.Observe(context.Background(), guard.Event{Principal: "p", Roles: support, Action: guard.ActionSearch, SearchProbe: probe})
		if err != nil || len(v.Alerts) != 0 {
			t.Fatalf("Observe = %+v, %v", v, err)
		}
	}
}

func TestHoneytoken(t *testing.T) {
	st := openStore(t, t.TempDir())
	e := newGuard(t, st, &clock{t: monday.Add(9 * time.Hour)})
	var created []guard.DecoyRecord
	ids, err := e.g.Seed(context.Background(), guard.CreatorFunc(func(_ context.Context, recs []guard.DecoyRecord) ([]string, error) {
		created = recs
		out := make([]string, len(recs))
		for i := range recs {
			out[i] = fmt.Sprintf("cn-north_decoy%d", i)
		}
		return out, nil
	}), decoys.New(), "customers", []string{"CN"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 5 || created[0].Jurisdiction != "CN" || created[0].Fields["national_id"] == "" || len(created[0].Fields) != 6 {
		t.Fatalf("decoys created: %+v", created)
	}
	if !e.g.IsDecoy(ids[2]) || e.g.IsDecoy("cn-north_real") {
		t.Fatal("IsDecoy")
	}
	// Ordinary reads first, then one read of a decoy by an administrator.
	e.read(t, "root", []string{"admin"}, "cn-north_real")
	v := e.read(t, "root", []string{"admin"}, ids[2])
	if !v.Decoy || !v.Lock || len(v.Alerts) != 1 {
		t.Fatalf("verdict %+v", v)
	}
	a := v.Alerts[0]
	if a.Rule != policy.HoneytokenRule || a.Severity != policy.SeverityCritical || a.Decoy != ids[2] || a.Principal != "root" {
		t.Fatalf("alert %+v", a)
	}
	if len(*e.alerts) != 1 || !e.locks.locked("root") {
		t.Fatalf("OnAlert got %v, locks %v", *e.alerts, e.locks.ids)
	}
	// A decoy token too.
	if err := e.g.MarkDecoyTokens(context.Background(), []string{"tok_decoy"}); err != nil {
		t.Fatal(err)
	}
	v, err = e.g.Observe(context.Background(), guard.Event{Principal: "svc", Roles: []string{"analytics"}, Action: guard.ActionDetokenize, Tokens: []string{"tok_decoy"}})
	if err != nil || len(v.Alerts) != 1 || v.Alerts[0].Decoy != "token" {
		t.Fatalf("decoy token: %+v, %v", v, err)
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: monday.Add(9 * time.Hour)}
	e := newGuard(t, st, clk)
	analytics := []string{"analytics"}
	for i := range 250 {
		clk.Advance(10 * time.Millisecond)
		if v := e.read(t, "bulk", analytics, fmt.Sprintf("r%d", i)); v.Lock {
			t.Fatalf("locked at read %d: %+v", i, v.Alerts)
		}
	}
	if err := e.g.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// The process restarts, within the same minute.
	e = newGuard(t, openStore(t, dir), clk)
	for i := 250; i < 400; i++ {
		clk.Advance(10 * time.Millisecond)
		v := e.read(t, "bulk", analytics, fmt.Sprintf("r%d", i))
		if v.Lock {
			if i < 300 || i > 320 {
				t.Fatalf("locked at read %d, want just past 300", i+1)
			}
			return
		}
	}
	t.Fatal("the counts before the restart were lost")
}

func TestTwoNodes(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := &clock{t: monday.Add(9 * time.Hour)}
	a, b := newGuard(t, st, clk), newGuard(t, st, clk)
	analytics := []string{"analytics"}
	lockedAt := -1
	for i := range 600 {
		clk.Advance(10 * time.Millisecond)
		node := a
		if i%2 == 1 {
			node = b
		}
		if v := node.read(t, "spread", analytics, fmt.Sprintf("r%d", i)); v.Lock && lockedAt < 0 {
			lockedAt = i
		}
		if i%20 == 19 {
			a.flush(t)
			b.flush(t)
		}
	}
	// Each node alone sees half the reads and would never reach 300.
	if lockedAt < 300 || lockedAt > 340 {
		t.Fatalf("locked at read %d, want just past 300 (each node saw half)", lockedAt+1)
	}
	// One alert, though both nodes fired.
	list, _, err := a.g.List(context.Background(), guard.Filter{Rule: "bulk-read"}, "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d alerts, %v", len(list), err)
	}
	// Decoys seeded on one node are known to the other after a flush.
	ids, err := a.g.Seed(context.Background(), guard.CreatorFunc(func(_ context.Context, recs []guard.DecoyRecord) ([]string, error) {
		return []string{"cn-north_d1"}, nil
	}), decoys.New(), "customers", []string{"CN"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b.flush(t)
	if v := b.read(t, "x", support, ids[0]); !v.Decoy || len(v.Alerts) != 1 {
		t.Fatalf("node b missed the decoy: %+v", v)
	}
}

func TestUnlock(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := &clock{t: monday.Add(9 * time.Hour)}
	a, b := newGuard(t, st, clk), newGuard(t, st, clk)
	analytics := []string{"analytics"}
	i := 0
	for ; i < 400; i++ {
		clk.Advance(10 * time.Millisecond)
		if v := a.read(t, "u", analytics, fmt.Sprintf("r%d", i)); v.Lock {
			break
		}
	}
	a.flush(t)
	b.flush(t)
	// Node b has seen the reads; an administrator unlocks through node a.
	if v := b.read(t, "u", analytics, "r-b"); !v.Lock || !b.locks.locked("u") {
		t.Fatal("node b does not see the principal over the limit")
	}
	if err := a.g.Unlock(context.Background(), "u"); err != nil {
		t.Fatal(err)
	}
	// Both nodes let it read again at once, and lock it again after
	// another bulk read.
	for _, n := range []*env{a, b} {
		n.locks.ids = nil
		if v := n.read(t, "u", analytics, "again"); v.Lock {
			t.Fatal("locked again right after the unlock")
		}
	}
	for j := range 400 {
		clk.Advance(10 * time.Millisecond)
		if v := a.read(t, "u", analytics, fmt.Sprintf("s%d", j)); v.Lock {
			if j < 290 {
				t.Fatalf("locked again after %d new reads", j+1)
			}
			return
		}
	}
	t.Fatal("never locked again")
}

func TestListFilterAndCursor(t *testing.T) {
	e := newGuard(t, openStore(t, t.TempDir()), &clock{t: monday})
	for p := range 3 {
		for i := range 31 {
			e.clk.Advance(time.Second)
			if _, err := e.g.Observe(context.Background(), guard.Event{Principal: fmt.Sprintf("p%d", p), Action: guard.ActionRead, Denied: true}); err != nil {
				t.Fatal(err)
			}
			_ = i
		}
	}
	var all []guard.Alert
	cursor := ""
	for {
		page, next, err := e.g.List(context.Background(), guard.Filter{Rule: "denied-burst"}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 3 || all[0].Principal != "p0" || all[2].Principal != "p2" {
		t.Fatalf("alerts %+v", all)
	}
	if got, _, _ := e.g.List(context.Background(), guard.Filter{Principal: "p1", MinSeverity: "high"}, "", 0); len(got) != 0 {
		t.Errorf("severity filter: %+v", got)
	}
	if got, _, _ := e.g.List(context.Background(), guard.Filter{Since: all[1].Time}, "", 0); len(got) != 2 {
		t.Errorf("since filter: %d alerts", len(got))
	}
	if _, _, err := e.g.List(context.Background(), guard.Filter{}, "nonsense", 0); err == nil {
		t.Error("bad cursor accepted")
	}
}
