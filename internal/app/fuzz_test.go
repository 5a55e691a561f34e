package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/gateway"
	"github.com/domicile/domicile/internal/vault"
)

// FuzzHTTP drives the gateway and, through it, a region's node in process
// with arbitrary methods, paths, headers and bodies. Whatever arrives: no
// panic, no 5xx, every error is a problem+json document with a code, and a
// refused request changes nothing the vault keeps (records, indexes,
// tokens, keys, principals; the audit log and the guard record refusals
// too, by design). make test runs it for a bounded time; its corpus is in
// testdata/fuzz/FuzzHTTP.
func FuzzHTTP(f *testing.F) {
	pol := benchPolicy(f) // no guard: a fuzzer reads far faster than any budget
	r, err := OpenRegion(context.Background(), RegionConfig{Policy: pol, Name: "cn-north", Dir: filepath.Join(f.TempDir(), "cn-north"),
		Secret: []byte("fuzz"), KDF: benchKDF})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	token := access.NewToken()
	admin := access.Account{ID: "fuzz-admin", Kind: "person", Roles: []string{"admin"}, Location: "CN"}
	if err := EnsurePrincipals(context.Background(), []*Region{r}, []Bootstrap{{Account: admin, Token: token}}); err != nil {
		f.Fatal(err)
	}
	backends := map[string]gateway.Backend{}
	for _, pr := range pol.Regions {
		backends[pr.Name] = gateway.Backend{URL: &url.URL{Scheme: "http", Host: pr.Name}, Transport: gateway.LocalTransport(r.Handler)}
	}
	gw, err := gateway.New(gateway.Options{Resolver: pol.Resolver(), Backends: backends})
	if err != nil {
		f.Fatal(err)
	}
	out, err := r.Vault.Create(context.Background(), []vault.NewRecord{{Collection: "customers", Subject: "cust-1", Jurisdiction: "CN",
		Fields: map[string]string{"name": "王伟", "email": "wang.wei@example.com", "phone": "+86 138 0013 8000"}}}, vault.CreateOptions{})
	if err != nil {
		f.Fatal(err)
	}
	id := out[0].ID
	for _, s := range []struct {
		method, path, ctype string
		body                string
		auth                bool
	}{
		{"POST", "/v1/records", "application/json", `{"records":[{"collection":"customers","subject":"s","jurisdiction":"CN","fields":{"name":"x"}}]}`, true},
		{"POST", "/v1/records", "application/json", "{\"records\":[{\"fields\":{\"name\":\"\xff\"}}]}", true},
		{"GET", "/v1/records/" + id, "", "", true},
		{"PATCH", "/v1/records/" + id, "application/json", `{"set":{"email":"nope"}}`, true},
		{"DELETE", "/v1/records/rec_cn-north_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", "", true},
		{"GET", "/v1/subjects/cust-1/records?limit=-1", "", "", true},
		{"POST", "/v1/collections/customers/search", "application/json", `{"field":"email","value":"WANG.wei@example.com","limit":-5}`, true},
		{"POST", "/v1/tokenize", "application/json", `{"items":[{"collection":"customers","field":"email","value":"a@b.c","jurisdiction":"CN"}]}`, true},
		{"POST", "/v1/detokenize", "application/json", `{"items":[{"token":"tkd_cn-north_v1_aaaa"}]}`, true},
		{"GET", "/v1/records/../../admin.token", "", "", false},
		{"PUT", "/v1/regions/cn-north/keys", "", "", true},
		{"GET", "/v1/regions/cn-north/audit/proofs/inclusion?index=99&size=1", "", "", true},
		{"POST", "/v1/principals", "application/json", `{"id":"p","roles":["nobody"]}`, true},
	} {
		f.Add(s.method, s.path, s.ctype, []byte(s.body), s.auth)
	}
	snapshot := func() [32]byte {
		kvs, err := r.Store.Scan(context.Background(), nil, nil, 0)
		if err != nil {
			f.Fatal(err)
		}
		h := sha256.New()
		for _, kv := range kvs {
			if bytes.HasPrefix(kv.Key, []byte("a/")) || bytes.HasPrefix(kv.Key, []byte("g/")) {
				continue // the audit log and the guard record refusals too
			}
			h.Write(kv.Key)
			h.Write([]byte{0})
			h.Write(kv.Value)
			h.Write([]byte{0})
		}
		var sum [32]byte
		h.Sum(sum[:0])
		return sum
	}
	f.Fuzz(func(t *testing.T, method, path, ctype string, body []byte, auth bool) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return // not a request line a server would parse
		}
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return
		}
		req := httptest.NewRequest("GET", "http://gateway/", bytes.NewReader(body))
		req.Method, req.URL, req.RequestURI = method, u, path
		if ctype != "" && !strings.ContainsAny(ctype, "\r\n") {
			req.Header.Set("Content-Type", ctype)
		}
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		before := snapshot()
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s: %d with Content-Type %q", method, path, rec.Code, ct)
		}
		var p client.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
			t.Fatalf("%s %s: %d is not a problem document: %q", method, path, rec.Code, rec.Body)
		}
		if snapshot() != before {
			t.Fatalf("%s %s: refused with %s but changed the store", method, path, p.Code)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}
