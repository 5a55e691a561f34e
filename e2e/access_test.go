package e2e

import (
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
)

var cnCustomer = client.NewRecord{Collection: "customers", Subject: "cust-zhang", Jurisdiction: "CN", Fields: map[string]string{
	"name": "张伟", "email": "zhang.wei@example.com", "phone": "+86 138 0013 8000",
	"national_id": "11010519491231002X", "date_of_birth": "1949-12-31", "address": "北京市东城区景山前街4号"}}

// TestAccessFromAbroad checks issue 4's acceptance end to end: masking for
// a US support agent, clear values in China, the US administrator before
// and after a standard-contract transfer rule, 401 for disabled and
// expired tokens, 403 naming the missing permission, no token in clear on
// disk or in logs, and a rate limit on bad tokens per address.
func TestAccessFromAbroad(t *testing.T) {
	data := t.TempDir()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, examples.Policy, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startDev(t, data, nil, "--no-seed", "--policy", policyFile)
	ctx := context.Background()
	out, err := s.client(t).Create(ctx, []client.NewRecord{cnCustomer}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Records[0].ID
	var tokens []string

	mk := func(pid, loc string, roles ...string) *client.Client {
		t.Helper()
		out, err := s.client(t).CreatePrincipal(ctx, client.PrincipalRequest{ID: pid, Kind: "person", Roles: roles, Location: loc})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, out.Token)
		c, _ := client.New(s.URL, out.Token)
		return c
	}
	supportUS := mk("agent-us", "US", "support").ForPurpose("support")
	supportCN := mk("agent-cn", "CN", "support").ForPurpose("support")
	adminUS := mk("boss-us", "US", "admin").ForPurpose("support")
	ingest := mk("crm-sync", "CN", "ingest")

	// A US support agent: masked name and phone, no national id.
	r, err := supportUS.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["name"] != "张*" || r.Fields["phone"] != "*************8000" {
		t.Errorf("US support agent sees name %q phone %q, want masked", r.Fields["name"], r.Fields["phone"])
	}
	if _, ok := r.Fields["national_id"]; ok {
		t.Errorf("US support agent sees the national id")
	}
	if !r.Access.Transfer || r.Access.Rule != "abroad-masked" {
		t.Errorf("access %+v, want a masked transfer", r.Access)
	}
	// A CN agent with purpose support: clear name and phone.
	r, err = supportCN.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["name"] != "张伟" || r.Fields["phone"] != "+86 138 0013 8000" || r.Access.Rule != "in-region" {
		t.Errorf("CN support agent sees %v (%+v)", r.Fields, r.Access)
	}
	// The same agent without a purpose sees masked values.
	r, err = supportCN.ForPurpose("").Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["name"] == "张伟" {
		t.Errorf("clear value without a purpose")
	}
	// The US administrator: nothing clear from cn-north.
	r, err = adminUS.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for f, v := range r.Fields {
		if v == cnCustomer.Fields[f] {
			t.Errorf("US admin sees %s in clear without a transfer rule", f)
		}
	}
	// A principal without the permission: 403 naming it.
	_, err = ingest.Get(ctx, id)
	if client.CodeOf(err) != "permission_denied" || !strings.Contains(err.Error(), "lacks permission read") {
		t.Errorf("ingest read: %v", err)
	}
	// Disabled and expired tokens: 401.
	if _, err := s.client(t).SetPrincipalState(ctx, "agent-cn", "disable"); err != nil {
		t.Fatal(err)
	}
	if _, err := supportCN.Get(ctx, id); client.CodeOf(err) != "unauthenticated" {
		t.Errorf("disabled principal: %v", err)
	}
	exp, err := s.client(t).CreatePrincipal(ctx, client.PrincipalRequest{ID: "temp", Kind: "person", Roles: []string{"support"}, Location: "CN", ExpiresIn: "1ns"})
	if err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, exp.Token)
	expired, _ := client.New(s.URL, exp.Token)
	if _, err := expired.Get(ctx, id); client.CodeOf(err) != "unauthenticated" {
		t.Errorf("expired token: %v", err)
	}

	// A burst of wrong tokens from 127.0.0.1 is slowed down; 127.0.0.2 is not.
	limited := 0
	for range 20 {
		status, _, _ := s.do(t, http.MethodGet, "/v1/records/"+id, "dmc_"+strings.Repeat("a", 52), nil)
		if status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("20 wrong tokens in a row were never rate limited")
	}
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/records/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("another address was affected by the rate limit: %d", resp.StatusCode)
	}
	s.Stop()

	// With a standard-contract rule for the US, the administrator gets
	// exactly the fields the rule allows.
	rule := "  - name: cn-to-us-scc\n    from: cn-north\n    to: [US]\n    basis: standard-contract\n    collection: customers\n    fields: [name, email]\n"
	pol := strings.Replace(string(examples.Policy), "\ntransfers:\n", "\ntransfers:\n"+rule, 1)
	if err := os.WriteFile(policyFile, []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	s = startDev(t, data, nil, "--no-seed", "--policy", policyFile)
	status, _, body := s.do(t, http.MethodGet, "/v1/records/"+id, tokens[2], nil)
	if status != http.StatusOK {
		t.Fatalf("admin read after the rule: %d %s", status, body)
	}
	adminUS, _ = client.New(s.URL, tokens[2], client.WithPurpose("support"))
	r, err = adminUS.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var clear []string
	for f, v := range r.Fields {
		if v == cnCustomer.Fields[f] {
			clear = append(clear, f)
		}
	}
	if strings.Join(slices.Sorted(slices.Values(clear)), ",") != "email,name" || r.Access.Rule != "cn-to-us-scc" {
		t.Errorf("with the rule the US admin sees %v in clear (rule %q), want email,name", clear, r.Access.Rule)
	}
	s.Stop()

	// No token in clear anywhere on disk or in the server's output, except
	// the dev token files that exist to hand tokens to the operator.
	logs := s.stderr.String() + s.stdout.String()
	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".token") {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, tok := range tokens {
			if strings.Contains(string(b), tok) || strings.Contains(string(b), tok[4:20]) {
				t.Errorf("file %s holds a token in clear", path)
			}
		}
		return nil
	})
	for _, tok := range tokens {
		if strings.Contains(logs, tok[4:20]) {
			t.Errorf("server output holds a token")
		}
	}
}
