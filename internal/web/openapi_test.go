package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/errcode"
)

// The OpenAPI document is written by hand; these tests keep it honest
// against the route table and the code -> status table. internal/api's
// tests tie it to the wire types and the domain packages.

type jsonObj = map[string]any

// loadDoc decodes the embedded document, the bytes ServeOpenAPI serves.
func loadDoc(t *testing.T) jsonObj {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(openapiJSON))
	dec.UseNumber()
	var doc jsonObj
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json has data after the document")
	}
	return doc
}

// obj returns m[key] as an object, failing the test if it is not one.
func obj(t *testing.T, m jsonObj, key, where string) jsonObj {
	t.Helper()
	v, ok := m[key].(jsonObj)
	if !ok {
		t.Fatalf("%s: %q is missing or not an object", where, key)
	}
	return v
}

// resolve follows a local $ref ("#/a/b") through the document.
func resolve(doc jsonObj, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(jsonObj)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref returns m, or what it refers to if it is a $ref object.
func deref(t *testing.T, doc jsonObj, m jsonObj) jsonObj {
	t.Helper()
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v, ok := resolve(doc, ref)
		if !ok {
			t.Fatalf("$ref %s does not resolve", ref)
		}
		if m, ok = v.(jsonObj); !ok {
			t.Fatalf("$ref %s is not an object", ref)
		}
	}
	t.Fatal("$ref chain too long")
	return nil
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPIServed(t *testing.T) {
	rec := httptest.NewRecorder()
	ServeOpenAPI(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), openapiJSON) {
		t.Error("ServeOpenAPI does not serve the embedded document")
	}
}

// TestOpenAPIRoutes checks the route table against the document, both
// ways: every route is an operation named by the route's name, and every
// operation a route.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadDoc(t)
	paths := obj(t, doc, "paths", "document")
	known := map[string]bool{}
	names := map[string]bool{}
	for _, r := range Routes {
		if known[strings.ToLower(r.Method)+" "+r.Path] || names[r.Name] {
			t.Errorf("route %s (%s) is in the table twice", r.Name, r.Pattern())
		}
		known[strings.ToLower(r.Method)+" "+r.Path] = true
		names[r.Name] = true
		if r.Gateway.String() == "" || strings.HasPrefix(r.Gateway.String(), "Routing(") {
			t.Errorf("route %s: no gateway routing", r.Name)
		}
		item, ok := paths[r.Path].(jsonObj)
		if !ok {
			t.Errorf("route %s %s: path not in the document", r.Method, r.Path)
			continue
		}
		op, ok := item[strings.ToLower(r.Method)].(jsonObj)
		if !ok {
			t.Errorf("route %s %s: method not in the document", r.Method, r.Path)
			continue
		}
		if op["operationId"] != r.Name {
			t.Errorf("route %s %s: named %s, its operationId is %v", r.Method, r.Path, r.Name, op["operationId"])
		}
		authed := authenticatedPath(r.Path)
		if r.Public == authed {
			t.Errorf("route %s: Public is %v, but the document authenticates it: %v", r.Name, r.Public, authed)
		}
	}

	opIDs := map[string]string{}
	for path, v := range paths {
		item := v.(jsonObj)
		for _, method := range httpMethods {
			op, ok := item[method].(jsonObj)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			if !known[method+" "+path] {
				t.Errorf("%s is documented but is not in the route table", where)
			}
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s has no operationId", where)
			} else if prev, dup := opIDs[id]; dup {
				t.Errorf("operationId %s is used by %s and %s", id, prev, where)
			}
			opIDs[id] = where
			checkOperation(t, doc, where, path, item, op)
		}
	}
}

