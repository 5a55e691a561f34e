package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
)

// TestTokens checks issue 5 end to end: tokens come back on create, a
// deterministic token is the same for the same value, an fpe phone keeps
// its shape, and detokenize goes through the access decision: clear only
// for a principal, purpose and location the policy allows; a US support
// agent's detokenize of a CN value is refused; malformed tokens are item
// errors, never 500s. Search finds records whatever the input's format.
func TestTokens(t *testing.T) {
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	rec := cnCustomer
	out, err := admin.Create(ctx, []client.NewRecord{rec}, "")
	if err != nil {
		t.Fatal(err)
	}
	toks := map[string]client.FieldToken{}
	for _, ft := range out.Records[0].Tokens {
		toks[ft.Field] = ft
	}
	if !strings.HasPrefix(toks["email"].Token, "tkd_cn-north_v1_") || toks["email"].Kind != "deterministic" {
		t.Fatalf("email token %+v", toks["email"])
	}
	if !strings.HasPrefix(toks["national_id"].Token, "tkr_cn-north_") {
		t.Fatalf("national id token %+v", toks["national_id"])
	}
	phone := toks["phone"].Token
	if !strings.HasPrefix(phone, "+86") || len(phone) != len("+8613800138000") || phone == "+8613800138000" {
		t.Fatalf("fpe phone token %q does not keep the E.164 shape", phone)
	}
	// The same e-mail of another subject gets the same token.
	rec2 := rec
	rec2.Subject = "cust-other"
	out2, err := admin.Create(ctx, []client.NewRecord{rec2}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ft := range out2.Records[0].Tokens {
		if ft.Field == "email" && ft.Token != toks["email"].Token {
			t.Errorf("deterministic token differs for the same value")
		}
	}

	items := []client.DetokenizeItem{
		{Token: toks["email"].Token},
		{Token: phone, Jurisdiction: "CN", Collection: "customers", Field: "phone"},
		{Token: toks["national_id"].Token},
		{Token: "tkr_cn-north_notatokenatall"},
		{Token: "no-region-fpe-token"},
	}
	want := func(c *client.Client, codes ...string) {
		t.Helper()
		res, err := c.Detokenize(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.Results {
			got := "ok"
			if r.Error != nil {
				got = r.Error.Code
			}
			if got != codes[i] {
				t.Errorf("item %d: %s (%+v), want %s", i, got, r.Error, codes[i])
			}
		}
	}
	// A data protection officer in China, for a data subject request: all clear.
	dpo := s.principal(t, "dpo-cn", "CN", "dpo").ForPurpose("dsr")
	res, err := dpo.Detokenize(ctx, items[:3])
	if err != nil {
		t.Fatal(err)
	}
	if res.Results[0].Value != rec.Fields["email"] || res.Results[1].Value != "+8613800138000" || res.Results[2].Value != rec.Fields["national_id"] {
		t.Errorf("dpo detokenized %+v", res.Results)
	}
	// A CN support agent: phone in clear, e-mail masked by the role, no
	// national id.
	want(s.principal(t, "sup-cn", "CN", "support").ForPurpose("support"),
		"clear_access_required", "ok", "permission_denied", "malformed_token", "token_needs_region")
	// A US support agent: the phone would leave China: refused.
	want(s.principal(t, "sup-us", "US", "support").ForPurpose("support"),
		"clear_access_required", "transfer_required", "permission_denied", "malformed_token", "token_needs_region")
	// Analytics may not detokenize at all.
	want(s.principal(t, "ana", "CN", "analytics"),
		"permission_denied", "permission_denied", "permission_denied", "malformed_token", "token_needs_region")

	// Malformed requests are 400s.
	status, _, _ := s.do(t, http.MethodPost, "/v1/detokenize", s.Token, []byte(`{"items":[{"token":1}]}`))
	if status != http.StatusBadRequest {
		t.Errorf("malformed detokenize: %d", status)
	}
	// Tokenize of a stand-alone value, and a field without a token kind.
	tr, err := admin.Tokenize(ctx, []client.TokenizeItem{
		{Collection: "customers", Field: "email", Value: "ZHANG.WEI@example.com ", Jurisdiction: "CN"},
		{Collection: "customers", Field: "name", Value: "x", Jurisdiction: "CN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Results[0].Token != toks["email"].Token {
		t.Errorf("tokenize of the same e-mail in another case gave another token")
	}
	if tr.Results[1].Error == nil || tr.Results[1].Error.Code != "field_not_tokenized" {
		t.Errorf("tokenize of a field without a token kind: %+v", tr.Results[1])
	}
	// Search by e-mail and phone whatever the format, through the gateway.
	for _, q := range []client.SearchRequest{
		{Field: "email", Value: " ZHANG.Wei@EXAMPLE.com"},
		{Field: "phone", Value: "138-0013-8000", Jurisdiction: "CN"},
		{Field: "phone", Value: "+86 (138) 0013 8000"},
	} {
		p, err := admin.Search(ctx, "customers", q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 2 {
			t.Errorf("search %+v found %d records, want 2", q, len(p.Records))
		}
	}
}
