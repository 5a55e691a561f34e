package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	created, err := s.client(t).Create(ctx, []client.NewRecord{good}, "")
	if err != nil {
		t.Fatal(err)
	}
	goodID := created.Records[0].ID
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
		// Strings that are not what was sent.
		{"fail/invalid-utf8", "POST", "/v1/records", s.Token, []byte("{\"records\":[{\"collection\":\"customers\",\"subject\":\"s\",\"jurisdiction\":\"DE\",\"fields\":{\"name\":\"Ann\xff\xfe\"}}]}"), 400, "invalid_value"},
		{"fail/lone-surrogate", "POST", "/v1/records", s.Token, []byte(`{"records":[{"collection":"customers","subject":"s","jurisdiction":"DE","fields":{"name":"Ann\ud800"}}]}`), 400, "invalid_value"},
		{"fail/invalid-utf8-search", "POST", "/v1/collections/customers/search", s.Token, []byte("{\"field\":\"email\",\"value\":\"a\xc3@example.com\"}"), 400, "invalid_value"},
		{"fail/replacement-char-domain", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Fields["email"] = "ann@exa\uFFFDmple.com" }), 400, "invalid_value"},
		// Broken JSON and wrong types.
		{"fail/empty-body", "POST", "/v1/records", s.Token, []byte{}, 400, "malformed_json"},
		{"fail/trailing-data", "POST", "/v1/records", s.Token, []byte(`{"records":[]} {}`), 400, "malformed_json"},
		{"fail/array-body", "POST", "/v1/records", s.Token, []byte(`[1,2]`), 400, "malformed_json"},
		{"fail/records-not-array", "POST", "/v1/records", s.Token, []byte(`{"records":{"a":1}}`), 400, "malformed_json"},
		{"fail/fields-not-strings", "POST", "/v1/records", s.Token, []byte(`{"records":[{"collection":"customers","subject":"s","jurisdiction":"DE","fields":{"name":5}}]}`), 400, "malformed_json"},
		{"fail/limit-not-number", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"email","value":"a@example.com","limit":"5"}`), 400, "malformed_json"},
		{"fail/limit-huge", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"email","value":"a@example.com","limit":1e40}`), 400, "malformed_json"},
		{"fail/deep-nesting", "POST", "/v1/records", s.Token, []byte(`{"records":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), 400, "malformed_json"},
		{"fail/null-records", "POST", "/v1/records", s.Token, []byte(`{"records":null}`), 400, "too_many_records"},
		{"fail/no-records", "POST", "/v1/records", s.Token, []byte(`{"records":[]}`), 400, "too_many_records"},
		{"fail/text-content-type", "POST", "/v1/tokenize", s.Token, nil, 400, "malformed_json"},
		// Records.
		{"fail/missing-subject", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Subject = "" }), 400, "invalid_subject"},
		{"fail/subject-too-long", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Subject = strings.Repeat("s", 300) }), 400, "invalid_subject"},
		{"fail/missing-jurisdiction", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Jurisdiction = "" }), 400, "unknown_jurisdiction"},
		{"fail/patch-set-and-remove", "PATCH", "/v1/records/" + goodID, s.Token, []byte(`{"set":{"name":"x"},"remove":["name"]}`), 400, "invalid_value"},
		{"fail/patch-unknown-field-existing", "PATCH", "/v1/records/" + goodID, s.Token, []byte(`{"set":{"shoe_size":"9"}}`), 400, "unknown_field"},
		{"fail/patch-invalid-value", "PATCH", "/v1/records/" + goodID, s.Token, []byte(`{"set":{"email":"nope"}}`), 400, "invalid_value"},
		{"fail/invalid-phone", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Fields["phone"] = "12" }), 400, "invalid_value"},
		{"fail/invalid-date", "POST", "/v1/records", s.Token, rec(func(r *client.NewRecord) { r.Fields["date_of_birth"] = "1990-02-31" }), 400, "invalid_value"},
		{"fail/too-many-records", "POST", "/v1/records", s.Token, mustJSON(t, client.CreateRequest{Records: slices.Repeat([]client.NewRecord{good}, 1001)}), 400, "too_many_records"},
		{"fail/long-idempotency-key", "POST", "/v1/records", s.Token, nil, 400, "invalid_request"},
		{"fail/patch-unknown-field", "PATCH", "/v1/records/rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", s.Token, []byte(`{"set":{"shoe_size":"9"}}`), 404, "not_found"},
		{"fail/patch-malformed-id", "PATCH", "/v1/records/rec_nowhere", s.Token, []byte(`{"set":{"name":"x"}}`), 400, "invalid_record_id"},
		{"fail/patch-bad-json", "PATCH", "/v1/records/rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", s.Token, []byte(`{"set":`), 400, "malformed_json"},
		{"fail/delete-malformed-id", "DELETE", "/v1/records/x", s.Token, nil, 400, "invalid_record_id"},
		{"fail/unknown-region-id", "GET", "/v1/records/rec_mars_aaaaaaaaaaaaaaaaaaaaaaaaaa", s.Token, nil, 404, "not_found"},
		{"fail/erase-bad-subject", "DELETE", "/v1/subjects/" + strings.Repeat("s", 300), s.Token, nil, 400, "invalid_subject"},
		{"fail/list-negative-limit", "GET", "/v1/subjects/cust-b/records?limit=-1", s.Token, nil, 400, "invalid_request"},
		{"fail/list-zero-limit", "GET", "/v1/subjects/cust-b/records?limit=0", s.Token, nil, 400, "invalid_request"},
		{"fail/list-text-limit", "GET", "/v1/subjects/cust-b/records?limit=ten", s.Token, nil, 400, "invalid_request"},
		{"fail/list-bad-cursor", "GET", "/v1/subjects/cust-b/records?cursor=zzz", s.Token, nil, 400, "invalid_cursor"},
		// Searches.
		{"fail/search-negative-limit", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"email","value":"a@example.com","limit":-5}`), 400, "invalid_request"},
		{"fail/search-bad-cursor", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"email","value":"a@example.com","jurisdiction":"CN","cursor":"zzz"}`), 400, "invalid_cursor"},
		{"fail/search-unknown-field", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"shoe","value":"9"}`), 400, "unknown_field"},
		{"fail/search-unknown-collection", "POST", "/v1/collections/orders/search", s.Token, []byte(`{"field":"email","value":"a@example.com"}`), 400, "unknown_collection"},
		{"fail/search-invalid-value", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"email","value":"not an email"}`), 400, "invalid_value"},
		{"fail/search-unknown-jurisdiction", "POST", "/v1/collections/customers/search", s.Token, []byte(`{"field":"email","value":"a@example.com","jurisdiction":"XX"}`), 400, "unknown_jurisdiction"},
		// Tokens.
		{"fail/tokenize-too-many", "POST", "/v1/tokenize", s.Token, mustJSON(t, client.TokenizeRequest{Items: make([]client.TokenizeItem, 1001)}), 400, "too_many_items"},
		{"fail/detokenize-too-many", "POST", "/v1/detokenize", s.Token, mustJSON(t, client.DetokenizeRequest{Items: make([]client.DetokenizeItem, 1001)}), 400, "too_many_items"},
		{"fail/detokenize-bad-json", "POST", "/v1/detokenize", s.Token, []byte(`{"items":[{"token":5}]}`), 400, "malformed_json"},
		// Bearer tokens.
		{"fail/basic-auth", "GET", "/v1/regions", "", nil, 401, "unauthenticated"},
		{"fail/token-wrong-prefix", "GET", "/v1/regions", "abc_" + strings.Repeat("a", 52), nil, 401, "unauthenticated"},
		{"fail/token-tampered", "GET", "/v1/regions", s.Token[:len(s.Token)-1] + "x", nil, 401, "unauthenticated"},
		{"fail/token-huge", "GET", "/v1/regions", "dmc_" + strings.Repeat("a", 8000), nil, 401, "unauthenticated"},
		// Routes and paths.
		{"fail/dot-dot", "GET", "/v1/records/../../admin.token", s.Token, nil, 404, "no_such_endpoint"},
		{"fail/double-slash", "GET", "/v1//regions", s.Token, nil, 404, "no_such_endpoint"},
		{"fail/wrong-method", "PUT", "/v1/records", s.Token, nil, 405, "method_not_allowed"},
		{"fail/wrong-method-id", "POST", "/v1/records/rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", s.Token, nil, 405, "method_not_allowed"},
		// Administration.
		{"fail/keys-unknown-region", "GET", "/v1/regions/mars/keys", s.Token, nil, 404, "unknown_region"},
		{"fail/rotate-bad-purpose", "POST", "/v1/regions/cn-north/keys/rotate", s.Token, []byte(`{"purpose":"everything"}`), 400, "invalid_request"},
		{"fail/alerts-bad-severity", "GET", "/v1/alerts?min_severity=apocalyptic", s.Token, nil, 400, "invalid_request"},
		{"fail/alerts-bad-since", "GET", "/v1/alerts?since=yesterday", s.Token, nil, 400, "invalid_request"},
		{"fail/audit-bad-index", "GET", "/v1/regions/cn-north/audit/entries/minus-one", s.Token, nil, 400, "invalid_request"},
		{"fail/audit-index-out-of-range", "GET", "/v1/regions/cn-north/audit/entries/99999999", s.Token, nil, 404, "audit_out_of_range"},
		{"fail/audit-proof-no-index", "GET", "/v1/regions/cn-north/audit/proofs/inclusion", s.Token, nil, 400, "invalid_request"},
		{"fail/audit-bad-time", "GET", "/v1/regions/cn-north/audit/entries?from=noon", s.Token, nil, 400, "invalid_request"},
		{"fail/decoys-zero", "POST", "/v1/regions/cn-north/decoys", s.Token, []byte(`{"count":0}`), 400, "invalid_request"},
		{"fail/decoys-too-many", "POST", "/v1/regions/cn-north/decoys", s.Token, []byte(`{"count":5000}`), 400, "invalid_request"},
		{"fail/principal-bad-id", "POST", "/v1/principals", s.Token, []byte(`{"id":"bad id!","kind":"person","roles":["support"],"location":"CN"}`), 400, "invalid_principal"},
		{"fail/principal-unknown-role", "POST", "/v1/principals", s.Token, []byte(`{"id":"p1","kind":"person","roles":["overlord"],"location":"CN"}`), 400, "invalid_principal"},
		{"fail/principal-bad-location", "POST", "/v1/principals", s.Token, []byte(`{"id":"p2","kind":"person","roles":["support"],"location":"XX"}`), 400, "invalid_principal"},
		{"fail/principal-bad-organisation", "POST", "/v1/principals", s.Token, []byte(`{"id":"p4","kind":"person","roles":["support"],"location":"US","organisation":"Acme Inc"}`), 400, "invalid_principal"},
		{"fail/principal-bad-expiry", "POST", "/v1/principals", s.Token, []byte(`{"id":"p3","kind":"person","roles":["support"],"location":"CN","expires_in":"forever"}`), 400, "invalid_request"},
		{"fail/principal-unknown", "GET", "/v1/principals/nobody", s.Token, nil, 404, "no_such_principal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			switch tc.name {
			case "fail/basic-auth":
				hdr["Authorization"] = "Basic YWRtaW46YWRtaW4="
			case "fail/text-content-type":
				tc.body, hdr["Content-Type"] = []byte(`{"items":[]}`), "text/plain"
			case "fail/long-idempotency-key":
				tc.body, hdr["Idempotency-Key"] = rec(func(r *client.NewRecord) {}), strings.Repeat("k", 300)
			}
			status, ctype, body := s.doHeaders(t, tc.method, tc.path, tc.token, tc.body, hdr)
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
