package vault_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/store/postgres"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
	"github.com/domicile/domicile/internal/vault"
)

// TestReadsAcrossSuiteMigration checks the read side of a suite migration
// (issue 16, item 2): after the region's keyring moves to the other suite,
// new records, blind indexes and tokens use it, and records, searches and
// tokens made before stay readable under the suite they were made with.
func TestReadsAcrossSuiteMigration(t *testing.T) {
	for _, tc := range []struct {
		region, jurisdiction, phone, nationalID string
		from, to                                suite.ID
	}{
		{"eu-central", "DE", "+49 30 901820", "T22000129", suite.Intl, suite.CN},
		{"cn-north", "CN", "+86 138 0013 8000", "11010519491231002X", suite.CN, suite.Intl},
	} {
		t.Run(tc.region, func(t *testing.T) {
			ctx := context.Background()
			f := newTokenVault(t, tc.region)
			svc, err := tokens.New(tokens.Options{Region: tc.region, Policy: f.pol, Keyring: f.kr, Store: f.st})
			if err != nil {
				t.Fatal(err)
			}
			rec := func(i int) vault.NewRecord {
				return vault.NewRecord{Collection: "customers", Subject: fmt.Sprint("subject-", i), Jurisdiction: tc.jurisdiction,
					Fields: map[string]string{"name": fmt.Sprint("Name ", i), "email": fmt.Sprintf("p%d@example.org", i), "phone": tc.phone, "national_id": tc.nationalID}}
			}
			const n = 4
			var made []vault.Created
			for i := range n {
				out, err := f.v.Create(ctx, []vault.NewRecord{rec(i)}, vault.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				made = append(made, out[0])
			}
			to, _ := suite.ByID(tc.to)
			if _, err := f.kr.Migrate(ctx, to); err != nil {
				t.Fatal(err)
			}
			for i := n; i < 2*n; i++ {
				out, err := f.v.Create(ctx, []vault.NewRecord{rec(i)}, vault.CreateOptions{})
				if err != nil {
					t.Fatalf("create after the migration: %v", err)
				}
				made = append(made, out[0])
			}
			for i, c := range made {
				want := tc.from
				if i >= n {
					want = tc.to
				}
				raw, err := f.st.Get(ctx, []byte("r/"+c.ID))
				if err != nil {
					t.Fatal(err)
				}
				sr, err := recordfmt.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				for _, fl := range sr.Fields {
					if h, _, _ := envelope.Parse(fl.Envelope); h.Suite != want {
						t.Errorf("record %d field %s sealed under %s, want %s", i, fl.Name, h.Suite, want)
					}
				}
				got, err := f.v.Get(ctx, c.ID)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if got.Fields["email"] != fmt.Sprintf("p%d@example.org", i) || got.Fields["national_id"] != tc.nationalID {
					t.Errorf("record %d read back %q %q", i, got.Fields["email"], got.Fields["national_id"])
				}
				p, err := f.v.Find(ctx, "customers", "email", fmt.Sprintf("P%d@example.org", i), "", "", 10)
				if err != nil || len(p.Records) != 1 || p.Records[0].ID != c.ID {
					t.Errorf("search for record %d: %v, %v", i, p, err)
				}
				var items []tokens.DItem
				for _, tk := range c.Tokens {
					items = append(items, tokens.DItem{Token: tk.Token, Collection: "customers", Field: tk.Field, KeyVersion: tk.KeyVersion})
				}
				if len(items) != 3 {
					t.Fatalf("record %d has %d tokens, want 3", i, len(items))
				}
				res, err := svc.Detokenize(ctx, items)
				if err != nil {
					t.Fatal(err)
				}
				for j, r := range res {
					if r.Err != nil {
						t.Errorf("record %d token of %s: %v", i, items[j].Field, r.Err)
					}
				}
			}
			// The deterministic token of a value tokenized before the
			// migration stays what it was; the same value tokenized anew
			// gets a token of the new version.
			again, err := f.v.Create(ctx, []vault.NewRecord{rec(0)}, vault.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range again[0].Tokens {
				if tk.Field == "email" && tk.KeyVersion != 2 {
					t.Errorf("email token after the migration is of version %d, want 2", tk.KeyVersion)
				}
			}
			// Erasing a subject of either suite shreds its data.
			for _, i := range []int{1, n + 1} {
				if _, err := f.v.EraseSubject(ctx, fmt.Sprint("subject-", i), vault.Actor{}); err != nil {
					t.Fatal(err)
				}
				if _, err := f.v.Get(ctx, made[i].ID); vault.CodeOf(err) != vault.CodeSubjectErased && vault.CodeOf(err) != vault.CodeNotFound {
					t.Errorf("record %d after erasure: %v", i, err)
				}
			}
		})
	}
}

// TestMigrationJob runs a suite migration's job (rewrap, then the records'
// and the token entries' passes) on a region of records served by two
// nodes, on the embedded store and on PostgreSQL, while clients of both
// read, search, create and patch: no read fails, and at the end every
// stored ciphertext a subject's key protects is of the new suite, every
// index entry of the new index version, every value what its last write
// set, every token detokenizes, and the old data version is free to retire.
func TestMigrationJob(t *testing.T) {
	for _, be := range []struct {
		name string
		open func(t *testing.T) (a, b store.Store)
	}{
		{"pebble", func(t *testing.T) (store.Store, store.Store) {
			st, err := pebble.Open(t.TempDir(), pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, st
		}},
		{"postgres", func(t *testing.T) (store.Store, store.Store) {
			dsn := pgtest.NewDatabase(t)
			var sts [2]store.Store
			for i := range sts {
				st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				sts[i] = st
			}
			return sts[0], sts[1]
		}},
	} {
		t.Run(be.name, func(t *testing.T) { testMigrationJob(t, be.open) })
	}
}

func testMigrationJob(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	var stores [2]store.Store
	stores[0], stores[1] = open(t)
	st := stores[0]
	var krs [2]*keyring.Keyring
	var svcs [2]*tokens.Service
	var vs [2]*vault.Vault
	for i := range 2 {
		kr, err := keyring.Open(ctx, keyring.Options{Region: "eu-central", Suite: suite.IntlSuite(), Store: stores[i], Secret: []byte("test secret"),
			KDF: testKDF, Now: clk.now, Node: fmt.Sprint("node", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer kr.Close()
		svc, err := tokens.New(tokens.Options{Region: "eu-central", Policy: pol, Keyring: kr, Store: stores[i]})
		if err != nil {
			t.Fatal(err)
		}
		v, err := vault.New(vault.Options{Policy: pol, Region: "eu-central", Keyring: kr, Store: stores[i], Tokens: svc, Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		krs[i], svcs[i], vs[i] = kr, svc, v
		kr.SetMigrationPasses(v.MigrationPass(), svc.MigrationPass())
	}
	kr := krs[0]
	var mu sync.Mutex
	emails := map[string]string{} // record id -> e-mail last written
	var ids []string
	var toks []tokens.DItem
	create := func(i int) {
		out, err := vs[i%2].Create(ctx, []vault.NewRecord{{Collection: "customers", Subject: fmt.Sprint("subject-", i%40), Jurisdiction: "DE",
			Fields: map[string]string{"name": fmt.Sprint("Name ", i), "email": fmt.Sprintf("c%d@example.org", i), "phone": "+49 30 901820", "national_id": "T22000129"}}}, vault.CreateOptions{})
		if err != nil {
			t.Errorf("create %d: %v", i, err)
			return
		}
		mu.Lock()
		emails[out[0].ID] = fmt.Sprintf("c%d@example.org", i)
		ids = append(ids, out[0].ID)
		for _, tk := range out[0].Tokens {
			toks = append(toks, tokens.DItem{Token: tk.Token, Collection: "customers", Field: tk.Field, KeyVersion: tk.KeyVersion})
		}
		mu.Unlock()
	}
	const n = 300
	for i := range n {
		create(i)
	}
	if _, err := kr.Migrate(ctx, suite.CNSuite()); err != nil {
		t.Fatal(err)
	}
	// Every node reloads its keys within RefreshEvery (30 s), after
	// which the passes start.
	clk.advance(40 * time.Second)
	if _, started, err := kr.StartMigration(ctx, keyring.RewrapOptions{Batch: 32}, nil); err != nil || !started {
		t.Fatalf("StartMigration = %v, %v", started, err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				id := ids[(i*7+w*13)%len(ids)]
				mu.Unlock()
				v := vs[i%2]
				switch w {
				case 0: // reads
					if _, err := v.Get(ctx, id); err != nil {
						t.Errorf("read during the migration: %v", err)
						return
					}
				case 1: // patches, of odd records only: however long the
					// job runs, the even ones keep the e-mails the checks
					// below look for
					mu.Lock()
					id = ids[(i*7%(len(ids)/2))*2+1]
					mu.Unlock()
					e := fmt.Sprintf("patched%d@example.org", i)
					if _, err := v.Patch(ctx, id, map[string]string{"email": e}, nil, vault.Actor{}); err != nil {
						t.Errorf("patch during the migration: %v", err)
						return
					}
					mu.Lock()
					emails[id] = e
					mu.Unlock()
				case 2: // creates
					create(n + i)
				}
			}
		}()
	}
	var job keyring.RewrapJob
	for {
		if job, err = kr.RewrapStatus(ctx); err != nil {
			t.Fatal(err)
		}
		if job.State == keyring.JobDone || job.State == keyring.JobFailed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if job.State != keyring.JobDone || job.Suite != "cn" || job.Resealed < n {
		t.Fatalf("job = %+v", job)
	}
	// Writes during the job went to the new suite already; one more pass
	// over the store must find nothing of the old one.
	kvs, err := st.Scan(ctx, []byte("r/"), store.PrefixEnd([]byte("r/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != len(emails) {
		t.Fatalf("%d records stored, %d written", len(kvs), len(emails))
	}
	for _, kv := range kvs {
		rec, err := recordfmt.Parse(kv.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range append([][]byte{rec.Subject}, fieldEnvelopes(rec)...) {
			if h, _, _ := envelope.Parse(env); h.Suite != suite.CN {
				t.Fatalf("record %s holds a ciphertext of suite %s", kv.Key, h.Suite)
			}
		}
		for _, k := range rec.Index {
			if !strings.Contains(string(k), "\x00\x00\x00\x02/") {
				t.Fatalf("record %s has an index entry of another version: %q", kv.Key, k)
			}
		}
	}
	for id, e := range emails {
		got, err := vs[1].Get(ctx, id) // the node that did not run the job
		if err != nil || got.Fields["email"] != e {
			t.Fatalf("record %s: %q, %v; want %q", id, got.Fields["email"], err, e)
		}
		p, err := vs[1].Find(ctx, "customers", "email", e, "", "", 100)
		if err != nil || !slices.ContainsFunc(p.Records, func(r *vault.Sealed) bool { return r.ID == id }) {
			t.Fatalf("search for %s: %v", e, err)
		}
	}
	// Every token entry sealed under a subject's key is of the new suite;
	// every token, made before or during the job, still detokenizes.
	xs, err := st.Scan(ctx, []byte("x/"), store.PrefixEnd([]byte("x/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	subjectSealed := 0
	for _, kv := range xs {
		e, err := tokfmt.ParseEntry(kv.Value)
		if err != nil || e.Sealer != tokfmt.SealerSubject {
			continue
		}
		subjectSealed++
		if h, _, _ := envelope.Parse(e.Envelope); h.Suite != suite.CN {
			t.Fatalf("token entry %q sealed under %s after the job", kv.Key, h.Suite)
		}
	}
	if subjectSealed < n {
		t.Fatalf("%d subject-sealed token entries, want at least %d", subjectSealed, n)
	}
	// Each record's deterministic token was made again under the new
	// token version: the subject's entry of the e-mail's version-2 token
	// exists (tokenizing without a subject, as below, never writes one).
	checked := 0
	for i := 0; i < n && checked < 20; i++ {
		mail := fmt.Sprintf("c%d@example.org", i)
		if !slices.Contains(slices.Collect(maps.Values(emails)), mail) {
			continue // patched meanwhile
		}
		res, err := svcs[0].Tokenize(ctx, []tokens.Item{{Collection: "customers", Field: "email", Value: mail, Jurisdiction: "DE"}})
		if err != nil || res[0].Err != nil || res[0].KeyVersion != 2 {
			t.Fatalf("tokenize %s: %v %+v", mail, err, res)
		}
		tk, err := tokfmt.Parse(res[0].Token)
		if err != nil {
			t.Fatal(err)
		}
		key := binary.BigEndian.AppendUint32([]byte("x/d/"), tk.Version)
		key = append(append(append(key, tk.ID[:]...), '/'), krs[0].SubjectRef(fmt.Sprint("subject-", i%40))...)
		if _, err := st.Get(ctx, key); err != nil {
			t.Fatalf("no version-2 deterministic entry of record %d's subject: %v", i, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("every record written before the migration was patched: nothing to check")
	}
	for i := 0; i < len(toks); i += tokens.MaxBatch {
		res, err := svcs[1].Detokenize(ctx, toks[i:min(i+tokens.MaxBatch, len(toks))])
		if err != nil {
			t.Fatal(err)
		}
		for j, r := range res {
			if r.Err != nil {
				t.Fatalf("token %d (%s) after the job: %v", i+j, toks[i+j].Field, r.Err)
			}
		}
	}
	if job.Resealed < 2*n {
		t.Errorf("the job sealed %d items again, want records and token entries (%d or more)", job.Resealed, 2*n)
	}
	if err := kr.Retire(ctx, keyring.Data, 1); err != nil {
		t.Errorf("retire data v1 after the migration: %v", err)
	}
	if err := kr.Retire(ctx, keyring.Index, 1); err != nil {
		t.Errorf("retire index v1 after the migration: %v", err)
	}
}

func fieldEnvelopes(r *recordfmt.Record) [][]byte {
	out := make([][]byte, len(r.Fields))
	for i, f := range r.Fields {
		out[i] = f.Envelope
	}
	return out
}
