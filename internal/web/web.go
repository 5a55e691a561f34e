// Package web is the HTTP plumbing that a region's node (internal/api) and
// the gateway share: the middleware every endpoint runs behind (request
// ids, body limit, panic recovery, metrics), strict JSON decoding, the one
// table from error codes to HTTP statuses and problem+json documents, the
// failure limiter, the route table of the /v1 API and its OpenAPI
// document.
//
// It links only internal/errcode, the client's wire types, Prometheus and
// go-json-experiment/json (encoding/json/v2, for decoding requests):
// never the vault, the keyring, the access engine, the policy or the token
// service, so that the gateway stays free of the region stack.
package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/domicile/domicile/internal/errcode"
)

// DefaultMaxBody is the largest request body accepted, in bytes.
const DefaultMaxBody = 8 << 20

// maxPrealloc is the largest declared body length ReadBody allocates for
// before reading.
const maxPrealloc = 1 << 20

// Request and response headers of the API.
const (
	// RequestIDHeader carries the request id, echoed in every answer.
	RequestIDHeader = "X-Request-Id"
	// PurposeHeader states a request's purpose.
	PurposeHeader = "Domicile-Purpose"
	// RuleHeader says which access rule applied to an answer.
	RuleHeader = "Domicile-Access-Rule"
)

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Middleware wraps h with what every Domicile endpoint does: a request id
// (echoed from X-Request-Id when well formed), a body limit (maxBody, or
// DefaultMaxBody when not positive), panic recovery into a problem, and,
// when it is the request's edge (the outermost Middleware the request
// passes in this process), one count in m's HTTP series (when m is not
// nil) and one access line in log (see Metrics). It never logs URLs,
// bodies or headers: they can hold personal data and tokens.
func Middleware(h http.Handler, m *Metrics, log *slog.Logger, maxBody int64) http.Handler {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, edge := enter(r) // nil when an outer server counts and logs r
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		sw := &statusWriter{ResponseWriter: w}
		if !canonical(r.URL.Path) {
			// The router would answer with a redirect; a path with . or
			// .. segments or doubled slashes names no endpoint.
			WriteError(sw, r, log, errcode.New(errcode.NoSuchEndpoint, "the path is not in canonical form (no '.', '..' or empty segments)"))
			m.finish(log, r, edge, sw, sw.status, start)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "request_id", id, "route", r.Pattern, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					WriteError(sw, r, log, errors.New("panic"))
				}
			}
			m.finish(log, r, edge, sw, sw.status, start)
		}()
		h.ServeHTTP(sw, r)
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestID returns the id of a request that went through Middleware.
func RequestID(r *http.Request) string { return r.Header.Get(RequestIDHeader) }

// ReadBody reads a request's whole body, into one buffer of the length the
// request declares: io.ReadAll regrows its buffer from 512 bytes, about
// twice the body in garbage, and batch bodies are read on every hop. A
// declared length past maxPrealloc (a tokenize batch of 1,000 items is about
// 110 KB) gets no buffer up front, so that a client cannot make the server
// hold more than that for bytes it has not sent.
func ReadBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > maxPrealloc {
		n = bytes.MinRead - 1
	}
	// One byte more than declared, to see EOF without regrowing; then as
	// io.ReadAll.
	b := make([]byte, 0, n+1)
	for {
		m, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// BodyError is the error of a request body that could not be read:
// body_too_large past the Middleware's limit, malformed_json otherwise.
func BodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errcode.New(errcode.BodyTooLarge, "request body exceeds %d bytes", mbe.Limit)
	}
	return errcode.New(errcode.MalformedJSON, "could not read the request body")
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// NotFound answers a request no route matched with a no_such_endpoint
// problem, or with method_not_allowed and an Allow header when the path
// is a route's with other methods.
func NotFound(w http.ResponseWriter, r *http.Request) { refuseRoute(w, r) }
