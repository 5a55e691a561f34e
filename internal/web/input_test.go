package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/domicile/domicile/internal/errcode"
)

func TestCheckStrings(t *testing.T) {
	tests := []struct {
		name, body string
		field      string // "" when the body passes
	}{
		{"ok/ascii", `{"a":"b"}`, ""},
		{"ok/utf8", `{"name":"王伟","x":["Jürgen"]}`, ""},
		{"ok/escaped", `{"name":"\u738b\u4f1f"}`, ""},
		{"ok/pair", `{"e":"\ud83d\ude00"}`, ""},
		{"ok/fffd-literal", "{\"n\":\"a\uFFFDb\"}", ""},
		{"ok/fffd-escaped", `{"n":"a\ufffdb"}`, ""},
		{"ok/numbers", `{"limit":5,"ok":true,"n":null,"f":1.5}`, ""},
		{"fail/raw-bytes", "{\"records\":[{\"fields\":{\"name\":\"Ann\xff\xfe\"}}]}", "name"},
		{"fail/lone-high", `{"field":"email","value":"a\ud800b"}`, "value"},
		{"fail/lone-low", `{"value":"\udc00"}`, "value"},
		{"fail/in-array", "{\"remove\":[\"ok\",\"x\xc3\"]}", "remove"},
		{"fail/after-nested", "{\"a\":{\"b\":1},\"c\":\"\xff\"}", "c"},
		{"fail/key", "{\"na\xffme\":\"x\"}", ""},
		{"fail/second-key", "{\"a\":\"x\",\"b\xff\":1}", ""},
		{"fail/top-level", "\"\xff\"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkStrings([]byte(tt.body))
			if strings.HasPrefix(tt.name, "ok/") {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.InvalidValue {
				t.Fatalf("got %v, want invalid_value", err)
			}
			if e.Field != tt.field {
				t.Errorf("field %q, want %q", e.Field, tt.field)
			}
			if !utf8.ValidString(e.Msg) {
				t.Errorf("message holds the value: %q", e.Msg)
			}
		})
	}
}

// FuzzCheckStrings: whatever the body, the gate never panics, and a body
// it lets through decodes to strings that are exactly what was sent (no
// replacement character the sender did not send).
func FuzzCheckStrings(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, "{\"a\":\"\xff\"}", `{"a":"\ud800"}`, `[1,"x",{"k":["\u00e9"]}]`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkStrings(body) != nil {
			return
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("passed invalid UTF-8: %q", body)
		}
	})
}

func TestRouterAnswers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/records/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/", NotFound)
	h := Middleware(mux, nil, nil, 0)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/records/rec_x", 204, "", ""},
		{"GET", "/v1/records/../../admin.token", 404, "no_such_endpoint", ""},
		{"GET", "/v1//records/x", 404, "no_such_endpoint", ""},
		{"GET", "/v1/./records/x", 404, "no_such_endpoint", ""},
		{"PUT", "/v1/records/rec_x", 405, "method_not_allowed", "GET, PATCH, DELETE"},
		{"GET", "/v1/records", 405, "method_not_allowed", "POST"},
		{"GET", "/v1/nothing", 404, "no_such_endpoint", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://x/", nil)
			req.URL.Path = tt.path // as sent, without the client's cleaning
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.status, rec.Body)
			}
			if tt.code == "" {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var p struct{ Code string }
			json.Unmarshal(rec.Body.Bytes(), &p)
			if p.Code != tt.code {
				t.Errorf("code %q, want %q", p.Code, tt.code)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}
