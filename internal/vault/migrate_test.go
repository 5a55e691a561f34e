package vault_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
)

// TestReadsAcrossSuiteMigration checks the read side of a suite migration
// (issue 16, item 2): after the region's keyring moves to the other suite,
// new records, blind indexes and tokens use it, and records, searches and
// tokens made before stay readable under the suite they were made with.
func TestReadsAcrossSuiteMigration(t *testing.T) {
	for _, tc := range []struct {
		region, jurisdiction, phone, nationalID string
		from, to                                suite.ID
	}{
		{"eu-central", "DE", "+49 30 901820", "T22000129", suite.Intl, suite.CN},
		{"cn-north", "CN", "+86 138 0013 8000", "11010519491231002X", suite.CN, suite.Intl},
	} {
		t.Run(tc.region, func(t *testing.T) {
			ctx := context.Background()
			f := newTokenVault(t, tc.region)
			svc, err := tokens.New(tokens.Options{Region: tc.region, Policy: f.pol, Keyring: f.kr, Store: f.st})
			if err != nil {
				t.Fatal(err)
			}
			rec := func(i int) vault.NewRecord {
				return vault.NewRecord{Collection: "customers", Subject: fmt.Sprint("subject-", i), Jurisdiction: tc.jurisdiction,
					Fields: map[string]string{"name": fmt.Sprint("Name ", i), "email": fmt.Sprintf("p%d@example.org", i), "phone": tc.phone, "national_id": tc.nationalID}}
			}
			const n = 4
			var made []vault.Created
			for i := range n {
				out, err := f.v.Create(ctx, []vault.NewRecord{rec(i)}, vault.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				made = append(made, out[0])
			}
			to, _ := suite.ByID(tc.to)
			if _, err := f.kr.Migrate(ctx, to); err != nil {
				t.Fatal(err)
			}
			for i := n; i < 2*n; i++ {
				out, err := f.v.Create(ctx, []vault.NewRecord{rec(i)}, vault.CreateOptions{})
				if err != nil {
					t.Fatalf("create after the migration: %v", err)
				}
				made = append(made, out[0])
			}
			for i, c := range made {
				want := tc.from
				if i >= n {
					want = tc.to
				}
				raw, err := f.st.Get(ctx, []byte("r/"+c.ID))
				if err != nil {
					t.Fatal(err)
				}
				sr, err := recordfmt.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				for _, fl := range sr.Fields {
					if h, _, _ := envelope.Parse(fl.Envelope); h.Suite != want {
						t.Errorf("record %d field %s sealed under %s, want %s", i, fl.Name, h.Suite, want)
					}
				}
				got, err := f.v.Get(ctx, c.ID)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if got.Fields["email"] != fmt.Sprintf("p%d@example.org", i) || got.Fields["national_id"] != tc.nationalID {
					t.Errorf("record %d read back %q %q", i, got.Fields["email"], got.Fields["national_id"])
				}
				p, err := f.v.Find(ctx, "customers", "email", fmt.Sprintf("P%d@example.org", i), "", "", 10)
				if err != nil || len(p.Records) != 1 || p.Records[0].ID != c.ID {
					t.Errorf("search for record %d: %v, %v", i, p, err)
				}
				var items []tokens.DItem
				for _, tk := range c.Tokens {
					items = append(items, tokens.DItem{Token: tk.Token, Collection: "customers", Field: tk.Field, KeyVersion: tk.KeyVersion})
				}
				if len(items) != 3 {
					t.Fatalf("record %d has %d tokens, want 3", i, len(items))
				}
				res, err := svc.Detokenize(ctx, items)
				if err != nil {
					t.Fatal(err)
				}
				for j, r := range res {
					if r.Err != nil {
						t.Errorf("record %d token of %s: %v", i, items[j].Field, r.Err)
					}
				}
			}
			// The deterministic token of a value tokenized before the
			// migration stays what it was; the same value tokenized anew
			// gets a token of the new version.
			again, err := f.v.Create(ctx, []vault.NewRecord{rec(0)}, vault.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range again[0].Tokens {
				if tk.Field == "email" && tk.KeyVersion != 2 {
					t.Errorf("email token after the migration is of version %d, want 2", tk.KeyVersion)
				}
			}
			// Erasing a subject of either suite shreds its data.
			for _, i := range []int{1, n + 1} {
				if _, err := f.v.EraseSubject(ctx, fmt.Sprint("subject-", i), vault.Actor{}); err != nil {
					t.Fatal(err)
				}
				if _, err := f.v.Get(ctx, made[i].ID); vault.CodeOf(err) != vault.CodeSubjectErased && vault.CodeOf(err) != vault.CodeNotFound {
					t.Errorf("record %d after erasure: %v", i, err)
				}
			}
		})
	}
}
