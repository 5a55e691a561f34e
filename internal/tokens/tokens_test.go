package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/token/format"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

type sample struct {
	field, value, jurisdiction string
	// back is what detokenize returns ("" means value itself).
	back string
}

func samples(region string) []sample {
	if region == "cn-north" {
		return []sample{
			{"email", "Wang.Wei@Example.cn", "CN", ""},
			{"phone", "+86 138 0013 8000", "CN", "+8613800138000"},
			{"national_id", "11010519491231002x", "CN", "11010519491231002X"},
			{"passport", "E12345678", "CN", ""},
			{"card", "6222020012345671", "CN", ""},
			{"member_no", "1234 5678 9012", "CN", ""},
		}
	}
	return []sample{
		{"email", "Ana@Example.com", "US", ""},
		{"phone", "+1 650-253-0000", "US", "+16502530000"},
		{"national_id", "11010519491231002X", "BR", ""},
		{"passport", "X9876543", "DE", ""},
		{"card", "4111111111111111", "US", ""},
		{"member_no", "000-111-222", "GB", ""},
	}
}

// TestRoundTrip tokenizes and detokenizes every kind on both suites (cn:
// SM4-FF1 and HMAC-SM3; intl: AES-FF1 and HMAC-SHA256) and checks the
// shapes of the tokens.
func TestRoundTrip(t *testing.T) {
	for _, region := range []string{"cn-north", "us-east"} {
		t.Run(region, func(t *testing.T) {
			f := newFixture(t, region, "")
			for _, s := range samples(region) {
				t.Run(s.field, func(t *testing.T) {
					r := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: s.field, Value: s.value, Jurisdiction: s.jurisdiction})[0]
					mustOK(t, r.Err)
					if r.KeyVersion != 1 {
						t.Errorf("KeyVersion = %d", r.KeyVersion)
					}
					checkShape(t, region, s, r)
					d := detokenize(t, f.svc, tokens.DItem{Token: r.Token, Collection: "customers", Field: s.field})[0]
					mustOK(t, d.Err)
					want := s.back
					if want == "" {
						want = s.value
					}
					if d.Value != want || d.Collection != "customers" || d.Field != s.field || d.Kind != r.Kind {
						t.Fatalf("detokenize = %+v, want value %q", d, want)
					}
					if r.Kind != tokens.KindFPE {
						if d.Jurisdiction != s.jurisdiction {
							t.Errorf("jurisdiction %q, want %q", d.Jurisdiction, s.jurisdiction)
						}
						// Random and deterministic tokens need no field.
						d2 := detokenize(t, f.svc, tokens.DItem{Token: r.Token})[0]
						if d2.Err != nil || d2.Value != want {
							t.Fatalf("detokenize without field = %+v", d2)
						}
					}
				})
			}
		})
	}
}

func checkShape(t *testing.T, region string, s sample, r tokens.Result) {
	t.Helper()
	switch s.field {
	case "email":
		tok, err := tokfmt.Parse(r.Token)
		if err != nil || tok.Kind != tokfmt.Deterministic || tok.Region != region || tok.Version != 1 {
			t.Fatalf("deterministic token %q: %+v, %v", r.Token, tok, err)
		}
	case "passport":
		tok, err := tokfmt.Parse(r.Token)
		if err != nil || tok.Kind != tokfmt.Random || tok.Region != region {
			t.Fatalf("random token %q: %+v, %v", r.Token, tok, err)
		}
	case "phone":
		norm := s.back
		cc, err := format.SplitE164(r.Token)
		if err != nil || len(r.Token) != len(norm) || r.Token[:1+cc] != norm[:1+cc] || r.Token == norm {
			t.Fatalf("fpe phone %q of %q: not E.164 with the same country code (%v)", r.Token, norm, err)
		}
	case "national_id":
		if err := format.ValidCNResidentID(r.Token); err != nil || r.Token == strings.ToUpper(s.value) {
			t.Fatalf("fpe national id %q: %v", r.Token, err)
		}
	case "card":
		if !format.Luhn(r.Token) || len(r.Token) != len(s.value) || r.Token[len(r.Token)-4:] != s.value[len(s.value)-4:] || r.Token == s.value {
			t.Fatalf("fpe card %q: not Luhn-valid with the last four kept", r.Token)
		}
	case "member_no":
		if len(r.Token) != len(s.value) || r.Token == s.value {
			t.Fatalf("fpe digits %q", r.Token)
		}
		for i := range r.Token {
			if (s.value[i] >= '0' && s.value[i] <= '9') != (r.Token[i] >= '0' && r.Token[i] <= '9') {
				t.Fatalf("fpe digits %q does not keep the separators of the value", r.Token)
			}
		}
	}
}

