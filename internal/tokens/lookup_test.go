package tokens_test

import (
	"context"
	"errors"
	"testing"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
)

// TestTokenizeLookups checks how a batch finds its deterministic entries:
// repeats within a batch share one entry, an entry stored by an earlier
// process is found and kept as it is, and a failed read fails only the
// items that needed it.
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

	// A store whose reads fail: the deterministic items fail with
	// internal_error, the fpe item beside them does not, and nothing
	// is written for them.
	broken := &failingGets{Store: f.st}
	svc, err := tokens.New(tokens.Options{Region: "us-east", Policy: f.pol, Keyring: f.kr, Store: broken})
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Tokenize(ctx, []tokens.Item{email("dee@example.com"), {Collection: "customers", Field: "phone", Value: "+12025550100", Jurisdiction: "US"}, email("dee@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} {
		var e *tokens.Error
		if !errors.As(out[i].Err, &e) || e.Code != tokens.CodeInternal {
			t.Errorf("item %d with failing reads: %v, want %s", i, out[i].Err, tokens.CodeInternal)
		}
	}
	mustOK(t, out[1].Err)
	// The fpe item writes its live entry; the deterministic items write
	// nothing.
	if broken.applies > 1 {
		t.Errorf("%d Applies after failed reads, want at most one", broken.applies)
	}
	wantCode(t, detokenize(t, again, tokens.DItem{Token: out[1].Token, Collection: "customers", Field: "phone"})[0].Err, "")
	r := tokenize(t, again, email("Dee@example.com"))[0]
	mustOK(t, r.Err)
	if d := detokenize(t, again, tokens.DItem{Token: r.Token})[0]; d.Err != nil || d.Value != "Dee@example.com" {
		t.Fatalf("the failed batch stored a deterministic entry: %+v", d)
	}
}

// failingGets is a store whose Gets fail and whose Applies are counted.
type failingGets struct {
	store.Store
	applies int
}

func (s *failingGets) Get(ctx context.Context, key []byte) ([]byte, error) {
	if string(key) == "x/m/fpe" { // the region's fpe mode, read by New
		return s.Store.Get(ctx, key)
	}
	return nil, errors.New("disk on fire")
}

func (s *failingGets) Apply(ctx context.Context, b *store.Batch) error {
	s.applies++
	return s.Store.Apply(ctx, b)
}