// authenticatedPath reports whether the API authenticates path: all of
// /v1 but the OpenAPI document and the unseal route (the shares are its
// credential; a sealed region cannot check a token).
func authenticatedPath(path string) bool {
	return strings.HasPrefix(path, "/v1/") && path != "/v1/openapi.json" && path != "/v1/regions/{region}/unseal"
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// checkOperation checks an operation's parameters and responses.
func checkOperation(t *testing.T, doc jsonObj, where, path string, item, op jsonObj) {
	t.Helper()
	params := map[string]jsonObj{} // "in name"
	for _, list := range []any{item["parameters"], op["parameters"]} {
		l, _ := list.([]any)
		for _, p := range l {
			pm := deref(t, doc, p.(jsonObj))
			params[pm["in"].(string)+" "+pm["name"].(string)] = pm
		}
	}
	want := map[string]bool{}
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		want[m[1]] = true
		p, ok := params["path "+m[1]]
		if !ok {
			t.Errorf("%s: path parameter %s is not declared", where, m[1])
		} else if p["required"] != true {
			t.Errorf("%s: path parameter %s is not required", where, m[1])
		}
	}
	for k := range params {
		if name, ok := strings.CutPrefix(k, "path "); ok && !want[name] {
			t.Errorf("%s: declares path parameter %s, which the path lacks", where, name)
		}
	}
	if _, ok := params["header X-Request-Id"]; !ok {
		t.Errorf("%s: no X-Request-Id header parameter", where)
	}
	// Every authenticated operation is decided by the access engine (or
	// at least authenticated) and may be denied; the gateway's failure
	// limiter answers 429 on every route.
	authed := authenticatedPath(path)
	if authed {
		if _, ok := params["header "+PurposeHeader]; !ok {
			t.Errorf("%s: no %s header parameter", where, PurposeHeader)
		}
	} else if _, ok := params["header "+PurposeHeader]; ok {
		t.Errorf("%s: declares %s, but no access decision is made", where, PurposeHeader)
	}
	if where == "POST /v1/records" {
		if _, ok := params["header Idempotency-Key"]; !ok {
			t.Errorf("%s: no Idempotency-Key header parameter", where)
		}
	}
	// The query parameters are exactly those the handlers read.
	gotQuery := map[string]bool{}
	for k, p := range params {
		if name, ok := strings.CutPrefix(k, "query "); ok {
			gotQuery[name] = p["required"] == true
		}
	}
	if want := queryParams[where]; !maps.Equal(gotQuery, want) {
		t.Errorf("%s: query parameters (name: required) %v, want %v", where, gotQuery, want)
	}

	responses, ok := op["responses"].(jsonObj)
	if !ok || len(responses) == 0 {
		t.Errorf("%s: no responses", where)
		return
	}
	wantStatus := []string{"429"}
	if authed {
		// 403 principal_locked and 502 region_unavailable: the breach
		// detector may lock the principal during any request, and fails
		// closed when it cannot record one. 503: the region may be
		// sealed, and its audit log, which records every request but
		// GET /v1/regions, fails closed with audit_unavailable.
		wantStatus = append(wantStatus, "401", "403", "502", "503")
	}
	for _, st := range wantStatus {
		if _, ok := responses[st]; !ok {
			t.Errorf("%s: no %s response", where, st)
		}
	}
	if rl, ok := responses["429"].(jsonObj); ok {
		if h, _ := deref(t, doc, rl)["headers"].(jsonObj); h["Retry-After"] == nil {
			t.Errorf("%s 429: no Retry-After header", where)
		}
	}
	if where == "GET /v1/records/{id}" {
		if ok200, ok := responses["200"].(jsonObj); ok {
			if h, _ := deref(t, doc, ok200)["headers"].(jsonObj); h[RuleHeader] == nil {
				t.Errorf("%s 200: no %s header", where, RuleHeader)
			}
		}
	}
	for status, v := range responses {
		resp := deref(t, doc, v.(jsonObj))
		code, err := strconv.Atoi(status)
		if err != nil {
			t.Errorf("%s: response %q is not a status", where, status)
			continue
		}
		if _, ok := resp["description"].(string); !ok {
			t.Errorf("%s %d: no description", where, code)
		}
		content, _ := resp["content"].(jsonObj)
		if code >= 400 && strings.HasPrefix(path, "/v1/") && path != "/v1/openapi.json" {
			mt, ok := content["application/problem+json"].(jsonObj)
			if !ok || len(content) != 1 {
				t.Errorf("%s %d: error response is not application/problem+json only", where, code)
				continue
			}
			if s, _ := mt["schema"].(jsonObj); s["$ref"] != "#/components/schemas/Problem" {
				t.Errorf("%s %d: error schema is %v, want the Problem schema", where, code, mt["schema"])
			}
		}
		if code < 400 {
			for ct, mt := range content {
				s, _ := mt.(jsonObj)["schema"].(jsonObj)
				if s == nil {
					t.Errorf("%s %d %s: no schema", where, code, ct)
				}
			}
		}
	}
}

