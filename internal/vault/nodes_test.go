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
