package tokens_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// anchorKeys returns the store keys of a deterministic token's anchor and
// of its region entry kept apart.
func anchorKeys(t *testing.T, token string) (anchor, apart []byte) {
	t.Helper()
	tk, err := tokfmt.Parse(token)
	mustOK(t, err)
	anchor = binary.BigEndian.AppendUint32([]byte("x/d/"), tk.Version)
	anchor = append(anchor, tk.ID[:]...)
	return anchor, append(bytes.Clone(anchor), '/')
}

// readAnchor returns the generation of a token's anchor and the region
// entry it holds (nil: none), and whether a region entry is kept apart.
func readAnchor(t *testing.T, st store.Store, token string) (gen uint32, folded *tokfmt.Entry, apart bool) {
	t.Helper()
	ctx := context.Background()
	anchor, apartKey := anchorKeys(t, token)
	v, err := st.Get(ctx, anchor)
	mustOK(t, err)
	if len(v) < 4 {
		t.Fatalf("anchor of %d bytes", len(v))
	}
	if len(v) > 4 {
		if folded, err = tokfmt.ParseEntry(v[4:]); err != nil {
			t.Fatalf("the anchor's region entry: %v", err)
		}
	}
	_, err = st.Get(ctx, apartKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(v), folded, err == nil
}

func email(v, subject string) tokens.Item {
	return tokens.Item{Collection: "customers", Field: "email", Value: v, Jurisdiction: "US", Subject: subject}
}

// TestAnchorHoldsRegionEntry checks the stored layout of a new
// deterministic token made by a stand-alone Tokenize in a new region: its
// anchor holds generation 1 and then its region entry, and nothing is
// stored apart; a subject's entry added later leaves the anchor as it is,
// and the token keeps its first submission through the subject's erasure.
func TestAnchorHoldsRegionEntry(t *testing.T) {
	f := newFixture(t, "us-east", "")
	r := tokenize(t, f.svc, email("Ann@Example.com", ""))[0]
	mustOK(t, r.Err)
	gen, e, apart := readAnchor(t, f.st, r.Token)
	if gen != 1 || e == nil || apart {
		t.Fatalf("anchor: generation %d, region entry %v, entry apart %v; want 1, one, none", gen, e != nil, apart)
	}
	if e.Sealer != tokfmt.SealerRegion || e.Collection != "customers" || e.Field != "email" || e.Jurisdiction != "US" {
		t.Fatalf("the anchor's entry: %+v", e)
	}
	if bytes.Contains(e.Envelope, []byte("Ann@Example.com")) {
		t.Fatal("the anchor holds the value in clear")
	}
	anchor, _ := anchorKeys(t, r.Token)
	before, err := f.st.Get(context.Background(), anchor)
	mustOK(t, err)

	// A subject's entry of the same value: the region entry, in the
	// anchor, holds the first submission, and the anchor is unchanged.
	s := tokenize(t, f.svc, email("ANN@example.com", "s-1"))[0]
	mustOK(t, s.Err)
	if s.Token != r.Token {
		t.Fatal("one value, two tokens")
	}
	after, err := f.st.Get(context.Background(), anchor)
	mustOK(t, err)
	if !bytes.Equal(before, after) {
		t.Fatal("a subject's entry rewrote the anchor")
	}
	again, err := tokens.New(tokens.Options{Region: "us-east", Policy: f.pol, Keyring: f.kr, Store: f.st})
	mustOK(t, err)
	for _, svc := range []*tokens.Service{f.svc, again} {
		if d := detokenize(t, svc, tokens.DItem{Token: r.Token})[0]; d.Err != nil || d.Value != "Ann@Example.com" || d.KeyVersion != 1 {
			t.Fatalf("detokenize = %+v, want the first submission", d)
		}
		if r2 := tokenize(t, svc, email("ann@EXAMPLE.com", ""))[0]; r2.Err != nil || r2.Token != r.Token {
			t.Fatalf("tokenize again = %+v", r2)
		}
	}
	eraseAll(t, f, "s-1")
	if d := detokenize(t, again, tokens.DItem{Token: r.Token})[0]; d.Err != nil || d.Value != "Ann@Example.com" {
		t.Fatalf("after the subject's erasure: %+v", d)
	}
}

// TestAnchorTampered checks a region entry in an anchor that no longer
// opens: detokenize reports an integrity failure, the next writer of an
// entry starts the next generation without it, and a corrupt anchor fails
// a write of the token with an integrity error.
func TestAnchorTampered(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "us-east", "")
	r := tokenize(t, f.svc, email("bea@example.com", ""))[0]
	mustOK(t, r.Err)
	anchor, _ := anchorKeys(t, r.Token)
	v, err := f.st.Get(ctx, anchor)
	mustOK(t, err)
	v[len(v)-1] ^= 1
	var b store.Batch
	b.Put(anchor, v)
	mustOK(t, f.st.Apply(ctx, &b))
	wantCode(t, detokenize(t, f.svc, tokens.DItem{Token: r.Token})[0].Err, tokens.CodeIntegrity)

	s := tokenize(t, f.svc, email("Bea@example.com", "s-2"))[0]
	mustOK(t, s.Err)
	if gen, e, apart := readAnchor(t, f.st, r.Token); gen != 2 || e != nil || apart {
		t.Fatalf("anchor after the write: generation %d, region entry %v, entry apart %v; want 2, none, none", gen, e != nil, apart)
	}
	if d := detokenize(t, f.svc, tokens.DItem{Token: r.Token})[0]; d.Err != nil || d.Value != "Bea@example.com" {
		t.Fatalf("detokenize = %+v, want the subject's submission", d)
	}

	b.Reset()
	b.Put(anchor, []byte{0, 1})
	mustOK(t, f.st.Apply(ctx, &b))
	wantCode(t, tokenize(t, f.svc, email("bea@example.com", "s-3"))[0].Err, tokens.CodeIntegrity)
}

