package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// requestsServed sums a node's domicile_http_requests_total from its
// /metrics (0 if the node does not answer).
func requestsServed(base string) int64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "domicile_http_requests_total{") || strings.Contains(line, `route="getMetrics"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			n += int64(v)
		}
	}
	return n
}

// TestPostgresTwoNodes: two nodes of eu-central on one database behind the
// gateway, which spreads requests over them and fails over. 8 clients create 300
// records each with idempotency keys, reading each back and earlier ones
// at random; a third of the way in, one node is killed with SIGKILL. Every
// acknowledged create is readable afterwards, the database holds exactly
// one record per create (nothing lost, nothing duplicated), the collection
// counter agrees, and the surviving node served the rest.
func TestPostgresTwoNodes(t *testing.T) {
	const (
		clients   = 8
		perClient = 300
		total     = clients * perClient
		killAt    = total / 3
	)
	db := pgtest.NewDatabase(t)
	// Both nodes start at once against the fresh database: they race to
	// migrate it and to create the region's keyring.
	nodes := make([]*server, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i], errs[i] = launch(nodeEnv("eu-central"), serveArgs("eu-central", db)...) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		nodes[i].t = t
		nodes[i].stopWith(t)
	}
	regions := map[string]string{}
	for _, r := range exampleRegions {
		regions[r] = "http://127.0.0.1:1" // unused: every record is European
	}
	regions["eu-central"] = nodes[0].URL + "," + nodes[1].URL
	gw := startGateway(t, regions)

	ctx := context.Background()
	type want struct{ subject, name string }
	var (
		mu        sync.Mutex
		acked     = map[string]want{} // record id -> what was created
		replayed  atomic.Int64
		done      atomic.Int64
		killOnce  sync.Once
		servedAt  [2]int64 // per node, when the kill happened
		killedRun = make(chan struct{})
	)
	kill := func() {
		servedAt[0], servedAt[1] = requestsServed(nodes[0].URL), requestsServed(nodes[1].URL)
		nodes[0].Kill()
		close(killedRun)
	}
	var cwg sync.WaitGroup
	for g := range clients {
		cwg.Go(func() {
			c := splitClient(t, gw)
			rng := rand.New(rand.NewPCG(uint64(g), 8))
			var mine []string
			for i := range perClient {
				j := []string{"DE", "FR"}[i%2]
				rec := customer(fmt.Sprintf("two-node-%d-%d", g, i), j, g*perClient+i)
				key := fmt.Sprintf("two-node-%d-%d", g, i)
				var out *client.CreateResponse
				var err error
				for range 5 { // the client's own retries, with the same key
					if out, err = c.Create(ctx, []client.NewRecord{rec}, key); err == nil {
						break
					}
				}
				if err != nil {
					t.Errorf("client %d create %d: %v", g, i, err)
					return
				}
				id := out.Records[0].ID
				if out.Replayed {
					replayed.Add(1)
				}
				mu.Lock()
				if prev, ok := acked[id]; ok {
					t.Errorf("record id %s acknowledged for two creates (%s, %s)", id, prev.subject, rec.Subject)
				}
				acked[id] = want{rec.Subject, rec.Fields["name"]}
				mu.Unlock()
				mine = append(mine, id)
				if n := done.Add(1); n == killAt {
					go killOnce.Do(kill) // mid-run: the other clients keep going
				}
				// Read it back, and an earlier one of this client.
				for _, read := range []string{id, mine[rng.IntN(len(mine))]} {
					r, err := c.Get(ctx, read)
					if err != nil {
						t.Errorf("client %d get: %v", g, err)
						return
					}
					if read == id && (r.Subject != rec.Subject || r.Fields["name"] != rec.Fields["name"]) {
						t.Errorf("client %d: record %s read back differs", g, id)
					}
				}
			}
		})
	}
	cwg.Wait()
	select {
	case <-killedRun:
	default:
		t.Fatalf("the clients stopped before the kill (%d creates acknowledged)", len(acked))
	}
	if t.Failed() {
		t.FailNow()
	}
	after := requestsServed(nodes[1].URL)
	t.Logf("%d creates acknowledged, %d replayed after a failover; served before the kill %v, after: node 1 %d",
		len(acked), replayed.Load(), servedAt, after-servedAt[1])
	if servedAt[0] == 0 || servedAt[1] == 0 {
		t.Errorf("before the kill the nodes served %v requests: both should have", servedAt)
	}
	if after == servedAt[1] {
		t.Error("the surviving node served nothing after the kill")
	}
	if len(acked) != total {
		t.Fatalf("%d distinct records acknowledged for %d creates", len(acked), total)
	}

	// Every acknowledged write is there, through the surviving node.
	c := splitClient(t, gw)
	for id, w := range acked {
		r, err := c.Get(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged record lost: %v", err)
		}
		if r.Subject != w.subject || r.Fields["name"] != w.name {
			t.Fatalf("record %s differs from what was acknowledged", id)
		}
	}
	// The database holds exactly the acknowledged records.
	keys, _ := pgtest.Dump(t, db)
	stored := 0
	for _, k := range keys {
		id, ok := strings.CutPrefix(string(k), "r/")
		if !ok {
			continue
		}
		stored++
		if _, ok := acked[id]; !ok {
			t.Errorf("the database holds a record no create acknowledged (a duplicate or a lost acknowledgement)")
		}
	}
	if stored != total {
		t.Errorf("the database holds %d records for %d creates", stored, total)
	}
	if n := pgtest.Counter(t, db, []byte("n/customers")); n != total {
		t.Errorf("collection counter = %d, want %d", n, total)
	}
}
