package e2e

import (
	"context"
	be "encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
)

// TestKeysRewrapToTheEnd is issue 16 item 1 end to end: rotate the data
// key, start the rewrap job (throttled), kill -9 the node half-way, restart
// it; the job resumes from its stored progress and finishes; status shows
// no subject key on the old version; retire (refused before the rewrap,
// with the command to run); destroy; every record still reads, and the old
// version's material is gone from the store.
func TestKeysRewrapToTheEnd(t *testing.T) {
	t.Parallel() // mostly waiting (leases, key reloads, baselines): overlaps with the other long tests
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	ctx := context.Background()
	const region, n = "eu-central", 90
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

	c := s.client(t)
	var ids []string
	for i := 0; i < n; i += 30 {
		recs := make([]client.NewRecord, 30)
		for j := range recs {
			recs[j] = customer(fmt.Sprintf("rewrap-%d", i+j), "DE", i+j)
		}
		out, err := c.Create(ctx, recs, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			ids = append(ids, r.ID)
		}
	}
	if out, err := cli(s, "keys", "rotate", "--region", region, "--key", "data"); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	rotated := time.Now()
	if got := dataKeys(usage(c), 1); got != n {
		t.Fatalf("data v1 holds %d subject keys, want %d", got, n)
	}
	for _, kv := range usage(c).Versions {
		if kv.Suite != "intl" {
			t.Fatalf("%s v%d is of suite %q, want intl", kv.Purpose, kv.Version, kv.Suite)
		}
	}
	// Retire before the rewrap: refused, with the count and the command.
	out, err := cli(s, "keys", "retire", "--region", region, "--key", "data", "--version", "1")
	if err == nil || !strings.Contains(out, fmt.Sprint(n)) || !strings.Contains(out, "domicile keys rewrap --region "+region) {
		t.Fatalf("retire in use: %v\n%s", err, out)
	}
	// Rewrap of a key that wraps nothing: refused, saying why.
	if out, err := cli(s, "keys", "rewrap", "--region", region, "--key", "index"); err == nil || !strings.Contains(out, "derived") {
		t.Fatalf("rewrap index: %v\n%s", err, out)
	}

	// Slow enough to kill half-way: 3 keys a step, 100ms between steps.
	out, err = cli(s, "keys", "rewrap", "--region", region, "--key", "data", "--batch", "3", "--pause", "100ms", "--detach")
	if err != nil || !strings.Contains(out, "started rewrap job") {
		t.Fatalf("rewrap --detach: %v\n%s", err, out)
	}
	var half *client.RewrapJob
	for deadline := time.Now().Add(2 * time.Minute); ; { // a bound, not a speed limit
		u := usage(c)
		if u.Job != nil && u.Job.Done >= n/3 {
			half = u.Job
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not advance: %+v", u.Job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if half.State != "running" || half.Done >= n {
		t.Fatalf("job before the kill: %+v", half)
	}
	// The rotation and the start are audited (action key). After the
	// kill the log has a hole where the dead node had reserved entries,
	// so the listing is checked here.
	rules := ""
	for q := (url.Values{"action": {"key"}, "limit": {"1000"}}); ; {
		entries, err := c.AuditEntries(ctx, region, q)
		if err != nil {
			t.Fatalf("audit entries: %v", err)
		}
		for _, e := range entries.Entries {
			rules += e.Rule + " "
		}
		if entries.Next == "" {
			break
		}
		q.Set("cursor", entries.Next)
	}
	for _, want := range []string{"rotate:data:v2", "rewrap:data:start"} {
		if !strings.Contains(rules, want) {
			t.Errorf("no audit entry %s among %s", want, rules)
		}
	}
	s.Kill()

	s = startDev(t, data, nil, "--no-seed")
	c = s.client(t)
	u := usage(c)
	if u.Job == nil || u.Job.ID != half.ID || u.Job.Done < half.Done {
		t.Fatalf("job after the restart: %+v (before: %+v)", u.Job, half)
	}
	// A node resumes it once the dead node's lease expires, and it ends
	// with every key counted once.
	for deadline := time.Now().Add(2 * time.Minute); u.Job.State != "done"; time.Sleep(100 * time.Millisecond) { // a bound, not a speed limit
		if u = usage(c); u.Job == nil || u.Job.ID != half.ID || time.Now().After(deadline) {
			t.Fatalf("the job after the restart: %+v (before: %+v)", u.Job, half)
		}
	}
	if u.Job.Done != n || dataKeys(u, 1) != 0 || dataKeys(u, 2) != n {
		t.Fatalf("after the rewrap: job %+v, v1 %d, v2 %d", u.Job, dataKeys(u, 1), dataKeys(u, 2))
	}
	if out, err := cli(s, "keys", "status", "--region", region); err != nil || !strings.Contains(out, "done, 90/90") {
		t.Errorf("keys status: %v\n%s", err, out)
	}
	// With nothing left under v1, a rewrap from a script (not a terminal)
	// prints one line: a job that had nothing to do.
	out, err = cli(s, "keys", "rewrap", "--region", region, "--key", "data", "--poll", "200ms")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 1 || !strings.Contains(out, "done: 0 subject keys") {
		t.Errorf("rewrap in a script: %v\n%s", err, out)
	}

	if out, err := cli(s, "keys", "retire", "--region", region, "--key", "data", "--version", "1"); err != nil {
		t.Fatalf("retire: %v\n%s", err, out)
	}
	// Destroy waits for every node to have reloaded its keys since the
	// rotation (30s); until then it is refused with conflict.
	for {
		_, err := c.DestroyKey(ctx, region, client.KeyVersionRequest{Purpose: "data", Version: 1})
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
	u = usage(c)
	for _, kv := range u.Versions {
		if kv.Purpose == "data" && kv.Version == 1 && kv.State != "destroyed" {
			t.Errorf("data v1 after destroy: %+v", kv)
		}
	}
	for _, id := range ids {
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatalf("record %s after destroy: %v", id, err)
		}
	}
	s.Stop()

	st, err := pebble.Open(filepath.Join(data, "regions", region), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := be.BigEndian.AppendUint32([]byte("k/kek/data/"), 1)
	if _, err := st.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("data v1's sealed material is still in the store: %v", err)
	}
}
