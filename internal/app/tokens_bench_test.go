package app

import (
	"context"
	"crypto/aes"
	"fmt"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/token/ff1"
)

// BenchmarkTokens measures tokenize and detokenize batches of 100 over HTTP
// through the gateway, next to raw FF1 over AES-256 and raw HMAC-SHA256 in
// the same run. Tokenize runs at 8 and 64 clients: tokens/s at 64 must not
// fall below 8's (issue 19's collapse, when conditional writes of unrelated
// keys waited for each other's fsync):
//
//	go test ./internal/app -run '^$' -bench Tokens -benchtime 400x
//
// ops/s of the HTTP rows are batches; tokens/s is 100 times that.
func BenchmarkTokens(b *testing.B) {
	const batch = 100
	b.Run("raw-ff1-aes256", func(b *testing.B) {
		blk, _ := aes.NewCipher(make([]byte, 32))
		c, err := ff1.New(blk, 10, nil)
		if err != nil {
			b.Fatal(err)
		}
		digits := make([]uint16, 10)
		for b.Loop() {
			if _, err := c.Encrypt(digits); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-hmac-sha256", func(b *testing.B) {
		mac := suite.IntlSuite().MAC()
		key := make([]byte, 32)
		msg := []byte("customers\x00email\x00someone@example.com")
		for b.Loop() {
			mac.Sum(key, msg)
		}
	})
	for _, kind := range []struct{ field, prefix, value string }{
		{"email", "deterministic", "user%d-%d@example.com"},
		{"phone", "fpe", "+1202555%04d"},
	} {
		for _, clients := range []int{8, 64} {
			b.Run(fmt.Sprintf("http/tokenize/%s/clients=%d", kind.prefix, clients), func(b *testing.B) {
				e := newBenchEnv(b, "us-east", "US")
				c, err := client.New(e.url, e.token)
				if err != nil {
					b.Fatal(err)
				}
				runClients(b, clients, func(i int) error {
					items := make([]client.TokenizeItem, batch)
					for j := range items {
						v := fmt.Sprintf(kind.value, (i*batch+j)%10000)
						if kind.field == "email" {
							v = fmt.Sprintf(kind.value, i, j)
						}
						items[j] = client.TokenizeItem{Collection: "customers", Field: kind.field, Value: v, Jurisdiction: "US"}
					}
					out, err := c.Tokenize(context.Background(), items)
					if err != nil {
						return err
					}
					if out.Results[0].Error != nil {
						return fmt.Errorf("tokenize: %+v", out.Results[0].Error)
					}
					return nil
				})
				b.ReportMetric(b.Elapsed().Seconds(), "s")
			})
		}
		b.Run("http/detokenize/"+kind.prefix+"/clients=8", func(b *testing.B) {
			e := newBenchEnv(b, "us-east", "US")
			c, err := client.New(e.url, e.token, client.WithPurpose("support"))
			if err != nil {
				b.Fatal(err)
			}
			items := make([]client.TokenizeItem, batch)
			for j := range items {
				v := fmt.Sprintf(kind.value, j)
				if kind.field == "email" {
					v = fmt.Sprintf(kind.value, 0, j)
				}
				items[j] = client.TokenizeItem{Collection: "customers", Field: kind.field, Value: v, Jurisdiction: "US"}
			}
			out, err := c.Tokenize(context.Background(), items)
			if err != nil {
				b.Fatal(err)
			}
			ditems := make([]client.DetokenizeItem, batch)
			for j, r := range out.Results {
				ditems[j] = client.DetokenizeItem{Token: r.Token, Region: "us-east", Collection: "customers", Field: kind.field}
			}
			runClients(b, 8, func(i int) error {
				res, err := c.Detokenize(context.Background(), ditems)
				if err != nil {
					return err
				}
				if res.Results[0].Error != nil {
					return fmt.Errorf("detokenize: %+v", res.Results[0].Error)
				}
				return nil
			})
		})
	}
}
