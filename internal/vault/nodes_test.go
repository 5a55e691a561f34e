package vault_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/vault"
)

// Tests of several stateless nodes of one region over one store: each node
// is a Vault with a Keyring (and DEK cache) of its own.

// clock is a controlled clock shared by the nodes.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type nodes struct {
	st  store.Store
	v   [2]*vault.Vault
	clk *clock
}

func newNodes(t *testing.T, region string) *nodes {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pr, _ := pol.Region(region)
	s, err := suite.ByID(pr.Suite)
	if err != nil {
		t.Fatal(err)
	}
	n := &nodes{st: st, clk: &clock{}}
	n.clk.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	for i := range n.v {
		kr, err := keyring.Open(context.Background(), keyring.Options{Region: region, Suite: s, Store: st,
			Secret: []byte("test secret"), KDF: testKDF, Now: n.clk.now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kr.Close)
		if n.v[i], err = vault.New(vault.Options{Policy: pol, Region: region, Keyring: kr, Store: st, Now: n.clk.now}); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestNodesPatchNoLostUpdate: goroutines on two nodes patch one record at
// once, each setting a field of its own; every field must end present.
func TestNodesPatchNoLostUpdate(t *testing.T) {
	n := newNodes(t, "cn-north")
	ctx := context.Background()
	full := cnCustomer("patched").Fields
	fields := []string{"email", "phone", "national_id", "date_of_birth", "address"}
	const records, rounds = 4, 3
	for round := range rounds {
		ids := make([]string, records)
		for i := range ids {
			ids[i] = create1(t, n.v[i%2], vault.NewRecord{Collection: "customers", Subject: fmt.Sprintf("subject-%d-%d", round, i),
				Jurisdiction: "CN", Fields: map[string]string{"name": full["name"]}})
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, id := range ids {
			for j, f := range fields {
				// Both nodes write every record; within a node the
				// in-process lock serialises, across nodes only the
				// store's compare-and-set does.
				node := n.v[(i+j)%2]
				wg.Go(func() {
					<-start
					if _, err := node.Patch(ctx, id, map[string]string{f: full[f]}, nil, vault.Actor{}); err != nil {
						t.Errorf("Patch(%s) of record %d: %v", f, i, err)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		for i, id := range ids {
			r, err := n.v[(i+1)%2].Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for f, want := range full {
				if r.Fields[f] != want {
					t.Errorf("round %d record %d: field %s = %q, want %q (an update was lost)", round, i, f, r.Fields[f], want)
				}
			}
			// The blind index holds exactly the record's indexed fields.
			raw, err := n.st.Get(ctx, []byte("r/"+id))
			if err != nil {
				t.Fatal(err)
			}
			st, err := recordfmt.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(indexKeysOf(t, n.st, id)); got != 3 || len(st.Index) != 3 {
				t.Errorf("record %d: %d index keys in the store, %d in the record; want 3 (email, phone, national_id)", i, got, len(st.Index))
			}
		}
	}
}

// indexKeysOf returns the blind-index keys that point to id.
func indexKeysOf(t *testing.T, st store.Store, id string) [][]byte {
	t.Helper()
	kvs, err := st.Scan(context.Background(), []byte("i/"), store.PrefixEnd([]byte("i/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, kv := range kvs {
		if bytes.HasSuffix(kv.Key, []byte(id)) {
			out = append(out, kv.Key)
		}
	}
	return out
}

// TestNodesDeleteRacesPatch: one node deletes a record while the other
// patches it; the record must stay deleted, with no index entry left.
func TestNodesDeleteRacesPatch(t *testing.T) {
	n := newNodes(t, "cn-north")
	ctx := context.Background()
	const rounds, patchers = 16, 4
	for round := range rounds {
		id := create1(t, n.v[0], cnCustomer(fmt.Sprintf("subject-%d", round)))
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			if err := n.v[0].Delete(ctx, id, vault.Actor{}); err != nil {
				t.Errorf("Delete: %v", err)
			}
		})
		for p := range patchers {
			wg.Go(func() {
				<-start
				_, err := n.v[1].Patch(ctx, id, map[string]string{"email": fmt.Sprintf("p%d@example.cn", p)}, nil, vault.Actor{})
				if err != nil && vault.CodeOf(err) != vault.CodeNotFound {
					t.Errorf("Patch: %v, want success or not_found", err)
				}
			})
		}
		close(start)
		wg.Wait()
		for i, v := range n.v {
			if _, err := v.Get(ctx, id); vault.CodeOf(err) != vault.CodeNotFound {
				t.Fatalf("round %d: node %d: Get after Delete: error = %v, want not_found (resurrected)", round, i, err)
			}
		}
		if keys := indexKeysOf(t, n.st, id); len(keys) != 0 {
			t.Fatalf("round %d: %d index keys left for the deleted record", round, len(keys))
		}
	}
}

// TestNodesEraseSeenByOtherNode: node 1 has the subject's key cached when
// node 0 erases the subject. Node 1's next create must not use the
// destroyed key, and its reads of a restored backup copy must fail once
// CacheTTL has passed.
func TestNodesEraseSeenByOtherNode(t *testing.T) {
	n := newNodes(t, "cn-north")
	ctx := context.Background()
	a, b := n.v[0], n.v[1]
	oldID := create1(t, b, cnCustomer("alice")) // node 1 caches alice's key
	backup, err := n.st.Get(ctx, []byte("r/"+oldID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, oldID); err != nil {
		t.Fatal(err)
	}
	if got, err := a.EraseSubject(ctx, "alice", vault.Actor{}); err != nil || got != 1 {
		t.Fatalf("EraseSubject = %d, %v; want 1 record", got, err)
	}

	// A create on node 1 lands under a fresh generation.
	newID := create1(t, b, cnCustomer("alice"))
	raw, err := n.st.Get(ctx, []byte("r/"+newID))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recordfmt.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := envelope.Parse(rec.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if h.KeyVersion != 2 {
		t.Fatalf("node 1 created a record under subject key generation %d after the erasure, want 2", h.KeyVersion)
	}
	if r, err := a.Get(ctx, newID); err != nil || r.Subject != "alice" {
		t.Fatalf("node 0 reading node 1's new record: %v, %v", r, err)
	}

	// A backup copy of the erased record, restored into the store.
	var restore store.Batch
	restore.Put([]byte("r/"+oldID), backup)
	if err := n.st.Apply(ctx, &restore); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, oldID); vault.CodeOf(err) != vault.CodeSubjectErased {
		t.Fatalf("node 0 reading the restored copy: error = %v, want subject_erased", err)
	}
	n.clk.advance(30 * time.Second) // keyring.Options.CacheTTL's default
	for i, v := range n.v {
		if _, err := v.Get(ctx, oldID); vault.CodeOf(err) != vault.CodeSubjectErased {
			t.Fatalf("node %d reading the restored copy after the TTL: error = %v, want subject_erased", i, err)
		}
	}
	// Patching the restored copy must not write under the destroyed key.
	if _, err := b.Patch(ctx, oldID, map[string]string{"email": "x@example.cn"}, nil, vault.Actor{}); vault.CodeOf(err) != vault.CodeSubjectErased {
		t.Fatalf("node 1 patching the restored copy: error = %v, want subject_erased", err)
	}
	if err := b.Delete(ctx, oldID, vault.Actor{}); err != nil {
		t.Fatalf("node 1 deleting the restored copy: %v", err)
	}
}

// TestNodesSuiteMigration: node 0 migrates the region's suite while node 1
// has not reloaded its keys yet and goes on writing with the old suite.
// Once node 1 reloads (RefreshEvery), it writes with the new one; the
// job's records pass, which waits for that, leaves nothing of the old
// suite, and both nodes read everything throughout.
func TestNodesSuiteMigration(t *testing.T) {
	ctx := context.Background()
	n := newNodes(t, "eu-central")
	rec := func(i int) vault.NewRecord {
		return vault.NewRecord{Collection: "customers", Subject: fmt.Sprint("s", i%5), Jurisdiction: "DE",
			Fields: map[string]string{"name": fmt.Sprint("N", i), "email": fmt.Sprintf("n%d@example.org", i)}}
	}
	var ids []string
	write := func(node, i int) {
		out, err := n.v[node].Create(ctx, []vault.NewRecord{rec(i)}, vault.CreateOptions{})
		if err != nil {
			t.Fatalf("node %d create %d: %v", node, i, err)
		}
		ids = append(ids, out[0].ID)
	}
	suiteOf := func(id string) suite.ID {
		raw, err := n.st.Get(ctx, []byte("r/"+id))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := recordfmt.Parse(raw)
		h, _, _ := envelope.Parse(r.Fields[0].Envelope)
		return h.Suite
	}
	for i := range 10 {
		write(i%2, i)
	}
	k0, k1 := n.v[0].Keyring(), n.v[1].Keyring()
	if _, err := k0.Migrate(ctx, suite.CNSuite()); err != nil {
		t.Fatal(err)
	}
	k0.SetMigrationPasses(n.v[0].MigrationPass())
	write(0, 10)
	write(1, 11) // node 1 has not reloaded: the old suite
	if got := suiteOf(ids[10]); got != suite.CN {
		t.Errorf("node 0 wrote under %s after migrating", got)
	}
	if got := suiteOf(ids[11]); got != suite.Intl {
		t.Errorf("node 1 wrote under %s before reloading its keys", got)
	}
	for node := range 2 {
		for _, id := range ids {
			if _, err := n.v[node].Get(ctx, id); err != nil {
				t.Fatalf("node %d reading %s: %v", node, id, err)
			}
		}
	}
	// RefreshEvery (30 s by default) later node 1 seals with the new
	// suite, and the passes may start.
	n.clk.advance(40 * time.Second)
	write(1, 12)
	if got := suiteOf(ids[12]); got != suite.CN {
		t.Errorf("node 1 wrote under %s after reloading its keys", got)
	}
	if _, _, err := k0.StartMigration(ctx, keyring.RewrapOptions{Batch: 4}, nil); err != nil {
		t.Fatal(err)
	}
	for {
		job, err := k1.RewrapStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if job.State == keyring.JobFailed {
			t.Fatalf("job failed: %s", job.Error)
		}
		if job.State == keyring.JobDone {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, id := range ids {
		if got := suiteOf(id); got != suite.CN {
			t.Errorf("record %s still under %s after the job", id, got)
		}
		for node := range 2 {
			if _, err := n.v[node].Get(ctx, id); err != nil {
				t.Fatalf("node %d reading %s after the job: %v", node, id, err)
			}
		}
	}
}
