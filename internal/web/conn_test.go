package web

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
)

// TestListenerProblems sends requests that net/http refuses before any
// handler runs, over a real connection, and checks that every answer is a
// problem+json document with a stable code, while a well-formed request
// reaches the handler untouched.
func TestListenerProblems(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		MaxHeaderBytes: MaxHeaderBytes,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			io.WriteString(w, "handler")
		}),
	}
	go srv.Serve(Listener(ln))
	t.Cleanup(func() { srv.Close() })

	big := strings.Repeat("a", MaxHeaderBytes+8192)
	for _, tc := range []struct {
		name, raw string
		status    int
		code      string
		detail    string
	}{
		{"header block too large", "GET /v1/regions HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, "header_too_large", "64 KiB"},
		{"no host", "GET /v1/regions HTTP/1.1\r\n\r\n", 400, "invalid_request", "missing required Host header"},
		{"bad header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400, "invalid_request", "invalid header name"},
		{"not http", "HELLO\r\n\r\n", 400, "invalid_request", "not well-formed"},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "invalid_request", "not well-formed"},
		{"unknown version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "invalid_request", "not well-formed"},
		{"well formed", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go io.WriteString(c, tc.raw) // the server may answer before reading it all
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.code == "" {
				if string(body) != "handler" {
					t.Fatalf("the handler's answer was changed: %q", body)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p client.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if p.Code != tc.code || p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) || p.Type == "" || p.Title == "" {
				t.Fatalf("problem %+v, want code %s, status %d, detail with %q", p, tc.code, tc.status, tc.detail)
			}
		})
	}
}

// TestRewriteOnlyServerErrors: responses written by handlers, whatever
// their content, pass through unchanged.
func TestRewriteOnlyServerErrors(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\n\r\nhi",
		"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n\r\n{}",
		"partial body bytes",
		"",
	} {
		if out, ok := rewritePlainError([]byte(raw)); ok {
			t.Errorf("%q rewritten to %q", raw, out)
		}
	}
}
