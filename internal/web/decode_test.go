package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
)

// DecodeBody accepts exactly the request it is sent and answers every other
// body with malformed_json (or invalid_value for a string that is not
// Unicode) and a message that names keys and offsets, never a value.
func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name, ct, body string
		code           errcode.Code
		msg            string // in the message
	}{
		{"ok", "application/json", `{"items":[{"collection":"c","field":"f","value":"SECRET","jurisdiction":"CN"}]}`, "", ""},
		{"ok without content type", "", `{"items":[]}`, "", ""},
		{"ok with charset", "application/json; charset=utf-8", ` {"items":[]} ` + "\n", "", ""},
		{"wrong content type", "text/plain", `{"items":[]}`, errcode.MalformedJSON, "Content-Type"},
		{"empty", "", "", errcode.MalformedJSON, "is empty"},
		{"white space", "", " \n\t", errcode.MalformedJSON, "is empty"},
		{"truncated", "", `{"items":[{"value":"SECRET"`, errcode.MalformedJSON, "ends in the middle"},
		{"trailing value", "", `{"items":[]} {"items":[]}`, errcode.MalformedJSON, "data after the JSON value"},
		{"trailing garbage", "", `{"items":[]}x`, errcode.MalformedJSON, "data after the JSON value"},
		{"syntax", "", `{"items":[{"value":SECRET}]}`, errcode.MalformedJSON, "at byte 19"},
		{"unknown key", "", `{"items":[{"valeu":"SECRET"}]}`, errcode.MalformedJSON, `unknown JSON key "valeu"`},
		{"key in another case", "", `{"items":[{"Value":"SECRET"}]}`, errcode.MalformedJSON, `unknown JSON key "Value"`},
		{"repeated key", "", `{"items":[{"jurisdiction":"DE","value":"SECRET","jurisdiction":"CN"}]}`, errcode.MalformedJSON, `JSON key "items.jurisdiction" appears twice`},
		{"wrong type", "", `{"items":[{"value":12345}]}`, errcode.MalformedJSON, `JSON key "items.value" must be of type string`},
		{"not an object", "", `["SECRET"]`, errcode.MalformedJSON, "the request body must be of type"},
		{"trailing after an error", "", `{"items":[{"value":1}]} x`, errcode.MalformedJSON, "must be of type"},
		{"invalid UTF-8", "", "{\"items\":[{\"value\":\"\xff\"}]}", errcode.InvalidValue, `"value" is not valid UTF-8`},
		{"long unknown key", "", `{"` + strings.Repeat("k", 200) + `":1}`, errcode.MalformedJSON, `"` + strings.Repeat("k", 64) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req client.TokenizeRequest
			err := DecodeBody(tt.ct, []byte(tt.body), &req)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("DecodeBody: %v", err)
				}
				return
			}
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("DecodeBody = %v, want code %s", err, tt.code)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q does not say %q", e.Msg, tt.msg)
			}
			if strings.Contains(e.Msg, "SECRET") || strings.Contains(e.Msg, strings.Repeat("k", 65)) {
				t.Errorf("message %q quotes the body", e.Msg)
			}
		})
	}
}

// Map keys and array positions are a client's choice and may be data: a
// message names the struct fields on the way instead, as encoding/json's
// did.
func TestDecodeBodyNamesNoMapKey(t *testing.T) {
	for _, tt := range []struct{ body, msg string }{
		{`{"records":[{"collection":"c","fields":{"SECRET@example.com":5}}]}`, `JSON key "records.fields" must be of type string`},
		{`{"records":[{"collection":"c","fields":{"SECRET":"a","SECRET":"b"}}]}`, `a key appears twice in "records.fields"`},
		{`{"records":[{"collection":"c","collection":"d"}]}`, `JSON key "records.collection" appears twice`},
	} {
		var req client.CreateRequest
		err := DecodeBody("", []byte(tt.body), &req)
		var e *errcode.Error
		if !errors.As(err, &e) || e.Code != errcode.MalformedJSON || e.Msg != tt.msg {
			t.Errorf("DecodeBody(%s) = %v, want %q", tt.body, err, tt.msg)
		}
	}
}

// A decoded string is not kept for the next request: the library's pooled
// decoders cache the short strings they make (an unseal share among
// them), which DecodeBody's decoders of their own do not share.
func TestDecodeBodyKeepsNoString(t *testing.T) {
	body := []byte(`{"share":"share-that-must-not-stay-in-memory"}`)
	var first, second client.UnsealRequest
	if err := DecodeBody("", body, &first); err != nil {
		t.Fatal(err)
	}
	if err := DecodeBody("", body, &second); err != nil {
		t.Fatal(err)
	}
	if first.Share != second.Share || unsafe.StringData(first.Share) == unsafe.StringData(second.Share) {
		t.Error("the second decode returned the first decode's string: a cache kept it")
	}
}

