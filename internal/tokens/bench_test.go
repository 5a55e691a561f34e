package tokens_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/token/ff1"
	"github.com/domicile/domicile/internal/token/format"
	"github.com/domicile/domicile/internal/tokens"
)

const benchBatch = 100

var benchRegions = []struct{ name, region, j string }{{"cn", "cn-north", "CN"}, {"intl", "us-east", "US"}}

// benchItems returns a batch of distinct values for field, numbered from
// base.
func benchItems(field, j string, base int64) []tokens.Item {
	items := make([]tokens.Item, benchBatch)
	for i := range items {
		n := base + int64(i)
		var v string
		switch field {
		case "email":
			v = fmt.Sprintf("User.%d@Example.com", n)
		case "phone":
			if j == "CN" {
				v = fmt.Sprintf("+86138%08d", n%1e8)
			} else {
				v = fmt.Sprintf("+1650253%04d", n%1e4)
			}
		case "passport":
			v = fmt.Sprintf("P%09d", n)
		}
		items[i] = tokens.Item{Collection: "customers", Field: field, Value: v, Jurisdiction: j}
	}
	return items
}

var benchKinds = []struct{ kind, field string }{{"deterministic", "email"}, {"fpe", "phone"}, {"random", "passport"}}

// BenchmarkTokenize runs Tokenize in batches of 100 from parallel clients
// (GOMAXPROCS goroutines; -cpu 8 for 8 clients), with new values every
// batch (every deterministic and random item is a store write), and
// reports tokens/s and the process's CPU time per token (user and system,
// Pebble's background work included), which a busy machine disturbs less:
//
//	go test ./internal/tokens -run '^$' -bench 'Tokenize/intl/deterministic$' -benchtime 300x -cpu 8,64
func BenchmarkTokenize(b *testing.B) {
	for _, r := range benchRegions {
		for _, k := range benchKinds {
			b.Run(r.name+"/"+k.kind, func(b *testing.B) {
				f := newFixture(b, r.region, "")
				var next atomic.Int64
				ctx := context.Background()
				b.ResetTimer()
				cpu := cpuTime(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						items := benchItems(k.field, r.j, next.Add(benchBatch))
						out, err := f.svc.Tokenize(ctx, items)
						if err != nil || out[0].Err != nil {
							b.Fatal(err, out[0].Err)
						}
					}
				})
				cpu = cpuTime(b) - cpu
				b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "tokens/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*benchBatch), "cpu-µs/token")
			})
		}
		// Values already stored but unknown to the service (no seen
		// set, as after a restart or for a store larger than the set):
		// every batch needs its reads, and with mixed, every tenth
		// value of a batch is new, the rest stored.
		for _, mix := range []struct {
			name  string
			every int64 // one value in every is new; 0: none
		}{{"deterministic-stored", 0}, {"deterministic-mixed", 10}} {
			b.Run(r.name+"/"+mix.name, func(b *testing.B) {
				f := newFixture(b, r.region, "")
				svc, err := tokens.New(tokens.Options{Region: r.region, Policy: f.pol, Keyring: f.kr, Store: f.st, SeenCacheSize: -1})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				const stored = 20
				for i := range int64(stored) {
					if out, err := f.svc.Tokenize(ctx, benchItems("email", r.j, i*benchBatch)); err != nil || out[0].Err != nil {
						b.Fatal(err, out[0].Err)
					}
				}
				var next, fresh atomic.Int64
				fresh.Store(stored * benchBatch)
				b.ResetTimer()
				cpu := cpuTime(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						items := benchItems("email", r.j, next.Add(1)%stored*benchBatch)
						if mix.every > 0 {
							for i := range items {
								if int64(i)%mix.every == 0 {
									items[i] = benchItems("email", r.j, fresh.Add(1))[0]
								}
							}
						}
						out, err := svc.Tokenize(ctx, items)
						if err != nil || out[0].Err != nil {
							b.Fatal(err, out[0].Err)
						}
					}
				})
				cpu = cpuTime(b) - cpu
				b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "tokens/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*benchBatch), "cpu-µs/token")
			})
		}
		b.Run(r.name+"/deterministic-repeat", func(b *testing.B) {
			f := newFixture(b, r.region, "")
			items := benchItems("email", r.j, 0)
			ctx := context.Background()
			if _, err := f.svc.Tokenize(ctx, items); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.svc.Tokenize(ctx, items); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// cpuTime is the user and system CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDetokenize runs Detokenize in batches of 100 from parallel
// clients over tokens made beforehand, and reports tokens/s.
func BenchmarkDetokenize(b *testing.B) {
	for _, r := range benchRegions {
		for _, k := range benchKinds {
			b.Run(r.name+"/"+k.kind, func(b *testing.B) {
				f := newFixture(b, r.region, "")
				ctx := context.Background()
				const nBatches = 20
				batches := make([][]tokens.DItem, nBatches)
				for i := range batches {
					out, err := f.svc.Tokenize(ctx, benchItems(k.field, r.j, int64(i*benchBatch)))
					if err != nil {
						b.Fatal(err)
					}
					batches[i] = make([]tokens.DItem, len(out))
					for j, o := range out {
						if o.Err != nil {
							b.Fatal(o.Err)
						}
						batches[i][j] = tokens.DItem{Token: o.Token, Collection: "customers", Field: k.field}
					}
				}
				var next atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						out, err := f.svc.Detokenize(ctx, batches[next.Add(1)%nBatches])
						if err != nil || out[0].Err != nil {
							b.Fatal(err, out[0].Err)
						}
					}
				})
				b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}

// BenchmarkRaw measures the primitives alone, per value, in the same run:
// FF1 through the E.164 format over each suite's block cipher, and the
// suite MAC over a short message (as a deterministic token computes it).
func BenchmarkRaw(b *testing.B) {
	for _, s := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		key := make([]byte, s.BlockKeySize())
		rand.Read(key)
		blk, err := s.Block(key)
		if err != nil {
			b.Fatal(err)
		}
		c, err := ff1.New(blk, 10, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(s.ID())+"/ff1-e164", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := (format.E164{}).Encrypt(c, nil, "+8613800138000"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
		b.Run(string(s.ID())+"/mac", func(b *testing.B) {
			macKey := make([]byte, s.MAC().Size())
			msg := []byte("\x09customers\x05email\x13user.1@example.com")
			b.RunParallel(func(pb *testing.PB) {
				h := s.MAC().New(macKey)
				var sum []byte
				for pb.Next() {
					h.Reset()
					h.Write(msg)
					sum = h.Sum(sum[:0])
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}
