package keyring

import (
	"context"
	"fmt"
	"github.com/domicile/domicile/internal/store/memstore"
	"testing"

	"github.com/domicile/domicile/internal/suite"
)

func benchKeyring(b *testing.B, s suite.Suite, cacheSize, subjects int) (*Keyring, []string) {
	st := memstore.New()
	o := opts(st, s)
	o.CacheSize = cacheSize
	k := mustOpen(b, o)
	b.Cleanup(k.Close)
	names := make([]string, subjects)
	for i := range names {
		names[i] = fmt.Sprintf("subject-%d", i)
		subjectKey(b, k, st, names[i])
	}
	return k, names
}

func BenchmarkSubjectKeyHit(b *testing.B) {
	for _, s := range testSuites {
		b.Run(string(s.ID()), func(b *testing.B) {
			k, names := benchKeyring(b, s, 0, 1024)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := k.SubjectKey(ctx, names[i%len(names)], nil); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}

func BenchmarkExistingSubjectKey(b *testing.B) {
	for _, s := range testSuites {
		for _, tc := range []struct {
			name  string
			cache int
		}{{"hit", 0}, {"miss", 1}} {
			b.Run(string(s.ID())+"/"+tc.name, func(b *testing.B) {
				k, names := benchKeyring(b, s, tc.cache, 1024)
				ctx := context.Background()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					// Step by a prime so consecutive subjects fall in
					// different shards and a size-1 cache always misses.
					if _, err := k.ExistingSubjectKey(ctx, names[(i*61)%len(names)], 1, ""); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	for _, s := range testSuites {
		b.Run(string(s.ID()), func(b *testing.B) {
			k, _ := benchKeyring(b, s, 0, 0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.BlindIndex(1, "customers", "email", "alice@example.com"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
