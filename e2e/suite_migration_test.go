package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// TestSuiteMigration is issue 16 item 2 end to end: a region of 10,000
// records moves from intl to cn with 'domicile keys migrate' while a client
// reads and writes; the node is killed with kill -9 half-way through the
// records and restarted, and the job resumes. No read fails while the node
// is up, the audit log verifies across the switch of its hash, records are
// found by search and their tokens detokenize, and at the end every stored
// ciphertext of a record or of a subject's token entry is of suite cn.
func TestSuiteMigration(t *testing.T) {
	t.Parallel() // mostly waiting on the job: overlaps with the other long tests
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	ctx := context.Background()
	const region, n = "us-east", 10000
	cli := (*server).cli
	c := s.client(t)
	var ids []string
	var toks []client.DetokenizeItem
	for i := 0; i < n; i += 100 {
		recs := make([]client.NewRecord, 100)
		for j := range recs {
			recs[j] = customer(fmt.Sprintf("mig-%d", (i+j)%2500), "US", i+j)
		}
		out, err := c.Create(ctx, recs, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			ids = append(ids, r.ID)
			for _, tk := range r.Tokens {
				if len(toks) < 40 {
					toks = append(toks, client.DetokenizeItem{Token: tk.Token, Collection: "customers", Field: tk.Field, KeyVersion: tk.KeyVersion})
				}
			}
		}
	}

	// A client reads (slowly: the guard locks whoever reads 300 records a
	// minute) and writes while the job runs.
	var failed atomic.Value
	clientLoop := func(c *client.Client, stop chan struct{}, wg *sync.WaitGroup) {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := c.Get(ctx, ids[(i*7919)%len(ids)]); err != nil {
				failed.Store(fmt.Sprintf("read during the migration: %v", err))
			}
			if _, err := c.Create(ctx, []client.NewRecord{customer(fmt.Sprintf("late-%d", i), "US", n+i)}, ""); err != nil {
				failed.Store(fmt.Sprintf("write during the migration: %v", err))
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go clientLoop(c, stop, &wg)

	out, err := cli(s, "keys", "migrate", "--region", region, "--suite", "cn", "--batch", "100", "--pause", "30ms", "--detach")
	if err != nil || !strings.Contains(out, "started migration job") {
		t.Fatalf("keys migrate --detach: %v\n%s", err, out)
	}
	var half *client.RewrapJob
	for deadline := time.Now().Add(3 * time.Minute); ; { // a bound, not a speed limit
		u, err := c.KeyUsage(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		if u.Job != nil && u.Job.Phase == "records" && u.Job.Resealed >= n/3 {
			half = u.Job
			break
		}
		if u.Job != nil && (u.Job.State == "done" || u.Job.State == "failed") || time.Now().After(deadline) {
			t.Fatalf("the job did not reach the records half-way: %+v", u.Job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	regions, err := c.Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions.Regions {
		if r.Name == region && (r.Suite != "cn" || !strings.HasPrefix(r.Migration, "intl -> cn")) {
			t.Errorf("/v1/regions during the migration: suite %q, migration %q", r.Suite, r.Migration)
		}
	}
	s.Kill()

	s = startDev(t, data, nil, "--no-seed")
	c = s.client(t)
	stop = make(chan struct{})
	wg.Add(1)
	go clientLoop(c, stop, &wg)
	var job *client.RewrapJob
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) { // a bound, not a speed limit
		u, err := c.KeyUsage(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		if u.Job == nil || u.Job.ID != half.ID || u.Job.State == "failed" || time.Now().After(deadline) {
			t.Fatalf("the job after the restart: %+v (before the kill: %+v)", u.Job, half)
		}
		if u.Job.State == "done" {
			job = u.Job
			break
		}
	}
	close(stop)
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	if job.Resealed < n {
		t.Errorf("the job sealed %d items again, want %d records or more: %+v", job.Resealed, n, job)
	}

	out, err = cli(s, "audit", "verify", "--region", region)
	if err != nil || !strings.Contains(out, "ok: ") {
		t.Fatalf("audit verify across the switch: %v\n%s", err, out)
	}
	for i := 0; i < 40; i++ {
		id := ids[(i*4001)%len(ids)]
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatalf("record %s after the migration: %v", id, err)
		}
		k := (i * 4001) % len(ids)
		p, err := c.Search(ctx, "customers", client.SearchRequest{Field: "email", Value: fmt.Sprintf("PERSON%d@example.com", k), Jurisdiction: "US"})
		if err != nil || len(p.Records) != 1 || p.Records[0].ID != id {
			t.Fatalf("search for record %d after the migration: %v, %+v", k, err, p)
		}
	}
	ops, err := client.New(s.URL, s.Token, client.WithPurpose("operations"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ops.Detokenize(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Results {
		if r.Error != nil {
			t.Fatalf("token %d made before the migration: %+v", i, r.Error)
		}
	}
	s.Stop()

	st, err := pebble.Open(filepath.Join(data, "regions", region), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kvs, err := st.Scan(ctx, []byte("r/"), store.PrefixEnd([]byte("r/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) < n {
		t.Fatalf("%d records stored, want %d or more", len(kvs), n)
	}
	for _, kv := range kvs {
		rec, err := recordfmt.Parse(kv.Value)
		if err != nil {
			t.Fatal(err)
		}
		envs := [][]byte{rec.Subject}
		for _, f := range rec.Fields {
			envs = append(envs, f.Envelope)
		}
		for _, e := range envs {
			if h, _, err := envelope.Parse(e); err != nil || h.Suite != suite.CN {
				t.Fatalf("record %s holds a ciphertext of suite %s after the migration", kv.Key, h.Suite)
			}
		}
	}
	xs, err := st.Scan(ctx, []byte("x/"), store.PrefixEnd([]byte("x/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range xs {
		e, err := tokfmt.ParseEntry(kv.Value)
		if err != nil || e.Sealer != tokfmt.SealerSubject {
			continue
		}
		if h, _, _ := envelope.Parse(e.Envelope); h.Suite != suite.CN {
			t.Fatalf("token entry %q sealed under %s after the migration", kv.Key, h.Suite)
		}
	}
}