// TestDeterministicStable checks that a deterministic token depends only on
// the normalised value and survives a restart.
func TestDeterministicStable(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, "cn-north", dir)
	rs := tokenize(t, f.svc,
		tokens.Item{Collection: "customers", Field: "email", Value: "Wang.Wei@Example.CN", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "email", Value: "  wang.wei@example.cn ", Jurisdiction: "cn"},
		tokens.Item{Collection: "customers", Field: "email", Value: "li.na@example.cn", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "phone", Value: "+86 138 0013 8000", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "phone", Value: "138-0013-8000", Jurisdiction: "CN"},
	)
	for _, r := range rs {
		mustOK(t, r.Err)
	}
	if rs[0].Token != rs[1].Token {
		t.Fatal("case and spacing changed the deterministic token")
	}
	if rs[0].Token == rs[2].Token {
		t.Fatal("two values share a deterministic token")
	}
	if rs[3].Token != rs[4].Token {
		t.Fatal("phone format changed the fpe token")
	}
	f.close()

	g := newFixture(t, "cn-north", dir)
	again := tokenize(t, g.svc, tokens.Item{Collection: "customers", Field: "email", Value: "WANG.WEI@EXAMPLE.CN", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "phone", Value: "+8613800138000", Jurisdiction: "CN"})
	if again[0].Token != rs[0].Token || again[1].Token != rs[3].Token {
		t.Fatal("tokens changed across a restart")
	}
	d := detokenize(t, g.svc, tokens.DItem{Token: rs[0].Token}, tokens.DItem{Token: rs[3].Token, Collection: "customers", Field: "phone"})
	// The deterministic entry keeps the value as first submitted.
	if d[0].Err != nil || d[0].Value != "Wang.Wei@Example.CN" {
		t.Fatalf("detokenize after restart = %+v", d[0])
	}
	if d[1].Err != nil || d[1].Value != "+8613800138000" {
		t.Fatalf("fpe detokenize after restart = %+v", d[1])
	}
	// A field with the same value gets another token: the MAC covers the
	// collection and field.
	o := tokenize(t, g.svc, tokens.Item{Collection: "customers", Field: "email", Value: "Wang.Wei@Example.CN", Jurisdiction: "CN"})
	if o[0].Token != rs[0].Token {
		t.Fatal("a cached entry changed the token")
	}
}