// queryParams are the query parameters of each operation that has any, and
// whether each is required. Listings page by cursor (search takes them in
// its body).
var queryParams = map[string]map[string]bool{
	"GET /v1/subjects/{subject}/records":       {"cursor": false, "limit": false},
	"GET /v1/collections/{collection}/records": {"region": false, "cursor": false, "limit": false},
	"GET /v1/alerts": {"principal": false, "rule": false, "min_severity": false, "since": false, "until": false,
		"cursor": false, "limit": false},
	"GET /v1/regions/{region}/audit/entries": {"from": false, "to": false, "principal": false, "action": false,
		"record": false, "cursor": false, "limit": false},
	"GET /v1/regions/{region}/audit/proofs/inclusion":   {"index": true, "size": false},
	"GET /v1/regions/{region}/audit/proofs/consistency": {"old": true, "new": false},
	"GET /v1/regions/{region}/transfers/report":         {"year": false},
	"GET /v1/principals":                                {"role": false, "location": false, "organisation": false, "state": false},
}

// errorTableRow matches a row of the ErrorCode description table.
var errorTableRow = regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| ([0-9]{3}) \\|")

func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadDoc(t)
	ec := obj(t, obj(t, obj(t, doc, "components", "document"), "schemas", "components"), "ErrorCode", "schemas")
	enum, _ := ec["enum"].([]any)
	inEnum := map[string]bool{}
	for _, v := range enum {
		s, _ := v.(string)
		if inEnum[s] {
			t.Errorf("ErrorCode enum lists %s twice", s)
		}
		inEnum[s] = true
		if _, ok := statusOf[errcode.Code(s)]; !ok {
			t.Errorf("ErrorCode enum lists %q, which statusOf lacks", s)
		}
	}
	for code := range statusOf {
		if !inEnum[string(code)] {
			t.Errorf("code %s of statusOf is not in the ErrorCode enum", code)
		}
	}

	desc, _ := ec["description"].(string)
	rows := map[string]int{}
	for _, m := range errorTableRow.FindAllStringSubmatch(desc, -1) {
		st, _ := strconv.Atoi(m[2])
		if _, dup := rows[m[1]]; dup {
			t.Errorf("ErrorCode table lists %s twice", m[1])
		}
		rows[m[1]] = st
	}
	for code, st := range statusOf {
		got, ok := rows[string(code)]
		switch {
		case !ok:
			t.Errorf("ErrorCode table has no row for %s", code)
		case got != st:
			t.Errorf("ErrorCode table: %s is %d, statusOf says %d", code, got, st)
		}
	}
	for code := range rows {
		if _, ok := statusOf[errcode.Code(code)]; !ok {
			t.Errorf("ErrorCode table lists %s, which statusOf lacks", code)
		}
	}
	for code := range hints {
		if _, ok := statusOf[code]; !ok {
			t.Errorf("hint for %s, which statusOf lacks", code)
		}
	}
}

func TestOpenAPIRefs(t *testing.T) {
	doc := loadDoc(t)
	n := 0
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case jsonObj:
			if ref, ok := v["$ref"]; ok {
				n++
				s, _ := ref.(string)
				if _, ok := resolve(doc, s); !ok {
					t.Errorf("%s: $ref %v does not resolve", where, ref)
				}
			}
			for k, e := range v {
				walk(where+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(where+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
	if n == 0 {
		t.Fatal("no $ref in the document")
	}
}