// A repeated key is refused by Peek too, so that the gateway, which routes
// by Peek, and the region, which decodes with DecodeBody, never read one
// body two ways; a key in another case is another key to both.
func TestPeekReadsAsDecodeBody(t *testing.T) {
	type route struct {
		Items []struct {
			Jurisdiction string `json:"jurisdiction"`
		} `json:"items"`
	}
	for _, tt := range []struct {
		body string
		peek string // the jurisdiction Peek reads, "" for an error
	}{
		{`{"items":[{"jurisdiction":"DE","jurisdiction":"CN"}]}`, ""},
		{`{"items":[{"jurisdiction":"DE"}],"items":[{"jurisdiction":"CN"}]}`, ""},
		{`{"items":[{"JURISDICTION":"CN","jurisdiction":"DE"}]}`, "DE"},
	} {
		var r route
		err := Peek([]byte(tt.body), &r)
		if (err == nil) != (tt.peek != "") || err == nil && r.Items[0].Jurisdiction != tt.peek {
			t.Errorf("Peek(%s) = %v, %+v; want %q", tt.body, err, r, tt.peek)
		}
		var req client.TokenizeRequest
		if err := DecodeBody("", []byte(tt.body), &req); err == nil {
			t.Errorf("DecodeBody(%s) accepted it", tt.body)
		}
	}
	var r route
	if err := Peek([]byte(`{"items":[{"jurisdiction":"CN","value":"x","other":1}]}`), &r); err != nil || r.Items[0].Jurisdiction != "CN" {
		t.Errorf("Peek of a body with other keys: %v, %+v", err, r)
	}
}

// FuzzDecodeBody: whatever the body, DecodeBody never panics, answers
// with a coded error, and accepts only what encoding/json also accepts
// strictly and reads the same way, for request types of every shape
// (slices of structs, maps, pointers, integers): it is a stricter reader,
// never a different one.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"collection":"c","field":"f","value":"v","jurisdiction":"CN","subject":"s"}]}`,
		`{"items":[{"value":"a\u00e9\n"}]}`, `{"items":null}`, `{"items":[{"value":1}]}`,
		`{"items":[{"value":"x","value":"y"}]}`, `{"Items":[]}`, `{"items":[]} x`, `{`, ``,
		`{"records":[{"collection":"c","subject":"s","jurisdiction":"CN","fields":{"email":"a@b.c"}}]}`,
		`{"set":{"name":"x"},"remove":["phone"]}`, `{"roles":["a"],"location":null,"regions":[]}`,
		`{"purpose":"token","version":3,"force":true}`, `{"version":-1}`, `{"version":1e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		decodeLikeV1[client.TokenizeRequest](t, body)
		decodeLikeV1[client.CreateRequest](t, body)
		decodeLikeV1[client.PatchRequest](t, body)
		decodeLikeV1[client.PrincipalChange](t, body)
		decodeLikeV1[client.KeyVersionRequest](t, body)
	})
}

// decodeLikeV1 decodes body into a T with DecodeBody and, when that
// succeeds, with encoding/json's strict decoder, which must agree.
func decodeLikeV1[T any](t *testing.T, body []byte) {
	var got T
	if err := DecodeBody("application/json", body, &got); err != nil {
		var e *errcode.Error
		if !errors.As(err, &e) || (e.Code != errcode.MalformedJSON && e.Code != errcode.InvalidValue) {
			t.Fatalf("DecodeBody(%q) into %T = %v, not a coded error", body, got, err)
		}
		return
	}
	var want T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("DecodeBody accepted %q into %T, encoding/json refuses it: %v", body, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: DecodeBody read %+v, encoding/json %+v", body, got, want)
	}
}

// tokenizeBatch is a tokenize request of n items, as the load generator
// sends.
func tokenizeBatch(n int) []byte {
	var req client.TokenizeRequest
	for i := range n {
		req.Items = append(req.Items, client.TokenizeItem{Collection: "customers", Field: "email",
			Value: "user" + strings.Repeat("x", i%7) + "@example.com", Jurisdiction: "CN"})
	}
	b, _ := json.Marshal(req)
	return b
}

// BenchmarkDecodeBody decodes a tokenize batch of 100 items, the request
// every token pays for twice (the gateway's Peek of the jurisdictions, the
// region's DecodeBody), next to encoding/json's strict decode, which
// DecodeJSON used before: go test ./internal/web -run '^$' -bench DecodeBody
func BenchmarkDecodeBody(b *testing.B) {
	body := tokenizeBatch(100)
	b.Run("DecodeBody", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req client.TokenizeRequest
			if err := DecodeBody("application/json", body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req client.TokenizeRequest
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				b.Fatal(err)
			}
		}
	})
	type route struct {
		Items []struct {
			Jurisdiction string `json:"jurisdiction"`
		} `json:"items"`
	}
	b.Run("Peek", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r route
			if err := Peek(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Peek-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r route
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
