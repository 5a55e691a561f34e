package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// The split deployment on PostgreSQL. These tests need the local test
// server (see package pgtest): they skip with instructions without it, and
// fail instead when CI is set.

// TestPostgresResidency is TestResidency as a split deployment: one
// `domicile serve` per region of the example policy, each on its own
// PostgreSQL database, and `domicile gateway` in front. 300 records across
// six jurisdictions read back identical; no database holds a submitted
// value; CN record ids are in cn-north's database and in no other.
func TestPostgresResidency(t *testing.T) {
	dbs := map[string]string{}
	for _, r := range exampleRegions {
		dbs[r] = pgtest.NewDatabase(t)
	}
	// Start the four nodes at once, as an operator's fleet would.
	urls := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range exampleRegions {
		wg.Go(func() {
			s, err := launch(nodeEnv(r), serveArgs(r, dbs[r])...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("node of %s: %v", r, err)
				return
			}
			s.t = t
			s.stopWith(t)
			urls[r] = s.URL
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	gw := startGateway(t, urls)
	c := splitClient(t, gw)
	ctx := context.Background()

	g := seed.New(42)
	customers := g.Customers(300, []string{"CN", "RU", "DE", "FR", "US", "BR"})
	type created struct {
		id, jurisdiction string
		fields           map[string]string
	}
	var all []created
	for _, cu := range customers {
		out, err := c.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: cu.SubjectID, Jurisdiction: cu.Jurisdiction, Fields: cu.Fields}}, "")
		if err != nil {
			t.Fatalf("create %s record: %v", cu.Jurisdiction, err)
		}
		all = append(all, created{out.Records[0].ID, cu.Jurisdiction, cu.Fields})
	}
	wantRegion := map[string]string{"CN": "cn-north", "RU": "ru-central", "DE": "eu-central", "FR": "eu-central", "US": "us-east", "BR": "us-east"}
	for _, cr := range all {
		r, err := c.Get(ctx, cr.id)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if r.Region != wantRegion[cr.jurisdiction] {
			t.Errorf("%s record stored in %s", cr.jurisdiction, r.Region)
		}
		for k, v := range cr.fields {
			if r.Fields[k] != v {
				t.Errorf("record %s field %s differs after the round trip", cr.id, k)
			}
		}
	}

	// What each region's database holds.
	type dump struct{ keys, values [][]byte }
	held := map[string]dump{}
	for _, r := range exampleRegions {
		k, v := pgtest.Dump(t, dbs[r])
		if len(k) == 0 {
			t.Fatalf("%s's database holds no keys", r)
		}
		held[r] = dump{k, v}
	}
	var needles [][]byte
	for _, cr := range all {
		for name, v := range cr.fields {
			if name == "date_of_birth" {
				continue // too short and common to be a meaningful needle
			}
			for _, form := range []string{v, strings.ToLower(v), strings.ReplaceAll(v, " ", "")} {
				for _, n := range [][]byte{[]byte(form), []byte(base64.StdEncoding.EncodeToString([]byte(form))), []byte(hex.EncodeToString([]byte(form)))} {
					if len(n) >= 6 {
						needles = append(needles, n)
					}
				}
			}
		}
	}
	for r, d := range held {
		for _, b := range append(d.keys, d.values...) {
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Fatalf("%s's database holds a submitted value (%d bytes)", r, len(n))
				}
			}
		}
	}
	// CN record ids: in cn-north's keys (record, subject and index
	// entries), in no other database's keys or values.
	for _, cr := range all {
		if cr.jurisdiction != "CN" {
			continue
		}
		rnd := []byte(cr.id[strings.LastIndexByte(cr.id, '_')+1:])
		found := 0
		for r, d := range held {
			for i, k := range d.keys {
				if !bytes.Contains(k, rnd) && !bytes.Contains(d.values[i], rnd) {
					continue
				}
				if r != "cn-north" {
					t.Errorf("CN record id found in %s's database", r)
				}
				found++
			}
		}
		if found == 0 {
			t.Errorf("CN record id not found in cn-north's database: the check cannot see stored keys")
		}
	}
}

// TestPostgresRegionClaim: a node refuses a database that holds another
// region's data, and says why; serve takes exactly one of --data and
// --store.
func TestPostgresRegionClaim(t *testing.T) {
	db := pgtest.NewDatabase(t)
	s := startProc(t, nodeEnv("eu-central"), serveArgs("eu-central", db)...)
	s.Stop()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"fail/other-region", nodeEnv("cn-north"), serveArgs("cn-north", db), "each region needs its own database"},
		{"fail/data-and-store", nodeEnv("eu-central"), append(serveArgs("eu-central", db), "--data", t.TempDir()), "exactly one of --data"},
		{"fail/store-not-url", nodeEnv("eu-central"), serveArgs("eu-central", "/var/lib/x"), "postgres:// or postgresql://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := launch(tc.env, tc.args...)
			if err == nil {
				t.Fatal("serve started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve failed without saying %q:\n%v", tc.want, err)
			}
		})
	}
}
