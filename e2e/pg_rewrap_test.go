package e2e

import (
	"context"
	be "encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// TestPostgresKeysRewrapToTheEnd is issue 16 item 1 on PostgreSQL with two
// nodes of eu-central on one database, called directly: records (with a
// blind-indexed e-mail) and deterministic tokens (one bound to a subject,
// one not) are made; the data, index and token keys are rotated; the
// rewrap job of the data key starts, throttled, on one node; that node is
// killed with SIGKILL half-way; the other takes the job over once the
// lease expires and finishes it; status shows 0 subject keys on data v1;
// retire; destroy (refused with conflict until every node can have
// reloaded its keys). Then every record reads, searches by e-mail find the
// records made under index v1 and v2, every token detokenizes, and data
// v1's sealed key is gone from the database, with its destruction marker
// in its place.
//
// Only data keys are rewrapped (README, Keys): index and token keys wrap
// nothing, so their v1 stays active and keeps searching and
// detokenizing; the test checks that a rewrap of them is refused.
func TestPostgresKeysRewrapToTheEnd(t *testing.T) {
	t.Parallel() // mostly waiting (leases, key reloads): overlaps with the other long tests
	const region, j, n = "eu-central", "DE", 90
	ctx := context.Background()
	a, b, db := twoPGNodes(t) // fails, never skips, without PostgreSQL when CI is set
	nodes := []*server{a, b}
	cli := (*server).cli
	usage := func(c *client.Client) *client.KeyUsage {
		t.Helper()
		u, err := c.KeyUsage(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	dataKeys := func(u *client.KeyUsage, v uint32) int64 {
		for _, kv := range u.Versions {
			if kv.Purpose == "data" && kv.Version == v && kv.SubjectKeys != nil {
				return *kv.SubjectKeys
			}
		}
		return -1
	}
	tokenize := func(c *client.Client, email, subject string) string {
		t.Helper()
		it := deEmail(email)
		it.Subject = subject
		return tokenizeOne(t, c, it)
	}

	// Made under v1 of every key, through both nodes.
	type made struct{ id, email string }
	var recs []made
	for i := 0; i < n; i += 30 {
		c := splitClient(t, nodes[(i/30)%2])
		batch := make([]client.NewRecord, 30)
		for k := range batch {
			batch[k] = customer(fmt.Sprintf("pg-rewrap-%d", i+k), j, i+k)
		}
		out, err := c.Create(ctx, batch, "")
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range out.Records {
			recs = append(recs, made{r.ID, batch[k].Fields["email"]})
		}
	}
	ca := splitClient(t, a)
	tokens := map[string]string{} // token -> value
	for i, subject := range []string{"pg-rewrap-0", ""} {
		email := fmt.Sprintf("token-v1-%d@example.com", i)
		tokens[tokenize(ca, email, subject)] = email
	}

	for _, p := range []string{"data", "index", "token"} {
		if out, err := cli(a, "keys", "rotate", "--region", region, "--key", p); err != nil {
			t.Fatalf("rotate %s: %v\n%s", p, err, out)
		}
	}
	rotated := time.Now()
	// Made under v2 of every key (the other node reloads its keys on its
	// own schedule: until then it may still use v1, which is fine).
	out, err := ca.Create(ctx, []client.NewRecord{customer("pg-rewrap-new", j, 1000)}, "")
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, made{out.Records[0].ID, "person1000@example.com"})
	tokens[tokenize(ca, "token-v2@example.com", "pg-rewrap-new")] = "token-v2@example.com"
	if got := dataKeys(usage(ca), 1); got != n {
		t.Fatalf("data v1 holds %d subject keys, want %d", got, n)
	}
	for _, p := range []string{"index", "token", "audit"} {
		if out, err := cli(a, "keys", "rewrap", "--region", region, "--key", p); err == nil || !strings.Contains(out, "wrap") {
			t.Errorf("rewrap %s: %v, want a refusal saying why\n%s", p, err, out)
		}
	}

	// Slow enough to kill half-way: 3 keys a step, 100ms between steps.
	out2, err := cli(a, "keys", "rewrap", "--region", region, "--key", "data", "--batch", "3", "--pause", "100ms", "--detach")
	if err != nil || !strings.Contains(out2, "started rewrap job") {
		t.Fatalf("rewrap --detach: %v\n%s", err, out2)
	}
	var half *client.RewrapJob
	for deadline := time.Now().Add(2 * time.Minute); ; { // a bound, not a speed limit
		u := usage(ca)
		if u.Job != nil && u.Job.Done >= n/3 && u.Job.State == "running" {
			half = u.Job
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not advance: %+v", u.Job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if half.Done >= n {
		t.Fatalf("job before the kill: %+v", half)
	}
	// Kill the node that holds the job (its name ends with its pid).
	holder, other := -1, -1
	for i, s := range nodes {
		if strings.HasSuffix(half.Node, ":"+strconv.Itoa(s.cmd.Process.Pid)) {
			holder, other = i, 1-i
		}
	}
	if holder < 0 {
		t.Fatalf("the job runs on %q, neither node (pids %d, %d)", half.Node, a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	nodes[holder].Kill()
	survivor := nodes[other]
	cs := splitClient(t, survivor)
	t.Logf("killed the job's node at %d/%d", half.Done, half.Total)

	// The other node takes the job over once the dead node's lease
	// expires, and it ends with every key counted once.
	var u *client.KeyUsage
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) { // a bound, not a speed limit
		u = usage(cs)
		if u.Job == nil || u.Job.ID != half.ID || time.Now().After(deadline) {
			t.Fatalf("the job after the kill: %+v (before: %+v)", u.Job, half)
		}
		if u.Job.State == "done" || u.Job.State == "failed" {
			break
		}
	}
	if u.Job.State != "done" || u.Job.Done != n || dataKeys(u, 1) != 0 || dataKeys(u, 2) != n+1 {
		t.Fatalf("after the rewrap: job %+v, v1 %d, v2 %d", u.Job, dataKeys(u, 1), dataKeys(u, 2))
	}
	if !strings.HasSuffix(u.Job.Node, ":"+strconv.Itoa(survivor.cmd.Process.Pid)) {
		t.Errorf("the job was finished by %q, not by the surviving node", u.Job.Node)
	}
	if out, err := cli(survivor, "keys", "status", "--region", region); err != nil || !strings.Contains(out, fmt.Sprintf("done, %d/%d", n, n)) {
		t.Errorf("keys status: %v\n%s", err, out)
	}

	if out, err := cli(survivor, "keys", "retire", "--region", region, "--key", "data", "--version", "1"); err != nil {
		t.Fatalf("retire: %v\n%s", err, out)
	}
	// Destroy waits for every node to have reloaded its keys since the
	// rotation (30s); until then it is refused with conflict.
	for {
		_, err := cs.DestroyKey(ctx, region, client.KeyVersionRequest{Purpose: "data", Version: 1})
		if err == nil {
			break
		}
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Problem.Code != "conflict" || !strings.Contains(ce.Problem.Detail, "too recently") ||
			time.Since(rotated) > 5*time.Minute {
			t.Fatalf("destroy: %v", err)
		}
		time.Sleep(time.Second)
	}
	for _, kv := range usage(cs).Versions {
		if kv.Purpose == "data" && kv.Version == 1 && kv.State != "destroyed" {
			t.Errorf("data v1 after destroy: %+v", kv)
		}
	}

	// Every record, index and token still works.
	for _, r := range recs {
		got, err := cs.Get(ctx, r.id)
		if err != nil {
			t.Fatalf("record %s after destroy: %v", r.id, err)
		}
		if got.Fields["email"] != r.email {
			t.Fatalf("record %s reads another e-mail after destroy", r.id)
		}
	}
	for _, r := range []made{recs[0], recs[n/2], recs[n-1], recs[n]} { // index v1 and v2
		p, err := cs.Search(ctx, "customers", client.SearchRequest{Field: "email", Value: r.email, Jurisdiction: j})
		if err != nil {
			t.Fatalf("search after destroy: %v", err)
		}
		if len(p.Records) != 1 || p.Records[0].ID != r.id {
			t.Errorf("search by e-mail after destroy found %d records, want %s", len(p.Records), r.id)
		}
	}
	var items []client.DetokenizeItem
	var want []string
	for tok, v := range tokens {
		items = append(items, client.DetokenizeItem{Token: tok})
		want = append(want, v)
	}
	res, err := cs.Detokenize(ctx, items)
	if err != nil {
		t.Fatalf("detokenize after destroy: %v", err)
	}
	for i, r := range res.Results {
		if r.Error != nil || r.Value != want[i] {
			t.Errorf("token %d after destroy: %+v, want its value back", i, r)
		}
	}

	// Data v1's sealed key is gone from the database.
	keys, _ := pgtest.Dump(t, db)
	kek := string(be.BigEndian.AppendUint32([]byte("k/kek/data/"), 1))
	gone := string(be.BigEndian.AppendUint32([]byte("k/gone/data/"), 1))
	var hasKEK, hasGone bool
	for _, k := range keys {
		hasKEK = hasKEK || string(k) == kek
		hasGone = hasGone || string(k) == gone
	}
	if hasKEK || !hasGone {
		t.Errorf("after destroy the database holds data v1's sealed key: %v, its destruction marker: %v", hasKEK, hasGone)
	}
}
