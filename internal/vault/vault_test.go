package vault_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/vault"
)

type fixture struct {
	v   *vault.Vault
	st  store.Store
	kr  *keyring.Keyring
	pol *policy.Policy
}

var testKDF = keyring.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func newVault(t testing.TB, region string) *fixture {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pr, _ := pol.Region(region)
	s, err := suite.ByID(pr.Suite)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Open(context.Background(), keyring.Options{Region: region, Suite: s, Store: st, Secret: []byte("test secret"), KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Close)
	v, err := vault.New(vault.Options{Policy: pol, Region: region, Keyring: kr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{v: v, st: st, kr: kr, pol: pol}
}

func cnCustomer(subject string) vault.NewRecord {
	return vault.NewRecord{Collection: "customers", Subject: subject, Jurisdiction: "CN", Fields: map[string]string{
		"name": "王伟", "email": "Wang.Wei@Example.cn", "phone": "+86 138 0013 8000",
		"national_id": "11010519491231002X", "date_of_birth": "1949-12-31", "address": "北京市东城区景山前街4号",
	}}
}

func create1(t *testing.T, v *vault.Vault, r vault.NewRecord) string {
	t.Helper()
	out, err := v.Create(context.Background(), []vault.NewRecord{r}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out[0].ID
}

func TestCreateGet(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	want := cnCustomer("cust-1")
	id := create1(t, f.v, want)
	if r, ok := vault.RegionOfID(id); !ok || r != "cn-north" {
		t.Fatalf("id %q does not name cn-north", id)
	}
	got, err := f.v.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "cust-1" || got.Jurisdiction != "CN" || got.Region != "cn-north" {
		t.Fatalf("got %+v", got)
	}
	for k, v := range want.Fields {
		if got.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, got.Fields[k], v)
		}
	}
	// Every field is an SM4-GCM envelope of the cn suite bound to the record.
	raw, err := f.st.Get(ctx, []byte("r/"+id))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recordfmt.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range rec.Fields {
		h, _, err := envelope.Parse(fl.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		if h.Suite != suite.CN {
			t.Errorf("field %s sealed under suite %s", fl.Name, h.Suite)
		}
		if strings.Contains(string(fl.Envelope), want.Fields[fl.Name]) {
			t.Errorf("field %s stored in clear", fl.Name)
		}
	}
}

func TestBadInput(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	good := cnCustomer("cust-1")
	mod := func(fn func(r *vault.NewRecord)) vault.NewRecord {
		r := cnCustomer("cust-1")
		r.Fields = map[string]string{}
		for k, v := range good.Fields {
			r.Fields[k] = v
		}
		fn(&r)
		return r
	}
	for _, tc := range []struct {
		name string
		rec  vault.NewRecord
		code vault.Code
	}{
		{"fail/unknown-collection", mod(func(r *vault.NewRecord) { r.Collection = "orders" }), vault.CodeUnknownCollection},
		{"fail/unknown-jurisdiction", mod(func(r *vault.NewRecord) { r.Jurisdiction = "XX" }), vault.CodeUnknownJurisdiction},
		{"fail/wrong-region", mod(func(r *vault.NewRecord) { r.Jurisdiction = "DE" }), vault.CodeWrongRegion},
		{"fail/unknown-field", mod(func(r *vault.NewRecord) { r.Fields["shoe_size"] = "42" }), vault.CodeUnknownField},
		{"fail/oversized", mod(func(r *vault.NewRecord) { r.Fields["address"] = strings.Repeat("街", 1000) }), vault.CodeFieldTooLarge},
		{"fail/bad-email", mod(func(r *vault.NewRecord) { r.Fields["email"] = "not an email" }), vault.CodeInvalidValue},
		{"fail/bad-id-check-digit", mod(func(r *vault.NewRecord) { r.Fields["national_id"] = "110105194912310021" }), vault.CodeInvalidValue},
		{"fail/empty-subject", mod(func(r *vault.NewRecord) { r.Subject = "" }), vault.CodeInvalidSubject},
		{"fail/invalid-utf8", mod(func(r *vault.NewRecord) { r.Fields["name"] = "\xff\xfe" }), vault.CodeInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.Create(ctx, []vault.NewRecord{good, tc.rec}, vault.CreateOptions{})
			if got := vault.CodeOf(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			var ve *vault.Error
			if errors.As(err, &ve) && ve.Index != 1 {
				t.Errorf("index = %d, want 1", ve.Index)
			}
			for _, val := range tc.rec.Fields {
				if strings.Contains(err.Error(), val) {
					t.Errorf("error %q contains a submitted value", err)
				}
			}
			st, err := f.v.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := st.Records["customers"]; n != 0 {
				t.Fatalf("a failed batch stored %d records", n)
			}
		})
	}
}

// TestSwapDetected moves stored ciphertexts between records and fields: the
// read must fail, never return the other value.
func TestSwapDetected(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	a := create1(t, f.v, cnCustomer("cust-a"))
	b := create1(t, f.v, cnCustomer("cust-a")) // same subject: same key
	load := func(id string) *recordfmt.Record {
		raw, err := f.st.Get(ctx, []byte("r/"+id))
		if err != nil {
			t.Fatal(err)
		}
		r, err := recordfmt.Parse(append([]byte(nil), raw...))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	save := func(id string, r *recordfmt.Record) {
		var bt store.Batch
		bt.Put([]byte("r/"+id), recordfmt.Marshal(r))
		if err := f.st.Apply(ctx, &bt); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(ra, rb *recordfmt.Record)
	}{
		{"fail/swap-records", func(ra, rb *recordfmt.Record) {
			ra.Fields[0].Envelope, rb.Fields[0].Envelope = rb.Fields[0].Envelope, ra.Fields[0].Envelope
		}},
		{"fail/swap-fields", func(ra, rb *recordfmt.Record) {
			ra.Fields[0].Envelope, ra.Fields[1].Envelope = ra.Fields[1].Envelope, ra.Fields[0].Envelope
		}},
		{"fail/flip-byte", func(ra, rb *recordfmt.Record) {
			env := append([]byte(nil), ra.Fields[2].Envelope...)
			env[len(env)-1] ^= 1
			ra.Fields[2].Envelope = env
		}},
		{"fail/swap-subject", func(ra, rb *recordfmt.Record) { ra.Subject, rb.Subject = rb.Subject, ra.Subject }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra, rb := load(a), load(b)
			origA, origB := recordfmt.Marshal(ra), recordfmt.Marshal(rb)
			tc.edit(ra, rb)
			save(a, ra)
			save(b, rb)
			if _, err := f.v.Get(ctx, a); vault.CodeOf(err) != vault.CodeIntegrity {
				t.Fatalf("Get after tampering = %v, want %s", err, vault.CodeIntegrity)
			}
			// Restore.
			pa, _ := recordfmt.Parse(origA)
			pb, _ := recordfmt.Parse(origB)
			save(a, pa)
			save(b, pb)
			if _, err := f.v.Get(ctx, a); err != nil {
				t.Fatalf("Get after restore: %v", err)
			}
		})
	}
}

func TestEraseSubjectShreds(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	id := create1(t, f.v, cnCustomer("cust-e"))
	other := create1(t, f.v, cnCustomer("cust-keep"))
	backup, err := f.st.Get(ctx, []byte("r/"+id))
	if err != nil {
		t.Fatal(err)
	}
	backup = append([]byte(nil), backup...)
	n, err := f.v.EraseSubject(ctx, "cust-e", vault.Actor{})
	if err != nil || n != 1 {
		t.Fatalf("EraseSubject = %d, %v", n, err)
	}
	if _, err := f.v.Get(ctx, id); vault.CodeOf(err) != vault.CodeNotFound {
		t.Fatalf("Get erased = %v", err)
	}
	// A backup copy of the record, restored, no longer decrypts.
	var b store.Batch
	b.Put([]byte("r/"+id), backup)
	if err := f.st.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Get(ctx, id); vault.CodeOf(err) != vault.CodeSubjectErased {
		t.Fatalf("Get restored backup = %v, want %s", err, vault.CodeSubjectErased)
	}
	if _, err := f.v.Get(ctx, other); err != nil {
		t.Fatalf("other subject: %v", err)
	}
	// The subject can come back, under a new key.
	id2 := create1(t, f.v, cnCustomer("cust-e"))
	if _, err := f.v.Get(ctx, id2); err != nil {
		t.Fatal(err)
	}
}

func TestFindNormalises(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	id := create1(t, f.v, cnCustomer("cust-f"))
	for _, tc := range []struct{ field, value string }{
		{"email", "wang.wei@example.cn"},
		{"email", "  WANG.WEI@EXAMPLE.CN "},
		{"phone", "+8613800138000"},
		{"phone", "138-0013-8000"},
		{"national_id", "110105 19491231 002x"},
	} {
		t.Run("ok/"+tc.field+"/"+tc.value, func(t *testing.T) {
			p, err := f.v.Find(ctx, "customers", tc.field, tc.value, "", "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != 1 || p.Records[0].ID != id {
				t.Fatalf("found %d records", len(p.Records))
			}
		})
	}
	if _, err := f.v.Find(ctx, "customers", "address", "x", "", "", 10); vault.CodeOf(err) != vault.CodeNotIndexed {
		t.Fatalf("search on unindexed field: %v", err)
	}
	// Patching the e-mail moves the index entry.
	if _, err := f.v.Patch(ctx, id, map[string]string{"email": "new@example.cn"}, nil, vault.Actor{}); err != nil {
		t.Fatal(err)
	}
	p, err := f.v.Find(ctx, "customers", "email", "wang.wei@example.cn", "", "", 10)
	if err != nil || len(p.Records) != 0 {
		t.Fatalf("old e-mail still found: %v %v", p, err)
	}
	p, err = f.v.Find(ctx, "customers", "email", "NEW@example.cn", "", "", 10)
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("new e-mail not found: %v", err)
	}
}

func TestPaginationAndIdempotency(t *testing.T) {
	f := newVault(t, "eu-central")
	ctx := context.Background()
	var recs []vault.NewRecord
	for i := range 7 {
		recs = append(recs, vault.NewRecord{Collection: "customers", Subject: "cust-p", Jurisdiction: "DE",
			Fields: map[string]string{"name": fmt.Sprintf("Jürgen Müller %d", i), "email": "j@example.de"}})
	}
	out, err := f.v.Create(ctx, recs, vault.CreateOptions{IdempotencyKey: "k1", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.v.Create(ctx, recs, vault.CreateOptions{IdempotencyKey: "k1", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if out[i].ID != again[i].ID || !again[i].Replayed || out[i].Replayed {
			t.Fatalf("replay gave other ids")
		}
	}
	recs[0].Fields["name"] = "Other"
	if _, err := f.v.Create(ctx, recs, vault.CreateOptions{IdempotencyKey: "k1", Scope: "admin"}); vault.CodeOf(err) != vault.CodeIdempotencyReused {
		t.Fatalf("reused key: %v", err)
	}
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		p, err := f.v.ListBySubject(ctx, "cust-p", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			if seen[r.ID] {
				t.Fatalf("record %s twice", r.ID)
			}
			seen[r.ID] = true
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d records, want 7", len(seen))
	}
	st, _ := f.v.Stats(ctx)
	if st.Records["customers"] != 7 {
		t.Fatalf("count = %d", st.Records["customers"])
	}
}

// TestAuditFailsClosed: when the audit log cannot take an entry, a create
// fails with audit_unavailable and stores nothing; with the log working,
// the create and its entry commit together.
func TestAuditFailsClosed(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	s := f.kr.Suite()
	log, err := audit.Open(ctx, audit.Options{Store: f.st, Region: "cn-north", Origin: "test/cn-north", Hash: s.Hash(),
		Signature: s.Signature(), Signer: f.kr.AuditSigner, Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(vault.Options{Policy: f.pol, Region: "cn-north", Keyring: f.kr, Store: f.st, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Create(ctx, []vault.NewRecord{cnCustomer("cust-a1")}, vault.CreateOptions{Actor: vault.Actor{Principal: "tester"}}); err != nil {
		t.Fatal(err)
	}
	if err := log.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if log.Size() != 1 {
		t.Fatalf("log size %d after one create, want 1", log.Size())
	}
	log.Close() // the log can no longer append
	_, err = v.Create(ctx, []vault.NewRecord{cnCustomer("cust-a2")}, vault.CreateOptions{})
	if vault.CodeOf(err) != vault.CodeAuditUnavailable {
		t.Fatalf("create with a closed audit log: %v, want %s", err, vault.CodeAuditUnavailable)
	}
	st, err := v.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records["customers"] != 1 {
		t.Fatalf("%d records stored, want only the audited one", st.Records["customers"])
	}
}
