package tokens_test

import (
	"context"
	"testing"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
)

const testPolicy = `
version: 1
regions:
  - name: cn-north
    suite: cn
    residency: strict
    jurisdictions: [CN]
  - name: us-east
    suite: intl
    residency: standard
    jurisdictions: ["*"]
collections:
  - name: customers
    fields:
      - name: name
        type: string
      - name: email
        type: email
        token: deterministic
      - name: phone
        type: phone
        token: fpe
        token_format: e164
      - name: national_id
        type: national_id
        token: fpe
        token_format: cn_resident_id
      - name: passport
        type: string
        token: random
      - name: card
        type: string
        token: fpe
        token_format: pan
      - name: member_no
        type: string
        token: fpe
        token_format: digits
`

var testKDF = keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

type fixture struct {
	svc *tokens.Service
	kr  *keyring.Keyring
	st  store.Store
	pol *policy.Policy
	dir string
}

func loadPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// newFixture opens (or reopens, for the same dir) the region's store,
// keyring and token service.
func newFixture(t testing.TB, region, dir string) *fixture {
	t.Helper()
	pol := loadPolicy(t)
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := pol.Region(region)
	s, err := suite.ByID(pr.Suite)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Open(context.Background(), keyring.Options{Region: region, Suite: s, Store: st, Secret: []byte("test secret"), KDF: testKDF})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	svc, err := tokens.New(tokens.Options{Region: region, Policy: pol, Keyring: kr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{svc: svc, kr: kr, st: st, pol: pol, dir: dir}
	t.Cleanup(f.close)
	return f
}

func (f *fixture) close() {
	f.kr.Close()
	f.st.Close()
}

func tokenize(t testing.TB, svc *tokens.Service, items ...tokens.Item) []tokens.Result {
	t.Helper()
	out, err := svc.Tokenize(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func detokenize(t testing.TB, svc *tokens.Service, items ...tokens.DItem) []tokens.DResult {
	t.Helper()
	out, err := svc.Detokenize(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, code tokens.Code) {
	t.Helper()
	if got := tokens.CodeOf(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}