// TestRegions checks that tokens detokenize only in their region.
func TestRegions(t *testing.T) {
	cn := newFixture(t, "cn-north", "")
	us := newFixture(t, "us-east", "")
	rs := tokenize(t, cn.svc,
		tokens.Item{Collection: "customers", Field: "passport", Value: "E12345678", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "email", Value: "a@b.cn", Jurisdiction: "CN"},
		tokens.Item{Collection: "customers", Field: "phone", Value: "+8613800138000", Jurisdiction: "CN"},
		// A US subject's value is not tokenized in cn-north.
		tokens.Item{Collection: "customers", Field: "email", Value: "a@b.com", Jurisdiction: "US"},
	)
	for _, r := range rs[:3] {
		mustOK(t, r.Err)
	}
	wantCode(t, rs[3].Err, tokens.CodeWrongRegion)
	d := detokenize(t, us.svc,
		tokens.DItem{Token: rs[0].Token},
		tokens.DItem{Token: rs[1].Token},
		tokens.DItem{Token: rs[2].Token, Collection: "customers", Field: "phone"},
	)
	wantCode(t, d[0].Err, tokens.CodeWrongRegion)
	wantCode(t, d[1].Err, tokens.CodeWrongRegion)
	// An fpe token names no region: another region's key gives another
	// (well-formed) number, never the value.
	if d[2].Err == nil && d[2].Value == "+8613800138000" {
		t.Fatal("a cn-north fpe token detokenized in us-east")
	}
	// A random token id rewritten to name us-east is not found there.
	forged := strings.Replace(rs[0].Token, "cn-north", "us-east", 1)
	wantCode(t, detokenize(t, us.svc, tokens.DItem{Token: forged})[0].Err, tokens.CodeNotFound)
	forgedDet := strings.Replace(rs[1].Token, "cn-north", "us-east", 1)
	wantCode(t, detokenize(t, us.svc, tokens.DItem{Token: forgedDet})[0].Err, tokens.CodeNotFound)
}

// TestRotation checks that tokens of an old key version keep working after
// a rotation and stop at retirement.
func TestRotation(t *testing.T) {
	for _, region := range []string{"cn-north", "us-east"} {
		t.Run(region, func(t *testing.T) {
			f := newFixture(t, region, "")
			ctx := context.Background()
			items := []tokens.Item{
				{Collection: "customers", Field: "email", Value: "ana@example.com", Jurisdiction: "CN"},
				{Collection: "customers", Field: "national_id", Value: "11010519491231002X", Jurisdiction: "CN"},
				{Collection: "customers", Field: "passport", Value: "E12345678", Jurisdiction: "CN"},
			}
			if region == "us-east" {
				for i := range items {
					items[i].Jurisdiction = "US"
				}
			}
			v1 := tokenize(t, f.svc, items...)
			for _, r := range v1 {
				mustOK(t, r.Err)
			}
			v, err := f.kr.Rotate(ctx, keyring.Token)
			mustOK(t, err)
			if v != 2 {
				t.Fatalf("rotated to v%d", v)
			}
			v2 := tokenize(t, f.svc, items...)
			for i, r := range v2 {
				mustOK(t, r.Err)
				if r.KeyVersion != 2 {
					t.Fatalf("item %d: new token of version %d", i, r.KeyVersion)
				}
			}
			if v2[0].Token == v1[0].Token || !strings.Contains(v2[0].Token, "_v2_") {
				t.Fatalf("deterministic token after rotation: %q (was %q)", v2[0].Token, v1[0].Token)
			}
			if v2[1].Token == v1[1].Token {
				t.Fatal("fpe token unchanged by rotation")
			}
			old := []tokens.DItem{
				{Token: v1[0].Token},
				{Token: v1[1].Token, Collection: "customers", Field: "national_id", KeyVersion: 1},
				{Token: v1[2].Token},
			}
			for i, d := range detokenize(t, f.svc, old...) {
				if d.Err != nil || d.Value != items[i].Value || d.KeyVersion != 1 {
					t.Fatalf("v1 token %d after rotation: %+v", i, d)
				}
			}
			// Without its version an old fpe token decrypts under v2 to
			// some other value.
			if d := detokenize(t, f.svc, tokens.DItem{Token: v1[1].Token, Collection: "customers", Field: "national_id"})[0]; d.Err == nil && d.Value == items[1].Value {
				t.Fatal("v1 fpe token opened under v2")
			}
			mustOK(t, f.kr.Retire(ctx, keyring.Token, 1))
			for _, d := range detokenize(t, f.svc, old...) {
				wantCode(t, d.Err, tokens.CodeRetired)
			}
			for i, d := range detokenize(t, f.svc, tokens.DItem{Token: v2[0].Token}, tokens.DItem{Token: v2[1].Token, Collection: "customers", Field: "national_id", KeyVersion: 2}, tokens.DItem{Token: v2[2].Token}) {
				if d.Err != nil || d.Value != items[i].Value {
					t.Fatalf("v2 token %d after retiring v1: %+v", i, d)
				}
			}
			wantCode(t, detokenize(t, f.svc, tokens.DItem{Token: v2[1].Token, Collection: "customers", Field: "national_id", KeyVersion: 9})[0].Err, tokens.CodeUnknownVersion)
		})
	}
}

