package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/decoys"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/vault"
)

// fakeClock is a clock the scenarios move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// scene is cn-north behind the gateway on a 127.0.0.1 port, with a clock
// the test controls.
type scene struct {
	t      *testing.T
	clock  *fakeClock
	region *Region
	url    string
	admin  *client.Client
}

func newScene(t *testing.T) *scene {
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)} // a Monday morning
	r, err := OpenRegion(context.Background(), RegionConfig{Policy: pol, Name: "cn-north", Dir: filepath.Join(t.TempDir(), "cn-north"),
		Secret: []byte("scenario"), KDF: benchKDF, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	backends := map[string]gateway.Backend{}
	for _, pr := range pol.Regions {
		backends[pr.Name] = gateway.Backend{URL: &url.URL{Scheme: "http", Host: pr.Name}, Transport: gateway.LocalTransport(r.Handler)}
	}
	gw, err := gateway.New(gateway.Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s := &scene{t: t, clock: clock, region: r, url: "http://" + ln.Addr().String()}
	s.admin = s.principal("admin-cn", "admin")
	return s
}

// principal makes a principal located in China and a client acting as it.
func (s *scene) principal(id string, roles ...string) *client.Client {
	tok := access.NewToken()
	if err := EnsurePrincipals(context.Background(), []*Region{s.region}, []Bootstrap{{
		Account: access.Account{ID: id, Kind: "person", Roles: roles, Location: "CN"}, Token: tok}}); err != nil {
		s.t.Fatal(err)
	}
	c, err := client.New(s.url, tok)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// records creates n CN customers and returns their ids.
func (s *scene) records(n int) []string {
	g := seed.New(3)
	var ids []string
	for len(ids) < n {
		var batch []vault.NewRecord
		for range min(1000, n-len(ids)) {
			c := g.Customer("CN")
			batch = append(batch, vault.NewRecord{Collection: "customers", Subject: c.SubjectID, Jurisdiction: "CN", Fields: c.Fields})
		}
		out, err := s.region.Vault.Create(context.Background(), batch, vault.CreateOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		for _, c := range out {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func (s *scene) alerts(principal string) []client.Alert {
	s.region.Guard.Flush(context.Background())
	out, err := s.admin.Alerts(context.Background(), client.AlertFilter{Principal: principal, Limit: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Alerts
}

// history gives a principal a normal week: a few reads in office hours.
func (s *scene) history(c *client.Client, ids []string) {
	ctx := context.Background()
	for day := range 7 {
		for h := 9; h < 18; h += 3 {
			for i := range 3 {
				if _, err := c.Get(ctx, ids[(day*31+h*7+i)%len(ids)]); err != nil {
					s.t.Fatalf("normal history read: %v", err)
				}
			}
			s.clock.Advance(3 * time.Hour)
			s.region.Guard.Flush(ctx)
		}
		s.clock.Advance(24*time.Hour - 9*time.Hour)
	}
}

// TestScenarioFastDrain: a support agent with a normal history reads 10,000
// CN records as fast as it can; it is locked before 600, and every later
// request is refused.
func TestScenarioFastDrain(t *testing.T) {
	s := newScene(t)
	ids := s.records(10000)
	agent := s.principal("agent-cn", "support").ForPurpose("support")
	s.history(agent, ids)
	ctx := context.Background()
	read := 0
	for _, id := range ids {
		_, err := agent.Get(ctx, id)
		if client.CodeOf(err) == "principal_locked" {
			break
		}
		if err != nil {
			t.Fatalf("read %d: %v", read, err)
		}
		read++
	}
	if read >= 600 {
		t.Fatalf("the drain read %d records before a lock, want fewer than 600", read)
	}
	if _, err := agent.Get(ctx, ids[0]); client.CodeOf(err) != "principal_locked" {
		t.Fatalf("a later request: %v, want principal_locked", err)
	}
	if len(s.alerts("agent-cn")) == 0 {
		t.Fatal("locked without an alert")
	}
	t.Logf("locked after %d reads", read)
	// An administrator unlocks it; it can read again.
	if _, err := s.admin.SetPrincipalState(ctx, "agent-cn", "unlock"); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Get(ctx, ids[0]); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

// TestScenarioLowAndSlow: one read every 20 seconds around the clock, ten
// times the agent's baseline, raises an alert within the first day.
func TestScenarioLowAndSlow(t *testing.T) {
	s := newScene(t)
	ids := s.records(3000)
	agent := s.principal("agent-slow", "support").ForPurpose("support")
	s.history(agent, ids)
	ctx := context.Background()
	for i := range 3 * 24 * 180 { // three days, one read per 20 s
		if _, err := agent.Get(ctx, ids[i%len(ids)]); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		s.clock.Advance(20 * time.Second)
		if i%30 == 29 {
			if a := s.alerts("agent-slow"); len(a) > 0 {
				elapsed := time.Duration(i+1) * 20 * time.Second
				if elapsed > 24*time.Hour {
					t.Fatalf("first alert after %v, want within a day", elapsed)
				}
				t.Logf("alert %s after %v of slow reading", a[0].Rule, elapsed)
				return
			}
		}
	}
	t.Fatal("three days of slow draining raised no alert")
}

// TestScenarioEnumeration: probing many distinct e-mail addresses by search
// raises an alert.
func TestScenarioEnumeration(t *testing.T) {
	s := newScene(t)
	s.records(10)
	agent := s.principal("agent-probe", "support").ForPurpose("support")
	ctx := context.Background()
	for i := range 400 {
		if _, err := agent.Search(ctx, "customers", client.SearchRequest{Field: "email", Value: fmt.Sprintf("guess%d@example.com", i)}); err != nil {
			t.Fatalf("search %d: %v", i, err)
		}
		if i%20 == 19 {
			if a := s.alerts("agent-probe"); len(a) > 0 {
				t.Logf("alert %s after %d distinct probes", a[0].Rule, i+1)
				return
			}
		}
		s.clock.Advance(2 * time.Second)
	}
	t.Fatal("400 distinct probes raised no alert")
}

// TestScenarioHoneytoken: one read of a decoy, even by an administrator,
// raises a critical alert within the same request.
func TestScenarioHoneytoken(t *testing.T) {
	s := newScene(t)
	s.records(50)
	ctx := context.Background()
	creator := guard.CreatorFunc(func(ctx context.Context, recs []guard.DecoyRecord) ([]string, error) {
		nr := make([]vault.NewRecord, len(recs))
		for i, d := range recs {
			nr[i] = vault.NewRecord{Collection: d.Collection, Subject: d.Subject, Jurisdiction: d.Jurisdiction, Fields: d.Fields}
		}
		out, err := s.region.Vault.Create(ctx, nr, vault.CreateOptions{})
		ids := make([]string, len(out))
		for i, c := range out {
			ids[i] = c.ID
		}
		return ids, err
	})
	planted, err := s.region.Guard.Seed(ctx, creator, decoys.New(), "customers", []string{"CN"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	boss := s.principal("boss-cn", "admin").ForPurpose("support")
	_, err = boss.Get(ctx, planted[2])
	if client.CodeOf(err) != "principal_locked" {
		t.Errorf("reading a decoy: %v, want the request refused (the policy locks on honeytokens)", err)
	}
	alerts := s.alerts("boss-cn")
	if len(alerts) == 0 || alerts[0].Severity != "critical" {
		t.Fatalf("alerts after a decoy read: %+v", alerts)
	}
}
