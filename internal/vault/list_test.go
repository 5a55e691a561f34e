package vault_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/vault"
)

// notesCollection is a second collection, added to the example policy so
// that a listing of customers has another collection's records to skip.
const notesCollection = `  - name: notes
    fields:
      - name: text
        type: string
        max_length: 500
        mask: redact

`

// twoCollectionPolicy is the example policy with the notes collection.
func twoCollectionPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	src := string(examples.Policy)
	at := strings.Index(src, "\n# Purposes.")
	if at < 0 {
		t.Fatal("the example policy has no Purposes section to insert a collection before")
	}
	pol, err := policy.Parse("policy.yaml", []byte(src[:at+1]+notesCollection+src[at+1:]))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func newTwoCollectionVault(t testing.TB) *vault.Vault {
	t.Helper()
	pol := twoCollectionPolicy(t)
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pr, _ := pol.Region("cn-north")
	s, err := suite.ByID(pr.Suite)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Open(context.Background(), keyring.Options{Region: "cn-north", Suite: s, Store: st, Secret: []byte("test secret"), KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Close)
	v, err := vault.New(vault.Options{Policy: pol, Region: "cn-north", Keyring: kr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func note(subject string) vault.NewRecord {
	return vault.NewRecord{Collection: "notes", Subject: subject, Jurisdiction: "CN", Fields: map[string]string{"text": "called back"}}
}

// collect pages through collection with list and returns the ids in
// order, failing on a repeat; between calls pages after each page.
func collect(t *testing.T, list func(cursor string) (*vault.Page, error), between func(page int)) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := list(cursor)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, r := range p.Records {
			if r.Collection != "customers" {
				t.Errorf("page %d lists record %s of collection %s", page, r.ID, r.Collection)
			}
			if slices.Contains(ids, r.ID) {
				t.Errorf("page %d lists %s again", page, r.ID)
			}
			ids = append(ids, r.ID)
		}
		if p.Next == "" {
			return ids
		}
		if p.Next == cursor || page > 1000 {
			t.Fatalf("the listing does not advance (cursor %q)", p.Next)
		}
		cursor = p.Next
		if between != nil {
			between(page)
		}
	}
}

func TestListByCollection(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		limit  int
		budget int // 0: the default
	}{
		{"ok/one-page", 0, 0},
		{"ok/pages-of-3", 3, 0},
		{"ok/pages-of-1", 1, 0},
		{"ok/short-pages-under-a-scan-budget", 4, 2},
		{"ok/budget-of-one", 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTwoCollectionVault(t)
			var want []string
			for i := range 7 {
				want = append(want, create1(t, v, cnCustomer("cust-"+string(rune('a'+i)))))
				create1(t, v, note("cust-n"))
			}
			slices.Sort(want)
			list := func(cursor string) (*vault.Page, error) {
				if tc.budget > 0 {
					return v.ListByCollectionBudget(ctx, "customers", cursor, tc.limit, tc.budget)
				}
				return v.ListByCollection(ctx, "customers", cursor, tc.limit)
			}
			got := collect(t, list, nil)
			if !slices.Equal(got, want) {
				t.Errorf("listed %v, want %v (id order)", got, want)
			}
			if tc.budget == 0 && tc.limit > 0 {
				p, err := list("")
				if err != nil || len(p.Records) != min(tc.limit, len(want)) {
					t.Errorf("first page: %d records, %v; want %d", len(p.Records), err, min(tc.limit, len(want)))
				}
			}
		})
	}
}

// A listing with writes between its pages lists every record that lives
// throughout once, in id order, never a deleted one, and never repeats.
func TestListByCollectionStableUnderWrites(t *testing.T) {
	ctx := context.Background()
	v := newTwoCollectionVault(t)
	var stay []string
	for i := range 9 {
		stay = append(stay, create1(t, v, cnCustomer("cust-"+string(rune('a'+i)))))
	}
	slices.Sort(stay)
	// The last record in id order is deleted after the first page.
	doomed := stay[len(stay)-1]
	stay = stay[:len(stay)-1]
	var added []string
	got := collect(t, func(cursor string) (*vault.Page, error) {
		return v.ListByCollection(ctx, "customers", cursor, 2)
	}, func(page int) {
		if page == 0 {
			if err := v.Delete(ctx, doomed, vault.Actor{}); err != nil {
				t.Fatal(err)
			}
		}
		added = append(added, create1(t, v, cnCustomer("cust-new")))
		create1(t, v, note("cust-new"))
	})
	if slices.Contains(got, doomed) {
		t.Errorf("the listing holds %s, deleted before its page", doomed)
	}
	for _, id := range stay {
		if !slices.Contains(got, id) {
			t.Errorf("the listing misses %s, which lived throughout", id)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("the listing is not in id order: %v", got)
	}
	for _, id := range got {
		if !slices.Contains(stay, id) && !slices.Contains(added, id) {
			t.Errorf("the listing holds %s, which is no record of the collection", id)
		}
	}
}

func TestListByCollectionBadInput(t *testing.T) {
	ctx := context.Background()
	v := newTwoCollectionVault(t)
	create1(t, v, cnCustomer("cust-a"))
	tests := []struct {
		name               string
		collection, cursor string
		limit              int
		want               errcode.Code
	}{
		{"fail/unknown-collection", "orders", "", 0, vault.CodeUnknownCollection},
		{"fail/cursor-not-a-record-id", "customers", "not-an-id", 0, vault.CodeInvalidCursor},
		{"fail/cursor-of-another-region", "customers", "rec_eu-central_AAAAAAAAAAAAAAAAAAAAAAAAAA", 0, vault.CodeInvalidCursor},
		{"fail/negative-limit", "customers", "", -1, errcode.InvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.ListByCollection(ctx, tc.collection, tc.cursor, tc.limit)
			if got := vault.CodeOf(err); got != tc.want {
				t.Errorf("got %v (code %q), want %s", err, got, tc.want)
			}
		})
	}
}

// FuzzListByCollectionCursor: any cursor a caller sends is a listing from
// after it, or invalid_cursor; never a panic, another error, or a record
// at or before the cursor.
func FuzzListByCollectionCursor(f *testing.F) {
	v := newTwoCollectionVault(f)
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c"} {
		out, err := v.Create(ctx, []vault.NewRecord{cnCustomer("cust-" + s)}, vault.CreateOptions{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out[0].ID)
	}
	f.Add("")
	f.Add("rec_cn-north_")
	f.Add("rec_eu-central_AAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("\x00\xff")
	f.Fuzz(func(t *testing.T, cursor string) {
		p, err := v.ListByCollection(ctx, "customers", cursor, 2)
		if err != nil {
			if vault.CodeOf(err) != vault.CodeInvalidCursor {
				t.Fatalf("cursor %q: %v, want invalid_cursor or a page", cursor, err)
			}
			return
		}
		for _, r := range p.Records {
			if cursor != "" && r.ID <= cursor {
				t.Errorf("cursor %q: listed %s, not after it", cursor, r.ID)
			}
		}
	})
}