// TestAnchorModeOfEarlierRegion checks that a region served before this
// layout keeps region entries apart for its current token key version,
// which earlier builds on other nodes can read, and holds them in the
// anchor from the next version on; both detokenize.
func TestAnchorModeOfEarlierRegion(t *testing.T) {
	dir := earlierRegion(t, "x/m/fold")
	g := newFixture(t, "us-east", dir)
	v1 := tokenize(t, g.svc, email("cy@example.com", ""))[0]
	mustOK(t, v1.Err)
	if gen, e, apart := readAnchor(t, g.st, v1.Token); gen != 1 || e != nil || !apart {
		t.Fatalf("version 1: generation %d, region entry %v, entry apart %v; want 1, none, apart", gen, e != nil, apart)
	}
	_, err := g.kr.Rotate(context.Background(), keyring.Token)
	mustOK(t, err)
	v2 := tokenize(t, g.svc, email("cy@example.com", ""))[0]
	mustOK(t, v2.Err)
	if gen, e, apart := readAnchor(t, g.st, v2.Token); gen != 1 || e == nil || apart {
		t.Fatalf("version 2: generation %d, region entry %v, entry apart %v; want 1, one, none", gen, e != nil, apart)
	}
	g.close()
	g = newFixture(t, "us-east", dir) // the mode is the store's, not the process's
	for _, tok := range []string{v1.Token, v2.Token} {
		if d := detokenize(t, g.svc, tokens.DItem{Token: tok})[0]; d.Err != nil || d.Value != "cy@example.com" {
			t.Fatalf("detokenize %s = %+v", tok, d)
		}
	}
	if r := tokenize(t, g.svc, email("dan@example.com", ""))[0]; r.Err != nil {
		t.Fatal(r.Err)
	} else if _, e, _ := readAnchor(t, g.st, r.Token); e == nil {
		t.Fatal("after reopening: a new token of version 2 keeps its region entry apart")
	}
}
