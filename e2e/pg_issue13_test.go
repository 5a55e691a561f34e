package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// Issue 13 where the state is shared: two `domicile serve` nodes of
// eu-central on one PostgreSQL database, each request sent to the node
// the test chooses (no gateway, no load balancer in between).

// twoPGNodes starts two nodes of eu-central on a fresh database and
// returns them with the database's DSN.
func twoPGNodes(t *testing.T) (a, b *server, db string) {
	t.Helper()
	db = pgtest.NewDatabase(t) // fails, never skips, when CI is set
	a = startProc(t, nodeEnv("eu-central"), serveArgs("eu-central", db)...)
	b = startProc(t, nodeEnv("eu-central"), serveArgs("eu-central", db)...)
	return a, b, db
}

// deEmail is a stand-alone tokenize of an e-mail of a German customer,
// bound to no subject.
func deEmail(v string) client.TokenizeItem {
	return client.TokenizeItem{Collection: "customers", Field: "email", Value: v, Jurisdiction: "DE"}
}

// tokenizeOne tokenizes one item through c and returns its token.
func tokenizeOne(t *testing.T, c *client.Client, it client.TokenizeItem) string {
	t.Helper()
	res, err := c.Tokenize(context.Background(), []client.TokenizeItem{it})
	if err != nil {
		t.Fatalf("tokenize %q: %v", it.Value, err)
	}
	if len(res.Results) != 1 || res.Results[0].Error != nil {
		t.Fatalf("tokenize %q: %+v", it.Value, res.Results)
	}
	return res.Results[0].Token
}

