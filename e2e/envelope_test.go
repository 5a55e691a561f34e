package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
)

// TestEnvelopesOnDisk creates a CN and a US record through the API, stops
// the server and reads the region stores directly: every CN field is an
// SM4-GCM envelope of suite cn that opens under cn-north's keyring, every
// US field an AES-256-GCM envelope of suite intl under us-east's, and
// neither opens under the other region's keys.
func TestEnvelopesOnDisk(t *testing.T) {
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	c := s.client(t)
	ctx := context.Background()
	want := map[string]client.NewRecord{
		"CN": {Collection: "customers", Subject: "cust-cn", Jurisdiction: "CN", Fields: map[string]string{"name": "张伟", "email": "zhang.wei@example.com"}},
		"US": {Collection: "customers", Subject: "cust-us", Jurisdiction: "US", Fields: map[string]string{"name": "Mary Smith", "email": "mary@example.com"}},
	}
	ids := map[string]string{}
	for j, r := range want {
		out, err := c.Create(ctx, []client.NewRecord{r}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[j] = out.Records[0].ID
	}
	s.Stop()

	stores := map[string]*pebble.Store{}
	open := func(region string, s suite.Suite) *keyring.Keyring {
		st, err := pebble.Open(filepath.Join(data, "regions", region), pebble.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[region] = st
		secret, err := os.ReadFile(filepath.Join(data, "unseal", region+".secret"))
		if err != nil {
			t.Fatal(err)
		}
		kr, err := keyring.Open(ctx, keyring.Options{Region: region, Suite: s, Store: st, Secret: []byte(strings.TrimSpace(string(secret)))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kr.Close)
		return kr
	}
	cases := []struct {
		j, region string
		suite     suite.Suite
		aead      string
	}{
		{"CN", "cn-north", suite.CNSuite(), "SM4-GCM"},
		{"US", "us-east", suite.IntlSuite(), "AES-256-GCM"},
	}
	rings := map[string]*keyring.Keyring{}
	for _, tc := range cases {
		rings[tc.region] = open(tc.region, tc.suite)
	}
	for i, tc := range cases {
		kr := rings[tc.region]
		other := rings[cases[1-i].region]
		if got := kr.Suite().AEAD().ID(); got != tc.aead {
			t.Fatalf("%s keyring AEAD is %s, want %s", tc.region, got, tc.aead)
		}
		st := stores[tc.region]
		raw, err := st.Get(ctx, []byte("r/"+ids[tc.j]))
		if err != nil {
			t.Fatalf("%s record not in %s's store: %v", tc.j, tc.region, err)
		}
		rec, err := recordfmt.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rec.Fields {
			h, ct, err := envelope.Parse(f.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			if h.Suite != tc.suite.ID() {
				t.Fatalf("%s field %s names suite %s", tc.j, f.Name, h.Suite)
			}
			aead, err := kr.SubjectKeyByRef(ctx, rec.SubjectRef, h.KeyVersion, h.Suite)
			if err != nil {
				t.Fatal(err)
			}
			bind := envelope.Binding{Region: tc.region, Collection: "customers", Record: ids[tc.j], Field: f.Name}
			pt, err := envelope.Open(aead, h, ct, bind)
			if err != nil {
				t.Fatalf("%s field %s does not open under %s's key: %v", tc.j, f.Name, tc.region, err)
			}
			if string(pt) != want[tc.j].Fields[f.Name] {
				t.Fatalf("%s field %s decrypts to another value", tc.j, f.Name)
			}
			if _, err := other.SubjectKeyByRef(ctx, rec.SubjectRef, h.KeyVersion, h.Suite); err == nil {
				t.Fatalf("%s subject has a key in the other region", tc.j)
			}
		}
	}
	// The CN record is absent from us-east's store and vice versa.
	if _, err := stores["us-east"].Get(ctx, []byte("r/"+ids["CN"])); err == nil {
		t.Fatal("CN record found in us-east's store")
	}
}
