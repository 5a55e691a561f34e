package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
)

// TestTokenizeLookups checks how a batch finds its deterministic entries:
// repeats within a batch share one entry, an entry stored by an earlier
// process is found and kept as it is, a new value needs no read besides
// the Apply's, and a failed read fails only the items that needed it.
func TestTokenizeLookups(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "us-east", "")
	email := func(v string) tokens.Item {
		return tokens.Item{Collection: "customers", Field: "email", Value: v, Jurisdiction: "US"}
	}
	first := tokenize(t, f.svc, email("Ann@Example.com"), email("ann@example.com"), email("bob@example.com"))
	for _, r := range first {
		mustOK(t, r.Err)
	}
	if first[0].Token != first[1].Token || first[0].Token == first[2].Token {
		t.Fatalf("tokens %q %q %q: want the first two equal and the third different", first[0].Token, first[1].Token, first[2].Token)
	}

	// A second service over the same store knows nothing of the first
	// batch: it must find Ann's entry, not replace it.
	again, err := tokens.New(tokens.Options{Region: "us-east", Policy: f.pol, Keyring: f.kr, Store: f.st})
	if err != nil {
		t.Fatal(err)
	}
	second := tokenize(t, again, email("ANN@example.com"), email("cy@example.com"))
	for _, r := range second {
		mustOK(t, r.Err)
	}
	if second[0].Token != first[0].Token {
		t.Fatal("the same value got another token from a second service")
	}
	d := detokenize(t, again, tokens.DItem{Token: first[0].Token}, tokens.DItem{Token: second[1].Token})
	if d[0].Err != nil || d[0].Value != "Ann@Example.com" {
		t.Fatalf("detokenize = %+v, want the value as first submitted", d[0])
	}
	if d[1].Err != nil || d[1].Value != "cy@example.com" {
		t.Fatalf("detokenize of a value new to the second service = %+v", d[1])
	}

	// A value only a subject holds: its anchor holds no region entry.
	sid := email("sid@example.com")
	sid.Subject = "s-9"
	mustOK(t, tokenize(t, again, sid)[0].Err)

	// A store whose reads fail. A value new to the store needs no read:
	// its batch claims its anchor, which the Apply checks. So does a value
	// stored with its region entry in its anchor: the lost claim reports
	// the anchor. A value stored otherwise needs its region entry read
	// after the claim lost: that item fails with internal_error, the
	// others beside it do not, and nothing is written for it.
	broken := &failingGets{Store: f.st}
	svc, err := tokens.New(tokens.Options{Region: "us-east", Policy: f.pol, Keyring: f.kr, Store: broken})
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Tokenize(ctx, []tokens.Item{email("dee@example.com"), {Collection: "customers", Field: "phone", Value: "+12025550100", Jurisdiction: "US"}, email("sid@example.com"), email("DEE@example.com"), email("ANN@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	var e *tokens.Error
	if !errors.As(out[2].Err, &e) || e.Code != tokens.CodeInternal {
		t.Errorf("a stored value with failing reads: %v, want %s", out[2].Err, tokens.CodeInternal)
	}
	for _, i := range []int{0, 1, 3, 4} {
		mustOK(t, out[i].Err)
	}
	if out[4].Token != first[0].Token {
		t.Error("a value stored in its anchor got another token with failing reads")
	}
	if broken.applies != 1 {
		t.Errorf("%d Applies, want one", broken.applies)
	}
	wantCode(t, detokenize(t, again, tokens.DItem{Token: out[1].Token, Collection: "customers", Field: "phone"})[0].Err, "")
	if d := detokenize(t, again, tokens.DItem{Token: out[3].Token})[0]; out[3].Token != out[0].Token || d.Err != nil || d.Value != "dee@example.com" {
		t.Fatalf("a new value tokenized without reads: %q %q, detokenize = %+v", out[0].Token, out[3].Token, d)
	}
	if d := detokenize(t, again, tokens.DItem{Token: first[0].Token})[0]; d.Err != nil || d.Value != "Ann@Example.com" {
		t.Fatalf("after the failed read, Ann's token detokenizes to %+v", d)
	}
}

// failingGets is a store whose Gets fail and whose Applies are counted.
type failingGets struct {
	store.Store
	applies int
}

func (s *failingGets) Get(ctx context.Context, key []byte) ([]byte, error) {
	if k := string(key); k == "x/m/fpe" || k == "x/m/fold" { // the region's modes, read by New
		return s.Store.Get(ctx, key)
	}
	return nil, errors.New("disk on fire")
}

func (s *failingGets) Apply(ctx context.Context, b *store.Batch) error {
	s.applies++
	return s.Store.Apply(ctx, b)
}

// TestTokenizeClaims checks the three ways a batch's new-looking
// deterministic values end: a claim that wins (a new value), a claim that
// finds the token stored by a subject only (no region entry: the item is
// tokenized again, keeping the first submission), and a value whose anchor
// the batch writes for a subject's entry (no claim).
func TestTokenizeClaims(t *testing.T) {
	f := newFixture(t, "us-east", "")
	item := func(v, subject string) tokens.Item {
		return tokens.Item{Collection: "customers", Field: "email", Value: v, Jurisdiction: "US", Subject: subject}
	}
	mustOK(t, tokenize(t, f.svc, item("Sam@Example.com", "s-1"))[0].Err)

	svc, err := tokens.New(tokens.Options{Region: "us-east", Policy: f.pol, Keyring: f.kr, Store: f.st})
	if err != nil {
		t.Fatal(err)
	}
	out := tokenize(t, svc, item("sam@example.com", ""), item("New@Example.com", "s-2"), item("new@example.com", ""),
		item("Fresh@Example.com", ""), item("fresh@example.com", ""))
	for _, r := range out {
		mustOK(t, r.Err)
	}
	if out[1].Token != out[2].Token || out[3].Token != out[4].Token {
		t.Fatalf("one value, two tokens: %+v", out)
	}
	for _, c := range []struct {
		tok, want string
	}{{out[0].Token, "Sam@Example.com"}, {out[2].Token, "New@Example.com"}, {out[3].Token, "Fresh@Example.com"}} {
		for _, s := range []*tokens.Service{svc, f.svc} {
			if d := detokenize(t, s, tokens.DItem{Token: c.tok})[0]; d.Err != nil || d.Value != c.want {
				t.Errorf("detokenize = %+v, want %q as first submitted", d, c.want)
			}
		}
	}
	// Erasing the subjects leaves the region entries, which hold the
	// first submissions.
	erase(t, f, "s-1")
	erase(t, f, "s-2")
	for _, c := range []struct {
		tok, want string
	}{{out[0].Token, "Sam@Example.com"}, {out[2].Token, "New@Example.com"}} {
		if d := detokenize(t, svc, tokens.DItem{Token: c.tok})[0]; d.Err != nil || d.Value != c.want {
			t.Errorf("after erasure: detokenize = %+v, want %q", d, c.want)
		}
	}
}

// TestTokenizeProbes checks when a batch reads before it claims: a service
// probes until a probe finds only new values, then claims without reading
// until a batch's claims mostly find their tokens stored (a stream of
// stored values seals in vain once), and the tokens are the same either
// way.
func TestTokenizeProbes(t *testing.T) {
	f := newFixture(t, "us-east", "")
	batch := func(prefix string) []tokens.Item {
		items := make([]tokens.Item, 20)
		for i := range items {
			items[i] = tokens.Item{Collection: "customers", Field: "email", Value: fmt.Sprintf("%s%d@example.com", prefix, i), Jurisdiction: "US"}
		}
		return items
	}
	stored := map[string][]tokens.Result{}
	for _, p := range []string{"a", "b", "c"} {
		stored[p] = tokenize(t, f.svc, batch(p)...)
	}
	st := &countingStore{Store: f.st}
	svc, err := tokens.New(tokens.Options{Region: "us-east", Policy: f.pol, Keyring: f.kr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		prefix        string
		reads, claims bool // whether the batch reads before its Apply, claims
	}{
		{"a", true, false}, // a fresh service probes, finds stored tokens
		{"n", true, true},  // probes, finds none, claims
		{"m", false, true}, // claims without reading
		{"b", false, true}, // the same, and the claims lose: read after
		{"c", true, false}, // probes again
		{"o", true, true},
	} {
		st.gets, st.getsBeforeApply, st.claims = 0, -1, 0
		out := tokenize(t, svc, batch(step.prefix)...)
		if st.getsBeforeApply < 0 { // nothing to write: no Apply
			st.getsBeforeApply = st.gets
		}
		for i, r := range out {
			mustOK(t, r.Err)
			if want, ok := stored[step.prefix]; ok && r.Token != want[i].Token {
				t.Fatalf("batch %s: item %d got another token than the stored one", step.prefix, i)
			}
		}
		if (st.getsBeforeApply > 0) != step.reads || (st.claims > 0) != step.claims {
			t.Errorf("batch %s: %d reads before the Apply, %d claims; want reads %v, claims %v",
				step.prefix, st.getsBeforeApply, st.claims, step.reads, step.claims)
		}
	}
}

// countingStore counts Gets, the Gets made before the last Apply, and the
// claims it applies.
type countingStore struct {
	store.Store
	gets, getsBeforeApply, claims int
}

func (s *countingStore) Get(ctx context.Context, key []byte) ([]byte, error) {
	s.gets++
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Apply(ctx context.Context, b *store.Batch) error {
	s.getsBeforeApply = s.gets
	for _, op := range b.Ops() {
		if op.Kind == store.OpClaim {
			s.claims++
		}
	}
	return s.Store.Apply(ctx, b)
}
