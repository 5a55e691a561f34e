package guardbench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/app"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/vault"
)

// Guard overhead on reads (issue 7: at most 10%). The same CN region, the
// same records and the same principal, read with and without an Observe
// per read, in one run:
//
//	go test ./internal/guard/guardbench -run '^$' -bench Read -benchtime 20000x -count 5
//
// "handler" is a whole GET /v1/records/{id} through the region's handler
// (authentication, decision, decryption, masking, JSON) without the
// network; "vault" is the vault read alone, the strictest denominator. The
// guard runs with its background flush, as in production, on the region's
// own store; its rules are the example policy's with thresholds raised so
// that none fires (every rule is still evaluated on every read).

func BenchmarkRead(b *testing.B) {
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		b.Fatal(err)
	}
	for i := range pol.Guard.Rules {
		r := &pol.Guard.Rules[i]
		if r.Max > 0 {
			r.Max *= 1 << 30
		}
		r.Min = 1 << 40
	}
	ctx := context.Background()
	r, err := app.OpenRegion(ctx, app.RegionConfig{Policy: pol, Name: "cn-north", Dir: filepath.Join(b.TempDir(), "cn-north"),
		Secret: []byte("bench"), KDF: keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	token := access.NewToken()
	admin := access.Account{ID: "bench", Kind: "service", Roles: []string{"admin"}, Location: "CN"}
	if err := app.EnsurePrincipals(ctx, []*app.Region{r}, []app.Bootstrap{{Account: admin, Token: token}}); err != nil {
		b.Fatal(err)
	}
	gen := seed.New(7)
	var recs []vault.NewRecord
	for range 500 {
		c := gen.Customer("CN")
		recs = append(recs, vault.NewRecord{Collection: "customers", Subject: c.SubjectID, Jurisdiction: "CN", Fields: c.Fields})
	}
	var ids []string
	for i := 0; i < len(recs); i += 100 {
		out, err := r.Vault.Create(ctx, recs[i:i+100], vault.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range out {
			ids = append(ids, c.ID)
		}
	}
	g, err := guard.New(ctx, guard.Options{Store: r.Store, Policy: pol, Region: "cn-north", MAC: func() hash.Hash { return hmac.New(sha256.New, []byte("bench key")) }})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close(ctx)
	observe := func(i int) {
		if _, err := g.Observe(ctx, guard.Event{Principal: "bench", Roles: admin.Roles, Action: guard.ActionRead,
			RecordIDs: []string{ids[i%len(ids)]}, ClearFields: 6}); err != nil {
			b.Fatal(err)
		}
	}
	get := func(i int) {
		req := httptest.NewRequest(http.MethodGet, "/v1/records/"+ids[i%len(ids)], nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Domicile-Purpose", "support")
		w := httptest.NewRecorder()
		r.Handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET: %d %s", w.Code, w.Body)
		}
	}
	for _, par := range []int{1, 8} {
		run := func(name string, op func(i int)) {
			b.Run(name+"/clients="+strconv.Itoa(par), func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						op(int(n.Add(1)))
					}
				})
			})
		}
		run("handler/guard=off", get)
		run("handler/guard=on", func(i int) { get(i); observe(i) })
		run("vault/guard=off", func(i int) {
			if _, err := r.Vault.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		})
		run("vault/guard=on", func(i int) {
			if _, err := r.Vault.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			observe(i)
		})
		run("observe-only", observe)
	}
}
