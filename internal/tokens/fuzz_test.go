package tokens_test

import (
	"context"
	"errors"
	"testing"

	"github.com/domicile/domicile/internal/tokens"
)

// FuzzDetokenize feeds arbitrary tokens, with and without a field, to a
// service: it must never panic, and every failure must be an *Error with a
// code.
func FuzzDetokenize(f *testing.F) {
	fx := newFixture(f, "cn-north", "")
	rs := tokenize(f, fx.svc,
		tokens.Item{Collection: "customers", Field: "passport", Value: "E1", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "email", Value: "a@b.cn", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "phone", Value: "+8613800138000", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "national_id", Value: "11010519491231002X", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "card", Value: "4111111111111111", Jurisdiction: "CN"},
	)
	fields := []string{"", "passport", "email", "phone", "national_id", "card", "member_no", "name"}
	for i, r := range rs {
		f.Add(r.Token, uint8(i+1), uint8(0))
	}
	f.Add("tkd_cn-north_v1_", uint8(0), uint8(1))
	f.Add("+86", uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, tok string, field, version uint8) {
		it := tokens.DItem{Token: tok, KeyVersion: uint32(version % 4)}
		if fl := fields[int(field)%len(fields)]; fl != "" {
			it.Collection, it.Field = "customers", fl
		}
		out, err := fx.svc.Detokenize(context.Background(), []tokens.DItem{it})
		if err != nil {
			t.Fatal(err)
		}
		if d := out[0]; d.Err != nil {
			var e *tokens.Error
			if !errors.As(d.Err, &e) || e.Code == "" {
				t.Fatalf("untyped error %v", d.Err)
			}
			if e.Code == tokens.CodeInternal || e.Code == tokens.CodeIntegrity {
				t.Fatalf("server-side error for caller input: %v", d.Err)
			}
		}
	})
}
