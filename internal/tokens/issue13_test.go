package tokens_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/tokens"
)

// eraseAll erases a subject as the vault does: its live entries and its
// key in one batch.
func eraseAll(t *testing.T, f *fixture, subject string) {
	t.Helper()
	ctx := context.Background()
	var b store.Batch
	mustOK(t, f.svc.EraseSubject(ctx, &b, f.kr.SubjectRef(subject)))
	done, err := f.kr.DestroySubjectKey(ctx, subject, &b)
	mustOK(t, err)
	err = f.st.Apply(ctx, &b)
	done()
	mustOK(t, err)
}

// TestErasureReachesStandaloneAndFPETokens checks issue 13, item 1: fpe
// tokens of records and stand-alone tokens naming a subject stop
// detokenizing when the subject is erased; a stand-alone token without a
// subject does not; nothing of the live entries is left behind.
func TestErasureReachesStandaloneAndFPETokens(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	rec := createRecord(t, f, "cust-a", "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", map[string]string{"phone": "+86 138 0013 8000", "email": "a@example.cn"})
	item := func(field, value, subject string) tokens.Item {
		return tokens.Item{Collection: "customers", Field: field, Value: value, Jurisdiction: "CN", Subject: subject}
	}
	res := tokenize(t, f.svc,
		item("phone", "+86 139 1234 5678", "cust-a"),
		item("email", "b@example.cn", "cust-a"),
		item("passport", "E1", "cust-a"),
		item("phone", "+86 137 0000 1111", ""),
		item("phone", "+86 138 0013 8000", "cust-b"), // the same number, another subject
	)
	for _, r := range res {
		mustOK(t, r.Err)
	}
	fpe := func(tok string) tokens.DItem {
		return tokens.DItem{Token: tok, Collection: "customers", Field: "phone"}
	}
	items := []tokens.DItem{fpe(rec["phone"].Token), {Token: rec["email"].Token}, fpe(res[0].Token), {Token: res[1].Token}, {Token: res[2].Token}, fpe(res[3].Token)}
	for _, d := range detokenize(t, f.svc, items...) {
		mustOK(t, d.Err)
	}
	eraseAll(t, f, "cust-a")
	d := detokenize(t, f.svc, items...)
	for i := 1; i < 5; i++ { // item 0: cust-b holds the number too, below
		if c := tokens.CodeOf(d[i].Err); c != tokens.CodeSubjectErased && c != tokens.CodeNotFound {
			t.Errorf("item %d after erasure: %+v", i, d[i])
		}
	}
	if d[5].Err != nil || d[5].Value != "+8613700001111" {
		t.Errorf("a token without a subject after erasure: %+v", d[5])
	}
	// cust-b still holds the record's number: the shared fpe token lives.
	if r := detokenize(t, f.svc, fpe(rec["phone"].Token))[0]; r.Err != nil || r.Value != "+8613800138000" {
		t.Errorf("a number another subject holds: %+v", r)
	}
	eraseAll(t, f, "cust-b")
	wantCode(t, detokenize(t, f.svc, fpe(rec["phone"].Token))[0].Err, tokens.CodeNotFound)
	// No live entry or subject index is left.
	kvs, err := f.st.Scan(context.Background(), []byte("x/s/"), []byte("x/t"), 0)
	mustOK(t, err)
	for _, kv := range kvs {
		if !bytes.HasPrefix(kv.Key, []byte("x/s/")) {
			continue
		}
		t.Errorf("left after erasure: %q", kv.Key)
	}
	kvs, err = f.st.Scan(context.Background(), []byte("x/f/"), []byte("x/g"), 0)
	mustOK(t, err)
	if len(kvs) != 1 { // the region entry of the token without a subject
		t.Errorf("%d live entries left after erasure, want 1", len(kvs))
	}
	// A forged token that fits the format is not a token.
	wantCode(t, detokenize(t, f.svc, fpe("+8613912345678"))[0].Err, tokens.CodeNotFound)
}

// TestFPEPhoneTokensValid checks issue 13, item 1: fpe phone tokens are
// valid numbers for their country and detokenize to the value.
func TestFPEPhoneTokensValid(t *testing.T) {
	f := newFixture(t, "us-east", "")
	var items []tokens.Item
	for i := range 200 {
		for _, p := range []struct{ j, v string }{
			{"CN", fmt.Sprintf("+86 138 %04d %04d", i*37%10000, i*91%10000)},
			{"US", fmt.Sprintf("+1 202 %03d %04d", 200+i%800, i*13%10000)},
			{"GB", fmt.Sprintf("+44 7911 %06d", i*4999%1000000)},
			{"DE", fmt.Sprintf("+49 30 %07d", 1000000+i*3331)},
		} {
			items = append(items, tokens.Item{Collection: "customers", Field: "phone", Value: p.v, Jurisdiction: "US"})
		}
	}
	for start := 0; start < len(items); start += tokens.MaxBatch {
		batch := items[start:min(start+tokens.MaxBatch, len(items))]
		res := tokenize(t, f.svc, batch...)
		var back []tokens.DItem
		for i, r := range res {
			want, err := normalize.NormalizePhone(batch[i].Value, "US")
			if err != nil {
				continue // not every generated number is assigned
			}
			mustOK(t, r.Err)
			if n, err := normalize.NormalizePhone(r.Token, ""); err != nil || n != r.Token || len(r.Token) != len(want) || r.Token[:3] != want[:3] {
				t.Fatalf("token %s of %s is not a valid number of the same shape (%v)", r.Token, want, err)
			}
			back = append(back, tokens.DItem{Token: r.Token, Collection: "customers", Field: "phone"})
			d := detokenize(t, f.svc, back[len(back)-1])[0]
			if d.Err != nil || d.Value != want {
				t.Fatalf("detokenize %s = %+v, want %s", r.Token, d, want)
			}
		}
	}
}