// createRecord does what the vault's create will do: get the subject's
// key, add the record's token writes to the batch, apply, commit.
func createRecord(t *testing.T, f *fixture, subject, recordID string, fields map[string]string) map[string]tokens.FieldToken {
	t.Helper()
	ctx := context.Background()
	var b store.Batch
	sk, err := f.kr.SubjectKey(ctx, subject, &b)
	mustOK(t, err)
	fts, err := f.svc.TokenizeRecordFields(ctx, &b, tokens.RecordFields{Collection: "customers", RecordID: recordID, Jurisdiction: "CN",
		SubjectRef: f.kr.SubjectRef(subject), SubjectKey: sk, Fields: fields})
	mustOK(t, err)
	mustOK(t, f.st.Apply(ctx, &b))
	f.kr.Commit(sk)
	out := map[string]tokens.FieldToken{}
	for _, ft := range fts {
		out[ft.Field] = ft
	}
	return out
}

func erase(t *testing.T, f *fixture, subject string) {
	t.Helper()
	ctx := context.Background()
	var b store.Batch
	done, err := f.kr.DestroySubjectKey(ctx, subject, &b)
	mustOK(t, err)
	err = f.st.Apply(ctx, &b)
	done()
	mustOK(t, err)
}

// TestRecordTokensErasure checks record-bound tokens and what erasing
// their subject does to each kind.
func TestRecordTokensErasure(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	fields := map[string]string{"name": "王伟", "email": "Wang.Wei@Example.cn", "phone": "+86 138 0013 8000", "passport": "E12345678"}
	a := createRecord(t, f, "cust-a", "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", fields)
	if len(a) != 3 || a["name"].Token != "" {
		t.Fatalf("record tokens: %+v", a)
	}
	// Another subject holds the same e-mail address (case differs).
	b := createRecord(t, f, "cust-b", "rec_cn-north_bbbbbbbbbbbbbbbbbbbbbbbbbb", map[string]string{"email": "wang.wei@example.cn"})
	if b["email"].Token != a["email"].Token {
		t.Fatal("same value, different deterministic tokens")
	}
	// A third subject's e-mail is only theirs.
	c := createRecord(t, f, "cust-c", "rec_cn-north_cccccccccccccccccccccccccc", map[string]string{"email": "c@example.cn", "passport": "G1"})

	d := detokenize(t, f.svc, tokens.DItem{Token: a["passport"].Token}, tokens.DItem{Token: c["email"].Token})
	if d[0].Err != nil || d[0].Value != "E12345678" || d[0].RecordID != "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa" || d[0].Jurisdiction != "CN" {
		t.Fatalf("record random token: %+v", d[0])
	}
	if d[1].Err != nil || d[1].Value != "c@example.cn" {
		t.Fatalf("record deterministic token: %+v", d[1])
	}

	erase(t, f, "cust-a")
	erase(t, f, "cust-c")
	d = detokenize(t, f.svc,
		tokens.DItem{Token: a["passport"].Token},
		tokens.DItem{Token: a["email"].Token},
		tokens.DItem{Token: c["email"].Token},
		tokens.DItem{Token: c["passport"].Token},
		tokens.DItem{Token: a["phone"].Token, Collection: "customers", Field: "phone", KeyVersion: a["phone"].KeyVersion},
	)
	wantCode(t, d[0].Err, tokens.CodeSubjectErased)
	// cust-b still holds the e-mail address: the shared token keeps
	// working, and opens cust-b's entry, which keeps what cust-b first
	// submitted (its own spelling). It once kept cust-a's spelling ("first
	// submission wins" across subjects), but then cust-a's value outlived
	// cust-a's erasure inside cust-b's entry; first submission wins is the
	// region entry's rule, and a subject's entry never holds another
	// subject's data.
	if d[1].Err != nil || d[1].Value != "wang.wei@example.cn" || d[1].RecordID != "rec_cn-north_bbbbbbbbbbbbbbbbbbbbbbbbbb" {
		t.Fatalf("shared deterministic token after erasing one holder: %+v", d[1])
	}
	wantCode(t, d[2].Err, tokens.CodeSubjectErased)
	wantCode(t, d[3].Err, tokens.CodeSubjectErased)
	// fpe tokens are bound to the subject too (issue 13; they were not
	// before): this erasure only destroyed the key, without
	// Service.EraseSubject, and the live entry's key generation is gone.
	wantCode(t, d[4].Err, tokens.CodeSubjectErased)
	erase(t, f, "cust-b")
	wantCode(t, detokenize(t, f.svc, tokens.DItem{Token: a["email"].Token})[0].Err, tokens.CodeSubjectErased)

	// A stand-alone tokenize of the value makes the token detokenizable
	// again: it is not bound to a subject.
	r := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: "email", Value: "WANG.WEI@example.cn", Jurisdiction: "CN"})[0]
	mustOK(t, r.Err)
	if r.Token != a["email"].Token {
		t.Fatal("stand-alone and record tokens differ")
	}
	if d := detokenize(t, f.svc, tokens.DItem{Token: r.Token})[0]; d.Err != nil || d.Value != "WANG.WEI@example.cn" || d.RecordID != "" {
		t.Fatalf("stand-alone deterministic token: %+v", d)
	}

	// A record whose subject is re-created after erasure gets working
	// tokens under the new key.
	n := createRecord(t, f, "cust-a", "rec_cn-north_dddddddddddddddddddddddddd", map[string]string{"passport": "E7"})
	if d := detokenize(t, f.svc, tokens.DItem{Token: n["passport"].Token})[0]; d.Err != nil || d.Value != "E7" {
		t.Fatalf("token of a re-created subject: %+v", d)
	}
}

