package vault_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/vault"
)

// BenchmarkOpen is the decrypting part of a read: load a record of six
// fields and open its subject and every field, in each suite, with the
// subject key in the keyring's cache (the usual case for a hot subject).
// No store write, no audit: see region's BenchmarkGet for the whole path.
//
//	go test ./internal/vault -run '^$' -bench Open
func BenchmarkOpen(b *testing.B) {
	for _, region := range []string{"cn-north", "eu-central"} {
		b.Run(region, func(b *testing.B) {
			f := newVault(b, region)
			ctx := context.Background()
			r := cnCustomer("bench")
			if region != "cn-north" {
				r.Jurisdiction = "DE"
				r.Fields["phone"] = "+49 30 1234567"
				delete(r.Fields, "national_id")
			}
			out, err := f.v.Create(ctx, []vault.NewRecord{r}, vault.CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			id := out[0].ID
			b.ReportAllocs()
			for b.Loop() {
				s, err := f.v.Load(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				rec, err := f.v.Open(ctx, s, nil)
				if err != nil || len(rec.Fields) == 0 {
					b.Fatal(fmt.Sprint("open: ", err))
				}
			}
		})
	}
}
