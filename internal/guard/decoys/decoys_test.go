package decoys_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/decoys"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store/memstore"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
)

func examplePolicy(t *testing.T) *policy.Policy {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// TestDecoysPassTheVault creates decoys of every supported jurisdiction
// in its region of the example policy, through the vault and the token
// service, as guard.Seed does: every value passes the field's validation
// and tokenization (fpe phone tokens included).
func TestDecoysPassTheVault(t *testing.T) {
	pol := examplePolicy(t)
	g := decoys.New()
	for _, pr := range pol.Regions {
		var js []string
		for _, j := range decoys.Jurisdictions() {
			if r, err := pol.RegionFor(j); err == nil && r.Name == pr.Name {
				js = append(js, j)
			}
		}
		if len(js) == 0 {
			continue
		}
		t.Run(pr.Name, func(t *testing.T) {
			v := newVault(t, pol, &pr)
			for _, j := range js {
				recs := make([]vault.NewRecord, 40)
				for i := range recs {
					d, err := g.Decoy(j)
					if err != nil {
						t.Fatal(err)
					}
					recs[i] = vault.NewRecord{Collection: "customers", Subject: d.Subject, Jurisdiction: d.Jurisdiction, Fields: d.Fields}
				}
				if _, err := v.Create(context.Background(), recs, vault.CreateOptions{}); err != nil {
					t.Errorf("ok/%s: the vault refused a decoy: %v", j, err)
				}
			}
		})
	}
}

func newVault(t *testing.T, pol *policy.Policy, pr *policy.Region) *vault.Vault {
	t.Helper()
	st := memstore.New()
	s, err := suite.ByID(pr.Suite)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Open(context.Background(), keyring.Options{Region: pr.Name, Suite: s, Store: st, Secret: []byte("decoys"),
		KDF: keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Close)
	tok, err := tokens.New(tokens.Options{Region: pr.Name, Policy: pol, Keyring: kr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(vault.Options{Policy: pol, Region: pr.Name, Keyring: kr, Store: st, Tokens: tok})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestDecoyFields draws many decoys of every jurisdiction and checks each
// field against the customers collection of the policy (its normaliser
// and maximum length, as the vault does), and more strictly than the
// vault: the phone is a mobile number of the decoy's own country, and the
// normalised national id keeps the country's letters and digits.
func TestDecoyFields(t *testing.T) {
	coll, ok := examplePolicy(t).Collection("customers")
	if !ok {
		t.Fatal("the example policy has no customers collection")
	}
	g := decoys.New()
	for _, j := range decoys.Jurisdictions() {
		t.Run("ok/"+j, func(t *testing.T) {
			for range 300 {
				d, err := g.Decoy(j)
				if err != nil {
					t.Fatal(err)
				}
				if d.Jurisdiction != j || !uuidV4.MatchString(d.Subject) {
					t.Fatalf("decoy %s, subject %q", d.Jurisdiction, d.Subject)
				}
				if len(d.Fields) != len(coll.Fields) {
					t.Fatalf("decoy has fields %v, want those of the collection", keys(d.Fields))
				}
				for _, f := range coll.Fields {
					checkField(t, f, d)
				}
				n, err := phonenumbers.Parse(d.Fields[decoys.FieldPhone], j)
				if err != nil || !phonenumbers.IsValidNumberForRegion(n, j) {
					t.Fatalf("phone %q is not a number of %s", d.Fields[decoys.FieldPhone], j)
				}
				if ty := phonenumbers.GetNumberType(n); ty != phonenumbers.MOBILE && ty != phonenumbers.FIXED_LINE_OR_MOBILE {
					t.Fatalf("phone %q is not a mobile number (type %v)", d.Fields[decoys.FieldPhone], ty)
				}
			}
		})
	}
}

func checkField(t *testing.T, f policy.Field, d guard.DecoyRecord) {
	t.Helper()
	v, ok := d.Fields[f.Name]
	if !ok || v == "" {
		t.Fatalf("decoy of %s has no %s", d.Jurisdiction, f.Name)
	}
	if len(v) > f.MaxLength {
		t.Fatalf("%s %q is longer than %d bytes", f.Name, v, f.MaxLength)
	}
	norm, err := normalize.ByName(f.Normalizer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := norm(v, d.Jurisdiction); err != nil {
		t.Fatalf("%s %q of %s: %v", f.Name, v, d.Jurisdiction, err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestUnpredictable: two generators never agree, and one never repeats a
// subject or a national id, nor falls back to the example phone number,
// whose constant value would give decoys away.
func TestUnpredictable(t *testing.T) {
	a, b := decoys.New(), decoys.New()
	for _, j := range decoys.Jurisdictions() {
		da, _ := a.Decoy(j)
		db, _ := b.Decoy(j)
		if da.Subject == db.Subject || da.Fields[decoys.FieldNationalID] == db.Fields[decoys.FieldNationalID] &&
			da.Fields[decoys.FieldPhone] == db.Fields[decoys.FieldPhone] {
			t.Fatalf("two generators drew the same decoy of %s: %v", j, da)
		}
		example := phonenumbers.Format(phonenumbers.GetExampleNumberForType(j, phonenumbers.MOBILE), phonenumbers.E164)
		seen := map[string]bool{}
		for range 200 {
			d, _ := a.Decoy(j)
			id := d.Fields[decoys.FieldNationalID]
			if seen[d.Subject] || seen[id] {
				t.Fatalf("%s: a subject or national id repeated within 200 decoys: %v", j, d)
			}
			seen[d.Subject], seen[id] = true, true
			if d.Fields[decoys.FieldPhone] == example {
				t.Fatalf("%s: the phone number fell back to the metadata's example", j)
			}
		}
	}
}

func TestUnsupported(t *testing.T) {
	g := decoys.New()
	if !g.Supported("cn") || !g.Supported("CN") {
		t.Error("ok/lower-case: CN is supported in either case")
	}
	for _, j := range []string{"AT", "", "XX", "EU"} {
		if g.Supported(j) {
			t.Errorf("fail/%q: supported", j)
		}
		if _, err := g.Decoy(j); err == nil || !strings.Contains(err.Error(), "no decoys") {
			t.Errorf("fail/%q: Decoy = %v, want an error", j, err)
		}
	}
}