// TestRecordFieldsErrors checks the record entry point's errors.
func TestRecordFieldsErrors(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	ctx := context.Background()
	var b store.Batch
	sk, err := f.kr.SubjectKey(ctx, "s", &b)
	mustOK(t, err)
	base := tokens.RecordFields{Collection: "customers", RecordID: "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", Jurisdiction: "CN", SubjectRef: f.kr.SubjectRef("s"), SubjectKey: sk}
	for _, tc := range []struct {
		name   string
		mod    func(*tokens.RecordFields)
		code   tokens.Code
		field  string
		writes bool
	}{
		{"ok/no-token-fields", func(r *tokens.RecordFields) { r.Fields = map[string]string{"name": "x"} }, "", "", false},
		{"fail/unknown-collection", func(r *tokens.RecordFields) { r.Collection = "nope" }, tokens.CodeUnknownCollection, "", false},
		{"fail/unknown-field", func(r *tokens.RecordFields) { r.Fields = map[string]string{"nope": "x"} }, tokens.CodeUnknownField, "nope", false},
		{"fail/bad-phone", func(r *tokens.RecordFields) { r.Fields = map[string]string{"phone": "not a phone"} }, tokens.CodeInvalidValue, "phone", false},
		{"fail/card-not-luhn", func(r *tokens.RecordFields) { r.Fields = map[string]string{"card": "4111111111111112"} }, tokens.CodeInvalidValue, "card", false},
		{"fail/wrong-region", func(r *tokens.RecordFields) { r.Jurisdiction = "US" }, tokens.CodeWrongRegion, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			var nb store.Batch
			_, err := f.svc.TokenizeRecordFields(ctx, &nb, r)
			if tc.code == "" {
				mustOK(t, err)
				return
			}
			wantCode(t, err, tc.code)
			var e *tokens.Error
			if errors.As(err, &e) && e.Field != tc.field {
				t.Fatalf("error field %q, want %q", e.Field, tc.field)
			}
		})
	}
}

