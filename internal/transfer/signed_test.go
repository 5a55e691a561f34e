package transfer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/suite"
)

// sampleReport is the report of a few transfers of the test policy's
// cn-north.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	e := newEnv(t, "cn-north")
	e.clock.set(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))
	if _, err := e.send(t, "US", "cn-to-us", []string{"name", "national_id"}, "r1", "r2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.send(t, "SG", "cn-to-sg-hr", []string{"name"}, "r9"); err != nil {
		t.Fatal(err)
	}
	r, err := e.l.Report(context.Background(), 2026)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newKey(t testing.TB, sig suite.Signature) crypto.Signer {
	t.Helper()
	k, err := sig.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resign signs payload as SignReport signs a report's JSON.
func resign(t testing.TB, s *Signed, payload []byte, priv crypto.Signer, sig suite.Signature) *Signed {
	t.Helper()
	b, err := sig.Sign(rand.Reader, priv, append([]byte(SignedReportContext), payload...))
	if err != nil {
		t.Fatal(err)
	}
	return &Signed{Payload: payload, Algorithm: s.Algorithm, KeyHash: s.KeyHash, Signature: b}
}

func wantReportError(t *testing.T, err error, substr string) {
	t.Helper()
	if !errors.Is(err, ErrReport) || !strings.Contains(err.Error(), substr) {
		t.Fatalf("err = %v, want ErrReport saying %q", err, substr)
	}
}

func TestSignedReport(t *testing.T) {
	const origin = "domicile/cn-north"
	r := sampleReport(t)
	for _, su := range []suite.Suite{suite.CNSuite(), suite.IntlSuite()} {
		t.Run(string(su.ID()), func(t *testing.T) {
			sig, h := su.Signature(), su.Hash()
			old, priv, other := newKey(t, sig), newKey(t, sig), newKey(t, sig)
			keys := []crypto.PublicKey{old.Public(), priv.Public()} // a key history: the signer is the second
			s, err := SignReport(r, origin, priv, sig, h, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := checkpoint.Fingerprint(origin, priv.Public(), sig, h)
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm != sig.ID() || !bytes.Equal(s.KeyHash[:], fp[:4]) {
				t.Fatalf("signed by %s, key hash %x; want %s, %x (as checkpoints name the key)", s.Algorithm, s.KeyHash, sig.ID(), fp[:4])
			}
			want, _ := json.Marshal(r)
			if !bytes.Equal(s.Payload, want) {
				t.Fatalf("payload %s, want the report's JSON %s", s.Payload, want)
			}

			got, err := VerifyReport(s, origin, keys, sig, h)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("verified report %+v, want %+v", got, r)
			}
			if got.Individuals != (Individuals{NonSensitive: 2, Sensitive: 2}) || len(got.Transfers) != 3 {
				t.Errorf("verified report's figures %+v", got)
			}

			t.Run("tampered payload", func(t *testing.T) {
				bad := *s
				bad.Payload = bytes.Replace(s.Payload, []byte(`"non_sensitive":2`), []byte(`"non_sensitive":1`), 1)
				if bytes.Equal(bad.Payload, s.Payload) {
					t.Fatal("the payload has no count to edit")
				}
				_, err := VerifyReport(&bad, origin, keys, sig, h)
				wantReportError(t, err, "signature does not verify (edited report)")
			})
			t.Run("tampered signature", func(t *testing.T) {
				bad := *s
				bad.Signature = append([]byte(nil), s.Signature...)
				bad.Signature[len(bad.Signature)-1] ^= 1
				_, err := VerifyReport(&bad, origin, keys, sig, h)
				wantReportError(t, err, "signature does not verify")
			})
			t.Run("wrong key", func(t *testing.T) {
				_, err := VerifyReport(s, origin, []crypto.PublicKey{old.Public(), other.Public()}, sig, h)
				wantReportError(t, err, "signed by key "+hex.EncodeToString(s.KeyHash[:])+", which is not among the 2 keys given")
			})
			t.Run("another region's origin", func(t *testing.T) {
				_, err := VerifyReport(s, "domicile/eu-central", keys, sig, h)
				wantReportError(t, err, "which is not among the 2 keys given")
			})
			t.Run("signature without the context", func(t *testing.T) {
				b, err := sig.Sign(rand.Reader, priv, s.Payload)
				if err != nil {
					t.Fatal(err)
				}
				bad := *s
				bad.Signature = b
				_, err = VerifyReport(&bad, origin, keys, sig, h)
				wantReportError(t, err, "signature does not verify")
			})
			t.Run("unknown field", func(t *testing.T) {
				payload := bytes.Replace(s.Payload, []byte(`{"region":`), []byte(`{"exempt_all":true,"region":`), 1)
				_, err := VerifyReport(resign(t, s, payload, priv, sig), origin, keys, sig, h)
				wantReportError(t, err, `unknown field "exempt_all"`)
			})
			t.Run("trailing data", func(t *testing.T) {
				payload := append(append([]byte(nil), s.Payload...), `{"region":"x"}`...)
				_, err := VerifyReport(resign(t, s, payload, priv, sig), origin, keys, sig, h)
				wantReportError(t, err, "data after the report")
			})
			t.Run("no report", func(t *testing.T) {
				for _, payload := range []string{`{}`, `null`, `[]`, `"report"`, ``} {
					_, err := VerifyReport(resign(t, s, []byte(payload), priv, sig), origin, keys, sig, h)
					wantReportError(t, err, "no transfer report")
				}
			})
		})
	}
	t.Run("wrong algorithm", func(t *testing.T) {
		cn, intl := suite.CNSuite(), suite.IntlSuite()
		priv := newKey(t, cn.Signature())
		s, err := SignReport(r, origin, priv, cn.Signature(), cn.Hash(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		_, err = VerifyReport(s, origin, []crypto.PublicKey{newKey(t, intl.Signature()).Public()}, intl.Signature(), intl.Hash())
		wantReportError(t, err, `signed with "SM2", the keys given are ECDSA-P256 keys`)
	})
}

// FuzzVerifyReport feeds VerifyReport payloads: signed by the key, a
// payload verifies only if it is a report, and then its JSON is stable;
// under another payload's signature, nothing but that payload verifies.
func FuzzVerifyReport(f *testing.F) {
	const origin = "domicile/cn-north"
	su := suite.IntlSuite()
	sig, h := su.Signature(), su.Hash()
	priv := newKey(f, sig)
	keys := []crypto.PublicKey{priv.Public()}
	r := &Report{Region: "cn-north", Year: 2026, TimeZone: "Asia/Shanghai", Generated: time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC),
		Individuals: Individuals{NonSensitive: 2, Sensitive: 1}, Required: "standard contract or certification",
		Thresholds: []Threshold{{Level: "security assessment", LimitNonSensitive: -1, LimitSensitive: -1, HeadroomNonSensitive: -1, HeadroomSensitive: -1}},
		Transfers:  []Count{{Jurisdiction: "CN", Destination: "US", Mechanism: "cn-us-contract", Class: "sensitive", Individuals: 1, Records: 2}},
		Mechanisms: []MechReport{{Name: "cn-us-contract", Kind: "standard-contract", Reference: "CAC-SC-2026-0001", To: []string{"US"},
			ValidFrom: "2026-01-01", ValidUntil: "2026-12-31", Status: "expiring", Individuals: 1, Records: 2}}}
	good, err := SignReport(r, origin, priv, sig, h, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good.Payload)
	f.Add([]byte(`{"region":"cn-north","year":2026,"time_zone":"UTC","generated":"2026-01-01T00:00:00Z","individuals":{"non_sensitive":1,"sensitive":0},"transfers":[],"mechanisms":[]}`))
	f.Add([]byte(`{"region":"cn-north","year":2026,"REGION":"x"}`))
	f.Add([]byte(`{"region":"cn-north","year":2026,"transfers":[{"individuals":1e3}]}`))
	f.Add([]byte(`{"region":"cn-north","year":2026} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := VerifyReport(resign(t, good, payload, priv, sig), origin, keys, sig, h)
		if err != nil {
			if !errors.Is(err, ErrReport) {
				t.Fatalf("error %v does not wrap ErrReport", err)
			}
		} else {
			if r.Region == "" || r.Year == 0 {
				t.Fatalf("verified a report without region or year: %q", payload)
			}
			m1, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("verified report does not marshal: %v", err)
			}
			r2, err := ParseReport(m1)
			if err != nil {
				t.Fatalf("the JSON of a verified report does not parse: %v\n%s", err, m1)
			}
			if m2, _ := json.Marshal(r2); !bytes.Equal(m1, m2) {
				t.Fatalf("report JSON is not stable:\n%s\n%s", m1, m2)
			}
		}
		if bytes.Equal(payload, good.Payload) {
			return
		}
		forged := *good
		forged.Payload = payload
		if _, err := VerifyReport(&forged, origin, keys, sig, h); err == nil {
			t.Fatalf("payload %q verified under another payload's signature", payload)
		}
	})
}
