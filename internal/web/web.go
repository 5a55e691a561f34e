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
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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

// DecodeJSON reads a JSON body into v, strictly: unknown keys, repeated
// keys, keys that differ from v's only in case, trailing data and
// oversized bodies are *errcode.Error values with stable codes
// (malformed_json, body_too_large). Messages name keys and offsets, never
// values.
func DecodeJSON(r *http.Request, v any) error {
	body, err := ReadBody(r)
	if err != nil {
		return BodyError(err)
	}
	return DecodeBody(r.Header.Get("Content-Type"), body, v)
}

// DecodeBody is DecodeJSON for a body already read, sent with Content-Type
// ct.
//
// It decodes with encoding/json/v2's semantics (go-json-experiment/json,
// the standard library's from Go 1.27): a third of encoding/json's CPU
// for a batch of 100 tokens, and, unlike encoding/json, it rejects a
// repeated key instead of keeping the last one, so that no two readers of
// a body (the gateway routes by a part of it) can see different values.
func DecodeBody(ct string, body []byte, v any) error {
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errcode.New(errcode.MalformedJSON, "Content-Type must be application/json")
	}
	if err := checkStrings(body); err != nil {
		return err
	}
	err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	return jsonError(body, err)
}

// Peek decodes from body only what v names, ignoring other keys, as
// DecodeBody reads them (keys exact, a repeated key refused): the gateway
// routes a request by a part of its body and forwards the whole, which the
// region decodes with DecodeBody. The error is json's, for the caller to
// judge.
func Peek(body []byte, v any) error {
	return jsonv2.Unmarshal(body, v)
}

// jsonError is the malformed_json error of a body that json.Unmarshal
// refused with err.
func jsonError(body []byte, err error) error {
	var se *jsontext.SyntacticError
	var te *jsonv2.SemanticError
	switch {
	case len(bytes.TrimLeft(body, " \t\r\n")) == 0:
		return errcode.New(errcode.MalformedJSON, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errcode.New(errcode.MalformedJSON, "request body ends in the middle of a JSON value")
	case errors.Is(err, jsontext.ErrDuplicateName):
		return errcode.New(errcode.MalformedJSON, "JSON key %s appears twice", keyName(err))
	case errors.As(err, &se) && trailing(body):
		return errcode.New(errcode.MalformedJSON, "request body has data after the JSON value")
	case se != nil:
		return errcode.New(errcode.MalformedJSON, "request body is not valid JSON (at byte %d)", se.ByteOffset)
	case errors.Is(err, jsonv2.ErrUnknownName):
		return errcode.New(errcode.MalformedJSON, "unknown JSON key %s (keys are case-sensitive)", keyName(err))
	case errors.As(err, &te) && te.GoType != nil && te.JSONKind != 0:
		return errcode.New(errcode.MalformedJSON, "JSON key %s must be of type %s", keyName(err), te.GoType)
	}
	return errcode.New(errcode.MalformedJSON, "request body is not valid JSON")
}

// keyName is the key of the member err is about, quoted and cut to 64
// bytes: a key a client chose is never a value, but may be long.
func keyName(err error) string {
	var ptr jsontext.Pointer
	var se *jsontext.SyntacticError
	var te *jsonv2.SemanticError
	switch {
	case errors.As(err, &se):
		ptr = se.JSONPointer
	case errors.As(err, &te):
		ptr = te.JSONPointer
	}
	name := ptr.LastToken()
	if len(name) > 64 {
		name = name[:64]
	}
	return strconv.Quote(name)
}

// trailing reports whether body starts with one complete JSON value
// followed by more than white space.
func trailing(body []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if _, err := dec.ReadValue(); err != nil {
		return false
	}
	_, err := dec.ReadToken()
	return !errors.Is(err, io.EOF)
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