// TestMalformed checks that bad tokens get typed errors, never a panic.
func TestMalformed(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	good := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: "passport", Value: "E1", Jurisdiction: "CN"})[0].Token
	for _, tc := range []struct {
		name string
		it   tokens.DItem
		code tokens.Code
	}{
		{"fail/empty", tokens.DItem{}, tokens.CodeNeedField},
		{"fail/garbage", tokens.DItem{Token: "hello"}, tokens.CodeNeedField},
		{"fail/bad-random", tokens.DItem{Token: "tkr_cn-north_abc"}, tokens.CodeMalformedToken},
		{"fail/bad-det-version", tokens.DItem{Token: "tkd_cn-north_v0_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, tokens.CodeMalformedToken},
		{"fail/unknown-det", tokens.DItem{Token: "tkd_cn-north_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, tokens.CodeNotFound},
		{"fail/det-unknown-version", tokens.DItem{Token: "tkd_cn-north_v7_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, tokens.CodeUnknownVersion},
		{"fail/unknown-random", tokens.DItem{Token: "tkr_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, tokens.CodeNotFound},
		{"fail/other-region", tokens.DItem{Token: "tkr_eu-central_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, tokens.CodeWrongRegion},
		{"fail/field-mismatch", tokens.DItem{Token: good, Collection: "customers", Field: "email"}, tokens.CodeFieldMismatch},
		{"fail/unknown-collection", tokens.DItem{Token: good, Collection: "x", Field: "passport"}, tokens.CodeUnknownCollection},
		{"fail/unknown-field", tokens.DItem{Token: "+8613800138000", Collection: "customers", Field: "x"}, tokens.CodeUnknownField},
		{"fail/not-tokenized", tokens.DItem{Token: "abc", Collection: "customers", Field: "name"}, tokens.CodeNotTokenized},
		{"fail/fpe-bad-shape", tokens.DItem{Token: "8613800138000", Collection: "customers", Field: "phone"}, tokens.CodeMalformedToken},
		{"fail/fpe-bad-check-char", tokens.DItem{Token: "110105194912310021", Collection: "customers", Field: "national_id"}, tokens.CodeMalformedToken},
		{"fail/fpe-too-short", tokens.DItem{Token: "+861234", Collection: "customers", Field: "phone"}, tokens.CodeMalformedToken},
		{"fail/fpe-too-long", tokens.DItem{Token: "+86" + strings.Repeat("1", 2000), Collection: "customers", Field: "phone"}, tokens.CodeMalformedToken},
		{"fail/kind-random-no-prefix", tokens.DItem{Token: "E12345678", Collection: "customers", Field: "passport"}, tokens.CodeMalformedToken},
		{"fail/fpe-unknown-version", tokens.DItem{Token: "+8613800138000", Collection: "customers", Field: "phone", KeyVersion: 3}, tokens.CodeUnknownVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := detokenize(t, f.svc, tc.it)[0]
			wantCode(t, d.Err, tc.code)
			if d.Value != "" {
				t.Fatal("value with an error")
			}
			if tc.it.Token != "" && len(tc.it.Token) > 4 && strings.Contains(d.Err.Error(), tc.it.Token) {
				t.Fatalf("error quotes the token: %v", d.Err)
			}
		})
	}
}

// TestTamper checks that entries cannot be swapped between tokens.
func TestTamper(t *testing.T) {
	f := newFixture(t, "us-east", "")
	ctx := context.Background()
	rs := tokenize(t, f.svc,
		tokens.Item{Collection: "customers", Field: "passport", Value: "P1", Jurisdiction: "US"},
		tokens.Item{Collection: "customers", Field: "passport", Value: "P2", Jurisdiction: "US"})
	t1, _ := tokfmt.Parse(rs[0].Token)
	t2, _ := tokfmt.Parse(rs[1].Token)
	e2, err := f.st.Get(ctx, append([]byte("x/r/"), t2.ID[:]...))
	mustOK(t, err)
	var b store.Batch
	b.Put(append([]byte("x/r/"), t1.ID[:]...), e2)
	mustOK(t, f.st.Apply(ctx, &b))
	wantCode(t, detokenize(t, f.svc, tokens.DItem{Token: rs[0].Token})[0].Err, tokens.CodeIntegrity)
	// Editing the clear jurisdiction of an entry is detected too.
	ent, err := tokfmt.ParseEntry(e2)
	mustOK(t, err)
	ent.Jurisdiction = "DE"
	b.Reset()
	b.Put(append([]byte("x/r/"), t2.ID[:]...), tokfmt.MarshalEntry(ent))
	mustOK(t, f.st.Apply(ctx, &b))
	wantCode(t, detokenize(t, f.svc, tokens.DItem{Token: rs[1].Token})[0].Err, tokens.CodeIntegrity)
}

// TestBatch checks a full batch with an error in every other item, and the
// batch limit.
func TestBatch(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	items := make([]tokens.Item, tokens.MaxBatch)
	want := make([]tokens.Code, len(items))
	for i := range items {
		it := tokens.Item{Collection: "customers", Jurisdiction: "CN"}
		switch i % 8 {
		case 0:
			it.Field, it.Value = "email", fmt.Sprintf("user%d@example.cn", i)
		case 1:
			it.Field, it.Value = "email", "no at sign"
			want[i] = tokens.CodeInvalidValue
		case 2:
			it.Field, it.Value = "phone", fmt.Sprintf("+86138%08d", i)
		case 3:
			it.Field, it.Value = "name", "x"
			want[i] = tokens.CodeNotTokenized
		case 4:
			it.Field, it.Value = "passport", fmt.Sprintf("E%d", i)
		case 5:
			it.Collection, it.Field, it.Value = "orders", "email", "a@b.cn"
			want[i] = tokens.CodeUnknownCollection
		case 6:
			it.Field, it.Value = "email", "a@b.de"
			it.Jurisdiction = "DE"
			want[i] = tokens.CodeWrongRegion
		case 7:
			it.Field, it.Value = "email", "a@b.cn"
			it.Jurisdiction = "XX"
			want[i] = tokens.CodeUnknownJurisdiction
		}
		items[i] = it
	}
	rs := tokenize(t, f.svc, items...)
	ds := make([]tokens.DItem, len(rs))
	for i, r := range rs {
		wantCode(t, r.Err, want[i])
		ds[i] = tokens.DItem{Token: r.Token, Collection: items[i].Collection, Field: items[i].Field}
		if r.Err != nil {
			ds[i] = tokens.DItem{Token: "tkr_cn-north_x"}
		}
	}
	for i, d := range detokenize(t, f.svc, ds...) {
		if want[i] != "" {
			wantCode(t, d.Err, tokens.CodeMalformedToken)
			continue
		}
		mustOK(t, d.Err)
		norm := items[i].Value
		if d.Value != norm {
			t.Fatalf("item %d: %q, want %q", i, d.Value, norm)
		}
	}
	_, err := f.svc.Tokenize(context.Background(), make([]tokens.Item, tokens.MaxBatch+1))
	wantCode(t, err, tokens.CodeTooMany)
	_, err = f.svc.Detokenize(context.Background(), make([]tokens.DItem, tokens.MaxBatch+1))
	wantCode(t, err, tokens.CodeTooMany)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.svc.Tokenize(ctx, items[:1]); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