// TestPostgresFirstSubmissionWinsAcrossNodes checks issue 13, item 2, on
// two nodes: an e-mail tokenized on node A in one spelling and then on
// node B in another answers the same token, which detokenizes on both
// nodes to the first spelling. Concurrent first submissions of a fresh
// value in two spellings from both nodes settle on one spelling, the same
// on both nodes, which later submissions never change.
func TestPostgresFirstSubmissionWinsAcrossNodes(t *testing.T) {
	a, b, _ := twoPGNodes(t)
	ca, cb := splitClient(t, a), splitClient(t, b)
	nodes := map[string]*client.Client{"A": ca, "B": cb}

	// Sequential: A first, then B.
	tok := tokenizeOne(t, ca, deEmail("Mixed.Case@Example.com"))
	if later := tokenizeOne(t, cb, deEmail("MIXED.case@example.COM")); later != tok {
		t.Fatalf("the same e-mail in another case got another token on node B: %s, %s", tok, later)
	}
	for name, c := range nodes {
		if got := tokenCodes(t, c, []client.DetokenizeItem{{Token: tok}})[0]; got != "ok:Mixed.Case@Example.com" {
			t.Errorf("node %s detokenizes to %s, want the value as first submitted on node A", name, got)
		}
	}

	// Concurrent: both nodes, two spellings each, a fresh value.
	spellings := []string{"Race.Across@Example.com", "RACE.across@EXAMPLE.com"}
	var wg sync.WaitGroup
	toks := make([]string, 16)
	for i := range toks {
		wg.Go(func() {
			c := ca
			if i%2 == 1 {
				c = cb
			}
			res, err := c.Tokenize(context.Background(), []client.TokenizeItem{deEmail(spellings[(i/2)%2])})
			if err != nil || len(res.Results) != 1 || res.Results[0].Error != nil {
				t.Errorf("concurrent tokenize %d: %v %+v", i, err, res)
				return
			}
			toks[i] = res.Results[0].Token
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, tk := range toks {
		if tk != toks[0] {
			t.Fatalf("concurrent tokenize %d answered another token (%s, %s)", i, tk, toks[0])
		}
	}
	want := tokenCodes(t, ca, []client.DetokenizeItem{{Token: toks[0]}})[0]
	if want != "ok:"+spellings[0] && want != "ok:"+spellings[1] {
		t.Fatalf("after concurrent submissions node A detokenizes to %s", want)
	}
	if got := tokenCodes(t, cb, []client.DetokenizeItem{{Token: toks[0]}})[0]; got != want {
		t.Fatalf("after concurrent submissions node A answers %s, node B %s", want, got)
	}
	// Later submissions, in every spelling, on both nodes change nothing.
	for _, v := range []string{"race.across@example.com", spellings[1], spellings[0]} {
		for name, c := range nodes {
			if tk := tokenizeOne(t, c, deEmail(v)); tk != toks[0] {
				t.Fatalf("node %s: %q got another token", name, v)
			}
			for other, oc := range nodes {
				if got := tokenCodes(t, oc, []client.DetokenizeItem{{Token: toks[0]}})[0]; got != want {
					t.Fatalf("after %q on node %s, node %s detokenizes to %s, was %s", v, name, other, got, want)
				}
			}
		}
	}
	// The sequential token still answers the first spelling on both.
	for name, c := range nodes {
		if got := tokenCodes(t, c, []client.DetokenizeItem{{Token: tok}})[0]; got != "ok:Mixed.Case@Example.com" {
			t.Errorf("at the end node %s detokenizes to %s, want the value as first submitted", name, got)
		}
	}
}

// TestPostgresIdempotentReplayAcrossNodes checks issue 13, item 7, on two
// nodes: a create with an Idempotency-Key on node A, replayed on node B,
// answers the same record ids and the same tokens, marked as replayed;
// the database holds one record. The same holds when the first two
// requests with a fresh key reach both nodes at once.
func TestPostgresIdempotentReplayAcrossNodes(t *testing.T) {
	a, b, db := twoPGNodes(t)
	ca, cb := splitClient(t, a), splitClient(t, b)
	ctx := context.Background()
	recs := []client.NewRecord{
		{Collection: "customers", Subject: "eu-replay-1", Jurisdiction: "DE",
			Fields: map[string]string{"name": "Jürgen Müller", "email": "Juergen.Replay@Example.com", "phone": "030 1234567", "national_id": "T220001293"}},
		{Collection: "customers", Subject: "eu-replay-2", Jurisdiction: "FR",
			Fields: map[string]string{"name": "Amélie Durand", "email": "amelie.replay@example.fr", "phone": "+33 1 42 68 53 00"}},
	}
	first, err := ca.Create(ctx, recs, "pg-replay-key-1")
	if err != nil {
		t.Fatal(err)
	}
	if first.Replayed || len(first.Records) != 2 {
		t.Fatalf("first create: %+v", first)
	}
	for i, r := range first.Records {
		if len(r.Tokens) == 0 {
			t.Fatalf("first create, record %d has no tokens: %+v", i, r)
		}
	}
	for name, c := range map[string]*client.Client{"B": cb, "A": ca} {
		again, err := c.Create(ctx, recs, "pg-replay-key-1")
		if err != nil {
			t.Fatalf("replay on node %s: %v", name, err)
		}
		if !again.Replayed {
			t.Errorf("replay on node %s is not marked replayed", name)
		}
		if fmt.Sprintf("%+v", again.Records) != fmt.Sprintf("%+v", first.Records) {
			t.Errorf("replay on node %s answers\n  %+v\nwant the first answer\n  %+v", name, again.Records, first.Records)
		}
	}

	// A fresh key reaching both nodes at once: one create, one answer.
	outs := make([]*client.CreateResponse, 8)
	var wg sync.WaitGroup
	rec3 := []client.NewRecord{{Collection: "customers", Subject: "eu-replay-3", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Karl Weber", "email": "karl.race@example.de", "phone": "+49 151 23456789"}}}
	for i := range outs {
		wg.Go(func() {
			c := ca
			if i%2 == 1 {
				c = cb
			}
			out, err := c.Create(ctx, rec3, "pg-replay-key-2")
			if err != nil {
				t.Errorf("concurrent create %d: %v", i, err)
				return
			}
			outs[i] = out
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	fresh := 0
	for i, o := range outs {
		if !o.Replayed {
			fresh++
		}
		if fmt.Sprintf("%+v", o.Records) != fmt.Sprintf("%+v", outs[0].Records) {
			t.Errorf("concurrent create %d answers %+v, create 0 %+v", i, o.Records, outs[0].Records)
		}
		if len(o.Records) != 1 || len(o.Records[0].Tokens) == 0 {
			t.Errorf("concurrent create %d answers no tokens: %+v", i, o.Records)
		}
	}
	if fresh != 1 {
		t.Errorf("%d of %d concurrent creates with one key answered as not replayed, want 1", fresh, len(outs))
	}

	// The database holds three records: nothing created twice.
	keys, _ := pgtest.Dump(t, db)
	stored := 0
	for _, k := range keys {
		if strings.HasPrefix(string(k), "r/") {
			stored++
		}
	}
	if stored != 3 {
		t.Errorf("the database holds %d records, want 3", stored)
	}
	if n := pgtest.Counter(t, db, []byte("n/customers")); n != 3 {
		t.Errorf("collection counter = %d, want 3", n)
	}
}

// recordIDs returns the ids of the records in the database at dsn.
func recordIDs(t *testing.T, db string) map[string]bool {
	t.Helper()
	keys, _ := pgtest.Dump(t, db)
	out := map[string]bool{}
	for _, k := range keys {
		if id, ok := strings.CutPrefix(string(k), "r/"); ok {
			out[id] = true
		}
	}
	return out
}

// countPrefix counts the keys of the database at dsn under prefix.
func countPrefix(t *testing.T, db, prefix string) int {
	t.Helper()
	keys, _ := pgtest.Dump(t, db)
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(string(k), prefix) {
			n++
		}
	}
	return n
}

// TestPostgresDecoysAcrossNodes checks issue 13, item 3, on two nodes:
// decoys seeded on node A with a short spread are planted by the guard
// loops of both nodes, each exactly once (the record count grows by
// exactly the count, one decoy mark each, the plan gone); a read of one
// decoy on node B raises a critical honeytoken alert that node A's alert
// listing shows, with its evidence.
func TestPostgresDecoysAcrossNodes(t *testing.T) {
	t.Parallel() // mostly waiting (leases, key reloads, baselines): overlaps with the other long tests
	const count = 6
	a, b, db := twoPGNodes(t)
	ca, cb := splitClient(t, a), splitClient(t, b)
	ctx := context.Background()

	// The service whose creates the decoys hide among, and a few of its
	// creates.
	pt, err := ca.CreatePrincipal(ctx, client.PrincipalRequest{ID: "crm-sync", Kind: "service", Roles: []string{"ingest"}, Location: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	ingest, err := client.New(a.URL, pt.Token, client.WithPurpose("operations"))
	if err != nil {
		t.Fatal(err)
	}
	real := map[string]bool{}
	for i := range 3 {
		out, err := ingest.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: fmt.Sprintf("real-%d", i), Jurisdiction: "DE",
			Fields: map[string]string{"name": fmt.Sprintf("Real Kunde %d", i), "email": fmt.Sprintf("real%d@example.de", i)}}}, "")
		if err != nil {
			t.Fatalf("ingest create: %v", err)
		}
		real[out.Records[0].ID] = true
	}
	before := recordIDs(t, db)
	if len(before) != len(real) {
		t.Fatalf("the database holds %d records before seeding, want %d", len(before), len(real))
	}

	seeded, err := ca.SeedDecoys(ctx, "eu-central", client.SeedDecoysRequest{Count: count, Principal: "crm-sync", Spread: "1m",
		Jurisdictions: []string{"DE", "FR"}})
	if err != nil {
		t.Fatalf("seed decoys on node A: %v", err)
	}
	if seeded.Seeded != count {
		t.Fatalf("seeded %d, want %d", seeded.Seeded, count)
	}

	// Wait, bounded, until every decoy is planted and marked: the plan is
	// gone and the decoy counter reached the count. The spread is a minute;
	// the deadline guards against a hang, it is not a speed requirement.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		plans := countPrefix(t, db, "g/h/p/")
		marks := pgtest.Counter(t, db, []byte("g/h#"))
		if plans == 0 && marks >= count {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoys not planted in time: %d plans left, %d marks, %d records (want %d)",
				plans, marks, len(recordIDs(t, db)), len(real)+count)
		}
		time.Sleep(200 * time.Millisecond)
	}
	after := recordIDs(t, db)
	var decoys []string
	for id := range after {
		if !before[id] {
			decoys = append(decoys, id)
		}
	}
	if len(decoys) != count {
		t.Errorf("the record count grew by %d for %d decoys (each must be planted exactly once across the nodes)", len(decoys), count)
	}
	if n := countPrefix(t, db, "g/h/r/"); n != count {
		t.Errorf("%d decoy marks in the database, want %d", n, count)
	}
	if n := pgtest.Counter(t, db, []byte("g/h#")); n != count {
		t.Errorf("decoy counter = %d, want %d (one mark per planted decoy)", n, count)
	}
	if n := pgtest.Counter(t, db, []byte("n/customers")); n != int64(len(real)+count) {
		t.Errorf("collection counter = %d, want %d", n, len(real)+count)
	}
	if len(decoys) == 0 {
		t.FailNow()
	}
	// The decoys were created as the cover service: its creates in the
	// audit log are its own plus one per decoy, on both nodes. Entries of
	// a node's leased block of indexes become listable once the blocks
	// before it are filled or voided (VoidGrace, 2s), so this is polled,
	// bounded.
	auditCreates := func(c *client.Client) int {
		n := 0
		for cursor := ""; ; {
			q := map[string][]string{"action": {"create"}, "principal": {"crm-sync"}}
			if cursor != "" {
				q["cursor"] = []string{cursor}
			}
			page, err := c.AuditEntries(ctx, "eu-central", q)
			if err != nil {
				t.Fatalf("audit entries: %v", err)
			}
			for _, e := range page.Entries {
				if e.Action == "create" && e.Principal == "crm-sync" {
					n++
				}
			}
			if page.Next == "" || len(page.Entries) == 0 {
				return n
			}
			cursor = page.Next
		}
	}
	auditWait := time.Now()
	deadline = time.Now().Add(time.Minute)
	for name, c := range map[string]*client.Client{"A": ca, "B": cb} {
		for {
			n := auditCreates(c)
			if n == len(real)+count {
				break
			}
			if n > len(real)+count || time.Now().After(deadline) {
				page, _ := c.AuditEntries(ctx, "eu-central", map[string][]string{"limit": {"1000"}})
				var lines []string
				if page != nil {
					for _, e := range page.Entries {
						lines = append(lines, fmt.Sprintf("%d %s %s %s %s", e.Index, e.Action, e.Principal, e.RequestID, e.Time.Format(time.RFC3339Nano)))
					}
				}
				t.Fatalf("node %s: the audit log lists %d creates by crm-sync, want %d (its %d and %d decoys); entries:\n%s",
					name, n, len(real)+count, len(real), count, strings.Join(lines, "\n"))
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	t.Logf("the audit log listed every decoy create on both nodes %v after the last was marked", time.Since(auditWait).Round(time.Millisecond))

	// A read of one decoy on node B: a critical honeytoken alert, listed
	// by node A. Node B learns of decoys another node marked at its next
	// guard flush (every 250ms), so the read is repeated, bounded, until
	// the alert shows.
	decoy := decoys[0]
	start := time.Now().Add(-time.Minute)
	deadline = time.Now().Add(time.Minute)
	var found *client.Alert
	reads := 0
	for found == nil {
		reads++
		if _, err := cb.Get(ctx, decoy); err != nil {
			t.Fatalf("read of the decoy on node B: %v", err)
		}
		al, err := ca.Alerts(ctx, client.AlertFilter{Rule: "honeytoken", Since: start})
		if err != nil {
			t.Fatalf("alerts on node A: %v", err)
		}
		for i, x := range al.Alerts {
			if x.Rule == "honeytoken" {
				found = &al.Alerts[i]
				break
			}
		}
		if found == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no honeytoken alert on node A after %d reads of a decoy on node B", reads)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	t.Logf("alert after %d read(s) on node B: %+v", reads, *found)
	if reads > 1 {
		t.Logf("note: the first %d read(s) of the decoy on node B raised no alert (node B had not yet loaded the decoy marks)", reads-1)
	}
	if found.Severity != "critical" {
		t.Errorf("alert severity %q, want critical", found.Severity)
	}
	if found.Region != "eu-central" || found.Principal == "" {
		t.Errorf("alert region %q principal %q", found.Region, found.Principal)
	}
	if len(found.RequestIDs) == 0 {
		t.Errorf("the alert carries no request id: %+v", *found)
	}
	// Node B lists it too: one shared store.
	al, err := cb.Alerts(ctx, client.AlertFilter{Rule: "honeytoken", Since: start})
	if err != nil {
		t.Fatal(err)
	}
	if len(al.Alerts) == 0 {
		t.Errorf("node B lists no honeytoken alert")
	}
	// The real records are not decoys: reading one raises no alert.
	for id := range real {
		if _, err := cb.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		al, err := ca.Alerts(ctx, client.AlertFilter{Rule: "honeytoken", Since: start})
		if err != nil {
			t.Fatal(err)
		}
		if len(al.Alerts) != 1 {
			t.Errorf("after reading the real record %s: %d honeytoken alerts, want the one", id, len(al.Alerts))
		}
		break
	}
}
