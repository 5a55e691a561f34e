package app

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/transfer"
)

// transferPolicy is the example policy with its commented cn-to-us rule
// enabled: US-based staff see Chinese customers' names and e-mails under
// the standard contract the policy records.
func transferPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	src := bytes.Replace(examples.Policy, []byte("\ntransfers:\n"), []byte(`
transfers:
  - name: cn-to-us-scc
    from: cn-north
    to: [US]
    basis: standard-contract
    collection: customers
    fields: [name, email]
    mechanism: cn-us-standard-contract
`), 1)
	if bytes.Equal(src, examples.Policy) {
		t.Fatal("the example policy has no transfers section to add a rule to")
	}
	pol, err := policy.Parse("policy.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// newTransferScene is newScene under transferPolicy.
func newTransferScene(t *testing.T) *scene {
	pol := transferPolicy(t)
	clock := &fakeClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	r, err := OpenRegion(context.Background(), RegionConfig{Policy: pol, Name: "cn-north", Dir: filepath.Join(t.TempDir(), "cn-north"),
		Secret: []byte("scenario"), KDF: benchKDF, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	backends := map[string]gateway.Backend{}
	for _, pr := range pol.Regions {
		backends[pr.Name] = gateway.Backend{URL: &url.URL{Scheme: "http", Host: pr.Name}, Transport: gateway.LocalTransport(r.Handler)}
	}
	gw, err := gateway.New(gateway.Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s := &scene{t: t, clock: clock, region: r, url: "http://" + ln.Addr().String()}
	s.admin = s.principal("admin-cn", "admin")
	return s
}

// keyHistory returns the region's audit keys as 'audit keys --pem' gives
// them, and its log's origin.
func keyHistory(t *testing.T, s *scene) ([]crypto.PublicKey, string) {
	t.Helper()
	hist, err := s.admin.AuditKeys(context.Background(), "cn-north")
	if err != nil {
		t.Fatal(err)
	}
	var keys []crypto.PublicKey
	for _, k := range hist.Keys {
		blk, _ := pem.Decode([]byte(k.PublicKey))
		if blk == nil {
			t.Fatalf("key v%d: no PEM", k.Version)
		}
		pub, err := s.region.Keyring.Suite().Signature().ParsePublicKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pub)
	}
	return keys, hist.Origin
}

// verifyServed checks a served report as 'domicile transfers verify' does:
// the signature with the key history, and the readable copy against the
// payload.
func verifyServed(t *testing.T, s *scene, rep *client.TransferReport, keys []crypto.PublicKey, origin string) (*transfer.Report, error) {
	t.Helper()
	kh, err := hex.DecodeString(rep.KeyHash)
	if err != nil || len(kh) != 4 {
		t.Fatalf("key_hash %q", rep.KeyHash)
	}
	su := s.region.Keyring.Suite()
	r, err := transfer.VerifyReport(&transfer.Signed{Payload: rep.Payload, Algorithm: rep.Algorithm, KeyHash: [4]byte(kh), Signature: rep.Signature},
		origin, keys, su.Signature(), su.Hash())
	if err != nil {
		return nil, err
	}
	var fromPayload, fromObject any
	json.Unmarshal(rep.Payload, &fromPayload)
	obj, _ := json.Marshal(rep.Report)
	json.Unmarshal(obj, &fromObject)
	if !reflect.DeepEqual(fromPayload, fromObject) {
		t.Errorf("the served report object differs from the signed payload:\n payload: %s\n object:  %s", rep.Payload, obj)
	}
	if rep.Region != r.Region || rep.Year != r.Year {
		t.Errorf("envelope names %s %d, the payload %s %d", rep.Region, rep.Year, r.Region, r.Year)
	}
	return r, nil
}

// TestTransferReportOverAPI: a principal in the US reads a Chinese
// customer under the standard contract; the region's signed report of the
// year counts the individual, verifies offline with the audit key
// history (also after a rotation), and fails with a key not in it.
func TestTransferReportOverAPI(t *testing.T) {
	s := newTransferScene(t)
	ctx := context.Background()
	keys, origin := keyHistory(t, s)

	// An empty ledger.
	rep, err := s.admin.TransferReport(ctx, "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verifyServed(t, s, rep, keys, origin)
	if err != nil {
		t.Fatalf("the report of an empty ledger does not verify: %v", err)
	}
	if r.Year != 2026 || r.Individuals != (transfer.Individuals{}) || len(r.Transfers) != 0 || r.Required != "exempt" {
		t.Fatalf("report of an empty ledger %+v", r)
	}

	// A transfer: a US-based agent reads one Chinese customer.
	id := s.records(1)[0]
	tok := access.NewToken()
	if err := EnsurePrincipals(ctx, []*Region{s.region}, []Bootstrap{{
		Account: access.Account{ID: "agent-us", Kind: "person", Roles: []string{"admin"}, Location: "US"}, Token: tok}}); err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(s.url, tok, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := agent.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Access == nil || !rec.Access.Transfer || rec.Access.Fields["name"] != "clear" {
		t.Fatalf("the US agent's read: access %+v, want a transfer with the name in clear", rec.Access)
	}

	rep, err = s.admin.TransferReport(ctx, "cn-north", 2026)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = verifyServed(t, s, rep, keys, origin); err != nil {
		t.Fatalf("the report does not verify with the key history: %v", err)
	}
	if r.Individuals != (transfer.Individuals{NonSensitive: 1}) || len(r.Transfers) != 1 {
		t.Fatalf("report after one transfer: individuals %+v, transfers %+v", r.Individuals, r.Transfers)
	}
	if c := r.Transfers[0]; c != (transfer.Count{Jurisdiction: "CN", Destination: "US", Mechanism: "cn-us-standard-contract", Class: "non-sensitive", Individuals: 1, Records: 1}) {
		t.Errorf("bucket %+v", c)
	}
	if len(r.Mechanisms) != 1 || r.Mechanisms[0].Individuals != 1 || r.Mechanisms[0].Status != "valid" {
		t.Errorf("mechanisms %+v", r.Mechanisms)
	}
	if rep.Report.Individuals.NonSensitive != 1 {
		t.Errorf("the readable copy counts %d individuals", rep.Report.Individuals.NonSensitive)
	}

	// The served bytes are what the client decodes; an edited payload or
	// another year's figures do not pass for this one.
	raw, err := s.admin.TransferReportJSON(ctx, "cn-north", 2026)
	if err != nil {
		t.Fatal(err)
	}
	var again client.TransferReport
	if err := json.Unmarshal(raw, &again); err != nil || again.Region != "cn-north" || len(again.Payload) == 0 {
		t.Fatalf("raw answer %s: %v", raw, err)
	}
	edited := *rep
	edited.Payload = bytes.Replace(rep.Payload, []byte(`"non_sensitive":1`), []byte(`"non_sensitive":0`), 1)
	if _, err := verifyServed(t, s, &edited, keys, origin); !errors.Is(err, transfer.ErrReport) {
		t.Errorf("an edited payload: %v, want a verification failure", err)
	}
	last, err := s.admin.TransferReport(ctx, "cn-north", 2025)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := verifyServed(t, s, last, keys, origin); err != nil || r.Year != 2025 || r.Individuals != (transfer.Individuals{}) {
		t.Errorf("2025's report: %+v, %v", r, err)
	}

	// Years out of range and malformed ones are refused.
	var ce *client.Error
	for _, y := range []int{1999, 2028} {
		if _, err := s.admin.TransferReport(ctx, "cn-north", y); !errors.As(err, &ce) || ce.Problem.Code != "invalid_request" {
			t.Errorf("year %d: %v, want invalid_request", y, err)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1/regions/cn-north/transfers/report?year=last", nil)
	req.Header.Set("Authorization", "Bearer "+tok) // the agent is an admin too
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p client.Problem
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || p.Code != "invalid_request" {
		t.Errorf("year=last: HTTP %d %+v, want 400 invalid_request", resp.StatusCode, p)
	}

	// After a rotation of the audit key, the new report names the new key:
	// it verifies with the new history, not with the old one alone, and
	// the earlier report still verifies.
	if _, err := s.admin.Rotate(ctx, "cn-north", "audit"); err != nil {
		t.Fatal(err)
	}
	newKeys, _ := keyHistory(t, s)
	next, err := s.admin.TransferReport(ctx, "cn-north", 0)
	if err != nil {
		t.Fatal(err)
	}
	if next.KeyHash == rep.KeyHash {
		t.Errorf("the report after the rotation is signed by the old key %s", rep.KeyHash)
	}
	if _, err := verifyServed(t, s, next, newKeys, origin); err != nil {
		t.Errorf("the report after the rotation: %v", err)
	}
	if _, err := verifyServed(t, s, next, keys, origin); !errors.Is(err, transfer.ErrReport) {
		t.Errorf("the report after the rotation verified with the old keys only: %v", err)
	}
	if _, err := verifyServed(t, s, rep, newKeys, origin); err != nil {
		t.Errorf("the report before the rotation, with the new history: %v", err)
	}
}
