package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
)

// TestBadInput: every kind of bad request gets a 4xx problem+json with a
// stable code, changes nothing, and leaves no submitted value in the logs.
func TestBadInput(t *testing.T) {
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	ctx := context.Background()
	good := client.NewRecord{Collection: "customers", Subject: "cust-b", Jurisdiction: "CN", Fields: map[string]string{
		"name": "李秀英", "email": "li.xiuying@example.cn", "phone": "+86 139 1234 5678"}}
	if _, err := s.client(t).Create(ctx, []client.NewRecord{good}, ""); err != nil {
		t.Fatal(err)
	}
	const secretish = "zq-unique-needle-4711@example.org"
	rec := func(mod func(r *client.NewRecord)) []byte {
		r := client.NewRecord{Collection: "customers", Subject: "cust-x", Jurisdiction: "DE", Fields: map[string]string{"email": secretish}}
		mod(&r)
		return mustJSON(t, client.CreateRequest{Records: []client.NewRecord{r}})
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		token  string
		body   []byte
		status int
		code   string
	}{
		{"fail/malformed-json", "POST", "/v1/records", s.Token, []byte(`{"records": [{"collection": "customers", "fields": {"email": "` + secretish + `"`), 400, "malformed_json"},
		{"fail/not-json", "POST", "/v1/records", s.Token, []byte(secretish), 400, "malformed_json"},
		{"fail/unknown-key", "POST", "/v1/records", s.Token, []byte(`{"records": [], "x": 1}`), 400, "malformed_json"},
		{"fail/unknown-jurisdiction", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Jurisdiction = "XX" }), 400, "unknown_jurisdiction"},
		{"fail/unknown-collection", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Collection = "orders" }), 400, "unknown_collection"},
		{"fail/unknown-field", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Fields["shoe_size"] = secretish }), 400, "unknown_field"},
		{"fail/oversized-value", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Fields["address"] = strings.Repeat(secretish, 100) }), 413, "field_too_large"},
		{"fail/invalid-email", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Fields["email"] = "no at sign " + secretish[:10] }), 400, "invalid_value"},
		{"fail/oversized-body", "POST", "/v1/records", s.Token, []byte(`{"records":[{"collection":"customers","subject":"s","jurisdiction":"DE","fields":{"name":"` + strings.Repeat("a", 9<<20) + `"}}]}`), 413, "body_too_large"},
		{"fail/cross-region-batch", "POST", "/v1/records", s.Token, mustJSON(t, client.CreateRequest{Records: []client.NewRecord{good, {Collection: "customers", Subject: "s", Jurisdiction: "US", Fields: map[string]string{"email": secretish}}}}), 400, "cross_region_batch"},
		{"fail/no-token", "POST", "/v1/records", "", rec(func(r *client.NewRecord) {}), 401, "unauthenticated"},
		{"fail/wrong-token", "POST", "/v1/records", "dmc_wrong", rec(func(r *client.NewRecord) {}), 401, "unauthenticated"},
		{"fail/malformed-id", "GET", "/v1/records/not-an-id", s.Token, nil, 400, "invalid_record_id"},
		{"fail/missing-record", "GET", "/v1/records/rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", s.Token, nil, 404, "not_found"},
		{"fail/search-unindexed", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"address","value":"` + secretish + `"}`), 400, "field_not_indexed"},
		{"fail/no-endpoint", "GET", "/v1/nothing", s.Token, nil, 404, "no_such_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, body := s.do(t, tc.method, tc.path, tc.token, tc.body)
			var p client.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body is not a problem document: %q", body)
			}
			if status != tc.status || ctype != "application/problem+json" || p.Code != tc.code {
				t.Fatalf("got %d %s code %q (%s), want %d %q", status, ctype, p.Code, p.Detail, tc.status, tc.code)
			}
			if p.RequestID == "" || p.Status != status {
				t.Errorf("problem lacks request id or status: %+v", p)
			}
			if strings.Contains(string(body), secretish[:12]) {
				t.Errorf("answer echoes a submitted value: %s", body)
			}
		})
	}
	// Nothing changed: still exactly one record.
	rr, err := s.client(t).Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, r := range rr.Regions {
		total += r.Records["customers"]
	}
	if total != 1 {
		t.Fatalf("bad requests changed the record count to %d", total)
	}
	s.Stop()
	logs := s.stderr.String() + s.stdout.String()
	for _, v := range []string{secretish[:12], "李秀英", "li.xiuying", "1234 5678"} {
		if strings.Contains(logs, v) {
			t.Errorf("server output contains a submitted value %q", v)
		}
	}
}

// TestBadPolicy: a malformed policy file stops the server with the line
// and a hint, and exit status 1.
func TestBadPolicy(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "policy.yaml")
	os.WriteFile(bad, []byte("version: 1\nregions:\n  - name: cn-north\n    suite: cn\n    jursidictions: [CN]\n"), 0o600)
	out, err := exec.Command(binary, "dev", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--policy", bad).CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errorAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("dev with a bad policy: %v\n%s", err, out)
	}
	for _, want := range []string{"policy.yaml:5", "jursidictions", "hint:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