// TestFirstSubmissionWins checks issue 13, item 2: whatever path submits
// a value first (record or stand-alone, with or without a subject, two
// services over one store, concurrently), every later answer is that
// value, and later submissions never change it.
func TestFirstSubmissionWins(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	other, err := tokens.New(tokens.Options{Region: "cn-north", Policy: f.pol, Keyring: f.kr, Store: f.st})
	mustOK(t, err)
	spellings := []string{"Mixed.Case@Example.com", "MIXED.case@example.COM", "mixed.case@example.com"}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			v := spellings[i%3]
			svc := []*tokens.Service{f.svc, other}[i%2]
			switch i % 4 {
			case 0, 1:
				subject := ""
				if i%4 == 1 {
					subject = fmt.Sprintf("s-%d", i)
				}
				r, err := svc.Tokenize(context.Background(), []tokens.Item{{Collection: "customers", Field: "email", Value: v, Jurisdiction: "CN", Subject: subject}})
				if err != nil || r[0].Err != nil {
					t.Errorf("tokenize: %v %+v", err, r)
				}
			default:
				for attempt := 0; ; attempt++ {
					ctx := context.Background()
					var b store.Batch
					subject := fmt.Sprintf("r-%d", i)
					sk, err := f.kr.SubjectKey(ctx, subject, &b)
					if err != nil {
						t.Error(err)
						return
					}
					_, err = svc.TokenizeRecordFields(ctx, &b, tokens.RecordFields{Collection: "customers", RecordID: fmt.Sprintf("rec_cn-north_%026d", i), Jurisdiction: "CN",
						SubjectRef: f.kr.SubjectRef(subject), SubjectKey: sk, Fields: map[string]string{"email": v}})
					if err == nil {
						err = f.st.Apply(ctx, &b)
					}
					if err == nil {
						f.kr.Commit(sk)
						return
					}
					f.kr.Forget(sk)
					if attempt == 8 {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	tok := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: "email", Value: "mixed.case@example.com", Jurisdiction: "CN"})[0].Token
	first := ""
	for _, svc := range []*tokens.Service{f.svc, other} {
		d := detokenize(t, svc, tokens.DItem{Token: tok})[0]
		mustOK(t, d.Err)
		if first == "" {
			first = d.Value
		}
		if d.Value != first {
			t.Fatalf("two services answer %q and %q", first, d.Value)
		}
	}
	// Every entry of the token holds the same value: erase subjects one
	// by one and the answer stays.
	for i := range 12 {
		if i%4 == 0 {
			continue
		}
		s := fmt.Sprintf("s-%d", i)
		if i%4 >= 2 {
			s = fmt.Sprintf("r-%d", i)
		}
		erase(t, f, s)
		if d := detokenize(t, f.svc, tokens.DItem{Token: tok})[0]; d.Err != nil || d.Value != first {
			t.Fatalf("after erasing %s: %+v, want %q", s, d, first)
		}
	}
}

// TestFirstSubmissionAfterRecord is the case: a record's e-mail,
// then a stand-alone tokenize in another case.
func TestFirstSubmissionAfterRecord(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	rec := createRecord(t, f, "cust-a", "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", map[string]string{"email": "Mixed.Case@Example.com"})
	r := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: "email", Value: "MIXED.case@example.COM", Jurisdiction: "CN"})[0]
	mustOK(t, r.Err)
	if r.Token != rec["email"].Token {
		t.Fatal("another token")
	}
	if d := detokenize(t, f.svc, tokens.DItem{Token: r.Token})[0]; d.Err != nil || d.Value != "Mixed.Case@Example.com" {
		t.Fatalf("detokenize = %+v, want the value as first submitted", d)
	}
}

