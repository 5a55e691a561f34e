package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
)

func TestProblemOf(t *testing.T) {
	e := errcode.New(errcode.CrossRegionBatch, "record %d elsewhere", 2)
	e.Index = 2
	p := ProblemOf(fmt.Errorf("wrapped: %w", e))
	if p.Code != "cross_region_batch" || p.Status != 400 || p.Detail != "record 2 elsewhere" || p.Index == nil || *p.Index != 2 || p.Hint == "" ||
		p.Type != "https://domicile.dev/problems/cross_region_batch" || p.Title != "Bad Request" {
		t.Errorf("ProblemOf = %+v", p)
	}
	p = ProblemOf(errcode.Wrap(errcode.UnknownField, errors.New("secret cause"), "no field"))
	if p.Index != nil || p.Status != 400 || strings.Contains(p.Detail, "secret") {
		t.Errorf("ProblemOf = %+v", p)
	}
	p = ProblemOf(errors.New("disk on fire"))
	if p.Code != "internal_error" || p.Status != 500 || strings.Contains(p.Detail, "fire") {
		t.Errorf("ProblemOf(plain error) = %+v", p)
	}
	if st, ok := StatusOf("no_such_code"); ok || st != 500 {
		t.Errorf("StatusOf(unknown) = %d, %v", st, ok)
	}
}

func TestMiddlewareAndErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /x", func(w http.ResponseWriter, r *http.Request) {
		var v struct{ A int }
		if err := DecodeJSON(r, &v); err != nil {
			WriteError(w, r, nil, err)
			return
		}
		WriteJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("/", NotFound)
	h := Middleware(mux, NewMetrics(), nil, 64)
	for _, c := range []struct {
		method, path, body, id string
		status                 int
		code                   string
	}{
		{"POST", "/x", `{"A":1}`, "abc", 200, ""},
		{"POST", "/x", `{"B":1}`, "", 400, "malformed_json"},
		{"POST", "/x", `{"A":1} 2`, "", 400, "malformed_json"},
		{"POST", "/x", `{"A":"` + strings.Repeat("x", 100) + `"}`, "", 413, "body_too_large"},
		{"GET", "/panic", "", "", 500, "internal_error"},
		{"GET", "/nowhere", "", "bad id!", 404, "no_such_endpoint"},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.id != "" {
			req.Header.Set(RequestIDHeader, c.id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := rec.Header().Get(RequestIDHeader)
		if rec.Code != c.status || id == "" || (c.id == "abc") != (id == "abc") {
			t.Errorf("%s %s: %d, request id %q: %s", c.method, c.path, rec.Code, id, rec.Body)
		}
		if c.code != "" {
			var p client.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != c.code || p.RequestID != id ||
				rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s: problem %+v (%v), want code %s", c.method, c.path, p, err, c.code)
			}
		}
	}
}

func TestRegister(t *testing.T) {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	err := Register(mux, Routes, func(rt Route) http.Handler {
		if rt.Name == "getRecord" {
			return nil
		}
		return ok
	})
	if err == nil || !strings.Contains(err.Error(), "getRecord") {
		t.Fatalf("Register without a handler: %v", err)
	}
	if err := Register(mux, Routes, func(Route) http.Handler { return ok }); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/records/rec_x_y", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("GET /v1/records/{id}: %d", rec.Code)
	}
}

// ReadBody returns the whole body whatever length the request declares,
// allocates once for a true one, and nothing up front for a length past
// maxPrealloc.
func TestReadBody(t *testing.T) {
	body := strings.Repeat(`{"value":"x"},`, 800) // 11,200 bytes, a batch's size
	for _, tc := range []struct {
		name     string
		declared int64
		maxCap   int
	}{
		{"true length", int64(len(body)), len(body) + 1},
		{"unknown length", -1, 4 * len(body)},
		{"too short a length", 10, 4 * len(body)},
		{"false huge length", maxPrealloc + 1, 4 * len(body)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/tokenize", strings.NewReader(body))
			r.ContentLength = tc.declared
			got, err := ReadBody(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != body {
				t.Fatalf("read %d bytes, want the %d sent", len(got), len(body))
			}
			if cap(got) > tc.maxCap {
				t.Errorf("buffer of %d bytes for a %d-byte body, want at most %d", cap(got), len(body), tc.maxCap)
			}
		})
	}
}
