package subjects

import (
	"crypto"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/suite"
)

func samplePackage() *Package {
	p := &Package{Format: Format, Region: "cn-north", Suite: "cn", SubjectRef: "5ecf138c", Generated: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC),
		RequestedBy: "dpo", Records: []Record{{ID: "rec_1", Collection: "customers", Subject: "cust-7", Fields: map[string]string{"name": "王*"}}}}
	p.Add(map[string]bool{"rec_1": true},
		entry.Entry{Index: 3, Action: entry.Read, Principal: "agent", Records: []string{"rec_1", "rec_2"}, Subjects: []entry.SubjectMAC{[]byte("a"), []byte("b")},
			Refused: []entry.Refusal{{Field: "national_id", Code: "permission_denied"}}, Outcome: entry.OK},
		entry.Entry{Index: 4, Action: entry.Transfer, Principal: "agent-us", Decision: "CN/US/cn-us-scc/sensitive", Records: []string{"rec_1"},
			Subjects: []entry.SubjectMAC{[]byte("a")}, Fields: []string{"national_id"}, Outcome: entry.OK},
		entry.Entry{Index: 5, Action: entry.Erase, Principal: "dpo", Subjects: []entry.SubjectMAC{[]byte("a")}, Outcome: entry.OK})
	return p
}

// TestAdd: entries become accesses and transfers; an entry about several
// subjects keeps only the subject's own records; an erasure is dated.
func TestAdd(t *testing.T) {
	p := samplePackage()
	if len(p.Accesses) != 2 || len(p.Transfers) != 1 || len(p.Erasures) != 1 {
		t.Fatalf("%d accesses, %d transfers, %d erasures; want 2, 1, 1", len(p.Accesses), len(p.Transfers), len(p.Erasures))
	}
	if a := p.Accesses[0]; len(a.Records) != 1 || a.Records[0] != "rec_1" || a.Refused["national_id"] != "permission_denied" {
		t.Errorf("access %+v: want rec_1 only and the refusal", a)
	}
	if tr := p.Transfers[0]; tr.Destination != "US" || tr.Mechanism != "cn-us-scc" || tr.Class != "sensitive" || tr.Principal != "agent-us" {
		t.Errorf("transfer %+v", tr)
	}
}

// TestSignVerify: a signed package verifies with the key among others,
// and fails with an edited payload, another kind's context, a missing key.
func TestSignVerify(t *testing.T) {
	const origin = "domicile/cn-north"
	for _, su := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(su.ID()), func(t *testing.T) {
			sig, h := su.Signature(), su.Hash()
			priv, err := sig.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			other, _ := sig.GenerateKey(rand.Reader)
			env, err := Sign(samplePackage(), origin, priv, sig, h, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			keys := []crypto.PublicKey{other.Public(), priv.Public()}
			if p, err := Verify(env, origin, keys, sig, h); err != nil || p.Records[0].Subject != "cust-7" {
				t.Fatalf("Verify: %v", err)
			}
			edited := *env
			edited.Payload = []byte(strings.Replace(string(env.Payload), "agent-us", "agent-fr", 1))
			for name, c := range map[string]struct {
				env    *Signed
				keys   []crypto.PublicKey
				origin string
				want   string
			}{
				"edited":          {&edited, keys, origin, "signature does not verify (edited package)"},
				"missing key":     {env, keys[:1], origin, "which is not among the 1 key given"},
				"other origin":    {env, keys, "domicile/eu-central", "which is not among the 2 keys given"},
				"no signature":    {&Signed{Payload: env.Payload, Algorithm: env.Algorithm, KeyHash: env.KeyHash}, keys, origin, "signature does not verify"},
				"wrong algorithm": {&Signed{Payload: env.Payload, Algorithm: "Ed25519", KeyHash: env.KeyHash}, keys, origin, `signed with "Ed25519"`},
			} {
				_, err := Verify(c.env, c.origin, c.keys, sig, h)
				if !errors.Is(err, ErrPackage) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v, want ErrPackage saying %q", name, err, c.want)
				}
			}
		})
	}
}

// TestParse: only a whole package of this format, naming a region and a
// subject, parses.
func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"format":"domicile subject package v1","region":"cn-north","subject_ref":"ab","records":[]}`, ""},
		{`{"format":"domicile subject package v2","region":"cn-north","subject_ref":"ab"}`, "format is"},
		{`{"format":"domicile subject package v1","subject_ref":"ab"}`, "names no region"},
		{`{"format":"domicile subject package v1","region":"cn-north","subject_ref":"ab","extra":1}`, "unknown field"},
		{`{"format":"domicile subject package v1","region":"cn-north","subject_ref":"ab"} {}`, "data after"},
		{`[]`, "no subject package"},
		{``, "no subject package"},
	} {
		_, err := Parse([]byte(c.in))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Parse(%s): %v", c.in, err)
		case c.want != "" && (!errors.Is(err, ErrPackage) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Parse(%s): %v, want ErrPackage saying %q", c.in, err, c.want)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts marshals and parses
// again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"format":"domicile subject package v1","region":"cn-north","subject_ref":"ab","records":[]}`))
	f.Add([]byte(`{"format":"domicile subject package v1","region":"r","subject_ref":"s","accesses":[{"index":1,"refused":{"a":"b"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrPackage) {
				t.Fatalf("error %v does not wrap ErrPackage", err)
			}
			return
		}
		env, err := Sign(p, "domicile/r", mustKey(t), suite.IntlSuite().Signature(), suite.IntlSuite().Hash(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(env.Payload); err != nil {
			t.Fatalf("a parsed package does not parse once marshalled: %v", err)
		}
	})
}

func mustKey(t *testing.T) crypto.Signer {
	k, err := suite.IntlSuite().Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
