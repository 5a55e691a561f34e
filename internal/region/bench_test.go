package region_test

import (
	"context"
	"testing"

	"github.com/domicile/domicile/internal/region"
)

// BenchmarkGet is one read through the whole region path (decide, decrypt
// what the decision shows, mask, audit durably) for the three outcomes:
// an administrator in the region sees every field in clear, a support
// agent abroad sees masked fields and not the national id (one value
// fewer decrypted), and a principal without a role is denied before
// anything is decrypted.
//
//	go test ./internal/region -run '^$' -bench Get -benchtime 2000x
func BenchmarkGet(b *testing.B) {
	for _, bc := range []struct {
		name     string
		caller   func(e *env) region.Caller
		wantFail bool
	}{
		{"clear", func(e *env) region.Caller { return e.caller("admin-cn", "CN", "support", "admin") }, false},
		{"masked", func(e *env) region.Caller { return e.caller("support-us", "US", "support", "support") }, false},
		{"denied", func(e *env) region.Caller { return e.caller("clerk", "CN", "support") }, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			ids := e.create(e.caller("admin-cn", "CN", "support", "admin"), "bench", 100)
			c := bc.caller(e)
			ctx := context.Background()
			b.ReportAllocs()
			before := e.r.Vault.Decrypted()
			b.ResetTimer()
			for i := range b.N {
				_, err := e.s.Get(ctx, c, ids[i%len(ids)])
				if (err != nil) != bc.wantFail {
					b.Fatalf("get: %v", err)
				}
			}
			b.ReportMetric(float64(e.r.Vault.Decrypted()-before)/float64(b.N), "decrypts/op")
		})
	}
}