// TestFPEEarlierVersions checks how a region that served requests before
// live entries existed treats fpe tokens: the token key versions of the
// upgrade keep the earlier rules (no live entry needed, the earlier phone
// shape), and a rotated version gets the current ones.
func TestFPEEarlierVersions(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, "us-east", dir)
	// A fresh region follows the current rules: drop a live entry and the
	// token no longer detokenizes.
	r := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: "phone", Value: "+12025550143", Jurisdiction: "US"})[0]
	mustOK(t, r.Err)
	dropLive(t, f.st)
	wantCode(t, detokenize(t, f.svc, tokens.DItem{Token: r.Token, Collection: "customers", Field: "phone"})[0].Err, tokens.CodeNotFound)

	// A region that an earlier version served: it has audit entries but
	// no fpe mode yet.
	dir2 := earlierRegion(t, "x/m/fpe")
	g := newFixture(t, "us-east", dir2)
	old := tokenize(t, g.svc, tokens.Item{Collection: "customers", Field: "phone", Value: "+12025550143", Jurisdiction: "US"})[0]
	mustOK(t, old.Err)
	dropLive(t, g.st) // as an earlier version left it: no live entry
	if d := detokenize(t, g.svc, tokens.DItem{Token: old.Token, Collection: "customers", Field: "phone"})[0]; d.Err != nil || d.Value != "+12025550143" {
		t.Fatalf("a token of an earlier version: %+v", d)
	}
	// After a rotation, new tokens follow the current rules.
	v, err := g.kr.Rotate(context.Background(), keyring.Token)
	mustOK(t, err)
	g.close()
	g = newFixture(t, "us-east", dir2)
	nw := tokenize(t, g.svc, tokens.Item{Collection: "customers", Field: "phone", Value: "+12025550143", Jurisdiction: "US"})[0]
	mustOK(t, nw.Err)
	if nw.KeyVersion != v {
		t.Fatalf("key version %d, want %d", nw.KeyVersion, v)
	}
	if n, err := normalize.NormalizePhone(nw.Token, ""); err != nil || n != nw.Token {
		t.Errorf("a token of the rotated version is not a valid number: %s", nw.Token)
	}
	dropLive(t, g.st)
	wantCode(t, detokenize(t, g.svc, tokens.DItem{Token: nw.Token, Collection: "customers", Field: "phone", KeyVersion: v})[0].Err, tokens.CodeNotFound)
	if d := detokenize(t, g.svc, tokens.DItem{Token: old.Token, Collection: "customers", Field: "phone", KeyVersion: 1})[0]; d.Err != nil || d.Value != "+12025550143" {
		t.Fatalf("a token of an earlier version after the rotation: %+v", d)
	}
}

// dropLive deletes every live fpe entry.
func dropLive(t *testing.T, st store.Store) {
	t.Helper()
	kvs, err := st.Scan(context.Background(), []byte("x/f/"), []byte("x/g"), 0)
	mustOK(t, err)
	var b store.Batch
	for _, kv := range kvs {
		b.Delete(kv.Key)
	}
	if b.Len() > 0 {
		mustOK(t, st.Apply(context.Background(), &b))
	}
}

// earlierRegion returns the directory of a us-east region as a build
// before the region mode at modeKey left it: it has an audit entry, and no
// such mode.
func earlierRegion(t *testing.T, modeKey string) string {
	t.Helper()
	dir := t.TempDir()
	newFixture(t, "us-east", dir).close()
	st := openRaw(t, dir)
	var b store.Batch
	b.Delete([]byte(modeKey))
	b.Put([]byte("a/e/\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("an entry"))
	mustOK(t, st.Apply(context.Background(), &b))
	st.Close()
	return dir
}

// openRaw opens a region's store without its keyring.
func openRaw(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := pebble.Open(dir, pebble.Options{})
	mustOK(t, err)
	return st
}

// TestSubjectEntryKeepsOwnSpelling: a subject's entry of a deterministic
// token holds what that subject submitted, never an earlier subject's
// spelling, so that erasing the earlier subject leaves nothing of its
// value in the later one's entry ("first submission wins" is the region
// entry's rule). Also within one batch, and stand-alone with a subject.
func TestSubjectEntryKeepsOwnSpelling(t *testing.T) {
	f := newFixture(t, "cn-north", "")
	a := createRecord(t, f, "cust-a", "rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", map[string]string{"email": "Mixed.Case@Example.com"})
	b := createRecord(t, f, "cust-b", "rec_cn-north_bbbbbbbbbbbbbbbbbbbbbbbbbb", map[string]string{"email": "MIXED.case@example.COM"})
	if a["email"].Token != b["email"].Token {
		t.Fatal("another token")
	}
	// A stand-alone submission naming a third subject, and a second one
	// of B in yet another spelling: B's entry keeps B's first spelling.
	r := tokenize(t, f.svc, tokens.Item{Collection: "customers", Field: "email", Value: "mixed.CASE@example.com", Jurisdiction: "CN", Subject: "cust-c"})[0]
	mustOK(t, r.Err)
	createRecord(t, f, "cust-b", "rec_cn-north_cccccccccccccccccccccccccc", map[string]string{"email": "mixed.case@EXAMPLE.com"})
	eraseAll(t, f, "cust-a")
	eraseAll(t, f, "cust-c")
	if d := detokenize(t, f.svc, tokens.DItem{Token: b["email"].Token})[0]; d.Err != nil || d.Value != "MIXED.case@example.COM" {
		t.Fatalf("after erasing the first submitter: %+v, want B's own spelling", d)
	}
	eraseAll(t, f, "cust-b")
	if d := detokenize(t, f.svc, tokens.DItem{Token: b["email"].Token})[0]; d.Err == nil {
		t.Fatalf("after erasing every subject: %+v", d)
	}
}
