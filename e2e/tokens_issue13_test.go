package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// tokenCodes detokenizes items with c and returns, per item, "ok:VALUE" or
// its error code.
func tokenCodes(t *testing.T, c *client.Client, items []client.DetokenizeItem) []string {
	t.Helper()
	res, err := c.Detokenize(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(res.Results))
	for i, r := range res.Results {
		if r.Error != nil {
			out[i] = r.Error.Code
		} else {
			out[i] = "ok:" + r.Value
		}
	}
	return out
}

// TestErasureReachesEveryToken checks issue 13, item 1, end to end: after
// DELETE /v1/subjects/{subject}, no token of the subject detokenizes, of
// any kind: those of its records (the fpe phone token included) and those
// of stand-alone tokenizes that named it. A stand-alone token without a
// subject still works, and fpe phone tokens are valid numbers.
func TestErasureReachesEveryToken(t *testing.T) {
	s := startDev(t, t.TempDir(), nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	out, err := admin.Create(ctx, []client.NewRecord{cnCustomer}, "")
	if err != nil {
		t.Fatal(err)
	}
	var items []client.DetokenizeItem
	for _, ft := range out.Records[0].Tokens {
		it := client.DetokenizeItem{Token: ft.Token}
		if ft.Kind == "fpe" {
			it = client.DetokenizeItem{Token: ft.Token, Jurisdiction: "CN", Collection: "customers", Field: ft.Field, KeyVersion: ft.KeyVersion}
		}
		items = append(items, it)
	}
	if len(items) != 3 {
		t.Fatalf("record tokens: %+v", out.Records[0].Tokens)
	}
	// Stand-alone tokens bound to the subject, and one bound to nobody.
	vals := []client.TokenizeItem{
		{Collection: "customers", Field: "phone", Value: "+86 139 1234 5678", Jurisdiction: "CN", Subject: cnCustomer.Subject},
		{Collection: "customers", Field: "email", Value: "other.zhang@example.com", Jurisdiction: "CN", Subject: cnCustomer.Subject},
		{Collection: "customers", Field: "national_id", Value: "11010519491231002X", Jurisdiction: "CN", Subject: cnCustomer.Subject},
		{Collection: "customers", Field: "phone", Value: "+86 137 0000 1111", Jurisdiction: "CN"},
	}
	tr, err := admin.Tokenize(ctx, vals)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range tr.Results {
		if r.Error != nil {
			t.Fatalf("tokenize item %d: %+v", i, r.Error)
		}
		it := client.DetokenizeItem{Token: r.Token}
		if r.Kind == "fpe" {
			it = client.DetokenizeItem{Token: r.Token, Jurisdiction: "CN", Collection: "customers", Field: vals[i].Field, KeyVersion: r.KeyVersion}
		}
		items = append(items, it)
	}
	dpo := s.principal(t, "dpo-cn", "CN", "dpo").ForPurpose("dsr")
	for i, got := range tokenCodes(t, dpo, items) {
		if got[:3] != "ok:" {
			t.Fatalf("before erasure, item %d: %s", i, got)
		}
	}
	if _, err := admin.EraseSubject(ctx, cnCustomer.Subject); err != nil {
		t.Fatal(err)
	}
	got := tokenCodes(t, dpo, items)
	for i := 0; i < 6; i++ {
		if got[i] != "subject_erased" && got[i] != "token_not_found" {
			t.Errorf("after erasure, token %d of the subject: %s, want subject_erased or token_not_found", i, got[i])
		}
	}
	if got[6] != "ok:+8613700001111" {
		t.Errorf("after erasure, the token made without a subject: %s, want its value", got[6])
	}
	// Bad input is still a 4xx item error, and an over-long subject too.
	tr, err = admin.Tokenize(ctx, []client.TokenizeItem{{Collection: "customers", Field: "phone", Value: "+86 139 1234 5678", Jurisdiction: "CN", Subject: string(make([]byte, 300))}})
	if err != nil {
		t.Fatal(err)
	}
	if e := tr.Results[0].Error; e == nil || e.Code != "invalid_subject" {
		t.Errorf("tokenize with a 300-byte subject: %+v", tr.Results[0])
	}
}

// TestFPEPhoneTokensAreValidNumbers checks issue 13, item 1: fpe phone
// tokens pass Domicile's own phone validation, for every country.
func TestFPEPhoneTokensAreValidNumbers(t *testing.T) {
	s := startDev(t, t.TempDir(), nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	phones := map[string][]string{
		"CN": {"+86 138 0013 8000", "+86 139 1234 5678", "+86 10 6552 9988", "+86 21 5012 3456", "+86 186 0000 0001"},
		"US": {"+1 202-555-0143", "+1 415 555 2671", "+1 212 736 5000", "+1 650 253 0000"},
		"DE": {"030 1234567", "+49 151 23456789", "+49 89 12345678"},
		"GB": {"+44 20 7946 0958", "+44 7911 123456", "+44 161 496 0000"},
		"RU": {"+7 495 123-45-67", "+7 912 345 67 89"},
	}
	for j, list := range phones {
		var items []client.TokenizeItem
		for _, p := range list {
			items = append(items, client.TokenizeItem{Collection: "customers", Field: "phone", Value: p, Jurisdiction: j})
		}
		tr, err := admin.Tokenize(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range tr.Results {
			if r.Error != nil {
				t.Errorf("%s %d: %+v", j, i, r.Error)
				continue
			}
			if n, err := normalize.NormalizePhone(r.Token, ""); err != nil || n != r.Token {
				t.Errorf("%s: the fpe token %s of a valid number is not a valid number (%v)", j, r.Token, err)
			}
			if want, _ := normalize.NormalizePhone(list[i], j); r.Token == want {
				t.Errorf("%s: the token is the value", j)
			}
		}
	}
}

// TestDeterministicFirstSubmissionWins checks issue 13, item 2: a later
// submission of the same value in another spelling, stand-alone or in a
// record, concurrent too, never changes what a deterministic token
// detokenizes to.
func TestDeterministicFirstSubmissionWins(t *testing.T) {
	s := startDev(t, t.TempDir(), nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	dpo := s.principal(t, "dpo-cn", "CN", "dpo").ForPurpose("dsr")
	email := func(v string) client.TokenizeItem {
		return client.TokenizeItem{Collection: "customers", Field: "email", Value: v, Jurisdiction: "CN"}
	}
	// Stand-alone, then stand-alone.
	first, err := admin.Tokenize(ctx, []client.TokenizeItem{email("Mixed.Case@Example.com")})
	if err != nil {
		t.Fatal(err)
	}
	later, err := admin.Tokenize(ctx, []client.TokenizeItem{email("MIXED.case@example.COM")})
	if err != nil {
		t.Fatal(err)
	}
	tok := first.Results[0].Token
	if later.Results[0].Token != tok {
		t.Fatal("the same e-mail in another case got another token")
	}
	if got := tokenCodes(t, dpo, []client.DetokenizeItem{{Token: tok}}); got[0] != "ok:Mixed.Case@Example.com" {
		t.Errorf("stand-alone then stand-alone: %s, want the value as first submitted", got[0])
	}
	// A record, then a stand-alone tokenize and another record.
	rec := cnCustomer
	rec.Fields = map[string]string{"name": "张伟", "email": "Record.First@Example.com"}
	out, err := admin.Create(ctx, []client.NewRecord{rec}, "")
	if err != nil {
		t.Fatal(err)
	}
	tok = out.Records[0].Tokens[0].Token
	if _, err := admin.Tokenize(ctx, []client.TokenizeItem{email("RECORD.FIRST@example.com")}); err != nil {
		t.Fatal(err)
	}
	rec2 := rec
	rec2.Subject, rec2.Fields = "cust-other", map[string]string{"name": "x", "email": "record.first@EXAMPLE.com"}
	if _, err := admin.Create(ctx, []client.NewRecord{rec2}, ""); err != nil {
		t.Fatal(err)
	}
	if got := tokenCodes(t, dpo, []client.DetokenizeItem{{Token: tok}}); got[0] != "ok:Record.First@Example.com" {
		t.Errorf("record then stand-alone and record: %s, want the value as first submitted", got[0])
	}
	// Concurrent first submissions of one value in two spellings, by
	// records and stand-alone: every later answer is the same one.
	spellings := []string{"Race.Value@example.com", "RACE.value@EXAMPLE.com"}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			v := spellings[i%2]
			if i%4 >= 2 {
				r := rec
				r.Subject, r.Fields = fmt.Sprintf("racer-%d", i), map[string]string{"name": "x", "email": v}
				if _, err := admin.Create(ctx, []client.NewRecord{r}, ""); err != nil {
					t.Error(err)
				}
				return
			}
			if res, err := admin.Tokenize(ctx, []client.TokenizeItem{email(v)}); err != nil || res.Results[0].Error != nil {
				t.Errorf("concurrent tokenize: %v %+v", err, res)
			}
		})
	}
	wg.Wait()
	res, err := admin.Tokenize(ctx, []client.TokenizeItem{email("race.value@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	got := tokenCodes(t, dpo, []client.DetokenizeItem{{Token: res.Results[0].Token}})[0]
	if got != "ok:"+spellings[0] && got != "ok:"+spellings[1] {
		t.Fatalf("after concurrent submissions: %s", got)
	}
	for _, v := range []string{"race.VALUE@example.com", spellings[0], spellings[1]} {
		r := rec
		r.Subject, r.Fields = "late-"+v, map[string]string{"name": "x", "email": v}
		if _, err := admin.Create(ctx, []client.NewRecord{r}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Tokenize(ctx, []client.TokenizeItem{email(v)}); err != nil {
			t.Fatal(err)
		}
		if again := tokenCodes(t, dpo, []client.DetokenizeItem{{Token: res.Results[0].Token}})[0]; again != got {
			t.Fatalf("the answer changed from %s to %s", got, again)
		}
	}
}

// TestIdempotentReplayKeepsTokens checks issue 13, item 7: a replay of
// POST /v1/records with the same Idempotency-Key returns the first answer,
// tokens included.
func TestIdempotentReplayKeepsTokens(t *testing.T) {
	s := startDev(t, t.TempDir(), nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	first, err := admin.Create(ctx, []client.NewRecord{cnCustomer}, "replay-key-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := admin.Create(ctx, []client.NewRecord{cnCustomer}, "replay-key-1")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Records[0].ID != first.Records[0].ID {
		t.Fatalf("replay: %+v, want the first answer", again)
	}
	if len(first.Records[0].Tokens) != 3 || fmt.Sprint(again.Records[0].Tokens) != fmt.Sprint(first.Records[0].Tokens) {
		t.Fatalf("replayed tokens %+v, want %+v", again.Records[0].Tokens, first.Records[0].Tokens)
	}
}

// TestPostgresErasureFPEAcrossNodes checks issue 13, item 1, where the
// state is shared: two nodes of eu-central on one PostgreSQL database. A
// phone token made on one node (by a record, and by a stand-alone
// tokenize naming the subject) detokenizes on the other until the subject
// is erased through the first, then on neither.
func TestPostgresErasureFPEAcrossNodes(t *testing.T) {
	db := pgtest.NewDatabase(t)
	a := startProc(t, nodeEnv("eu-central"), serveArgs("eu-central", db)...)
	b := startProc(t, nodeEnv("eu-central"), serveArgs("eu-central", db)...)
	ca, cb := splitClient(t, a), splitClient(t, b)
	ctx := context.Background()
	rec := client.NewRecord{Collection: "customers", Subject: "eu-subject-1", Jurisdiction: "DE",
		Fields: map[string]string{"name": "Jürgen Müller", "email": "Juergen@Example.com", "phone": "030 1234567"}}
	out, err := ca.Create(ctx, []client.NewRecord{rec}, "")
	if err != nil {
		t.Fatal(err)
	}
	var items []client.DetokenizeItem
	for _, ft := range out.Records[0].Tokens {
		if ft.Kind == "fpe" {
			items = append(items, client.DetokenizeItem{Token: ft.Token, Region: "eu-central", Collection: "customers", Field: ft.Field, KeyVersion: ft.KeyVersion})
		}
	}
	tr, err := cb.Tokenize(ctx, []client.TokenizeItem{{Collection: "customers", Field: "phone", Value: "+49 151 23456789", Jurisdiction: "DE", Subject: rec.Subject}})
	if err != nil || tr.Results[0].Error != nil {
		t.Fatalf("tokenize: %v %+v", err, tr)
	}
	items = append(items, client.DetokenizeItem{Token: tr.Results[0].Token, Region: "eu-central", Collection: "customers", Field: "phone", KeyVersion: tr.Results[0].KeyVersion})
	if len(items) != 2 {
		t.Fatalf("tokens %+v", out.Records[0].Tokens)
	}
	for _, c := range []*client.Client{ca, cb} {
		got := tokenCodes(t, c, items)
		if got[0] != "ok:+49301234567" || got[1] != "ok:+4915123456789" {
			t.Fatalf("before erasure: %v", got)
		}
	}
	if _, err := ca.EraseSubject(ctx, rec.Subject); err != nil {
		t.Fatal(err)
	}
	for n, c := range []*client.Client{cb, ca} {
		for i, got := range tokenCodes(t, c, items) {
			if got != "subject_erased" && got != "token_not_found" {
				t.Errorf("node %d after erasure, token %d: %s", n, i, got)
			}
		}
	}
}
