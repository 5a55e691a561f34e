package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// DefaultAddress is the address of the gateway of `domicile dev`.
const DefaultAddress = "http://127.0.0.1:8700"

// DefaultUserAgent is the User-Agent the client sends unless WithUserAgent
// sets another.
const DefaultUserAgent = "domicile-go-client/1"

// DefaultMaxIdleConnsPerHost is the number of idle connections the default
// transport keeps per host, so that many concurrent callers reuse
// connections instead of opening new ones.
const DefaultMaxIdleConnsPerHost = 64

const (
	// maxResponse bounds a successful response body.
	maxResponse = 64 << 20
	// maxProblem bounds an error response body; maxDrain bounds what is
	// read and thrown away after it so that the connection can be reused.
	maxProblem = 64 << 10
	maxDrain   = 256 << 10
	// maxPooled is the largest buffer kept for reuse.
	maxPooled = 1 << 20
)

// Client calls the Domicile /v1 API. A Client is safe for concurrent use
// and should be reused: it holds a pool of keep-alive connections.
type Client struct {
	base string // scheme://host[/prefix], no trailing slash
	auth string // "Bearer <token>", or empty for no Authorization header
	ua   string
	hc   *http.Client
	// purpose is sent as the Domicile-Purpose header of every request.
	purpose string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests with hc instead of a client
// of its own. Timeouts belong on hc or, per call, on the context.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithPurpose states the purpose of every request (the Domicile-Purpose
// header): clear values are shown only for a purpose the caller's role
// allows.
func WithPurpose(purpose string) Option {
	return func(c *Client) { c.purpose = purpose }
}

// ForPurpose returns a copy of c that states purpose on every request;
// both share the connection pool.
func (c *Client) ForPurpose(purpose string) *Client {
	cp := *c
	cp.purpose = purpose
	return &cp
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.ua = ua
		}
	}
}

// New returns a client of the API at baseURL (such as DefaultAddress or
// https://vault.example.com/domicile) that authenticates with the bearer
// token. An empty token sends no Authorization header, which only the
// health endpoints accept.
//
// By default the client uses its own http.Client, whose transport keeps
// DefaultMaxIdleConnsPerHost idle connections per host and has no overall
// timeout: give each call a context with a deadline.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("domicile: invalid base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("domicile: invalid base URL %q: the scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("domicile: invalid base URL %q: no host", baseURL)
	case u.User != nil:
		return nil, errors.New("domicile: invalid base URL: credentials belong in the token, not in the URL")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("domicile: invalid base URL %q: it may not have a query or fragment", baseURL)
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		// Never show the token, not even in part.
		return nil, errors.New("domicile: invalid token: it contains spaces or control characters")
	}
	c := &Client{
		base: strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		ua:   DefaultUserAgent,
	}
	if token != "" {
		c.auth = "Bearer " + token
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: defaultTransport()}
	}
	return c, nil
}

// defaultTransport is http.DefaultTransport with more idle connections per
// host.
func defaultTransport() http.RoundTripper {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConns: 4 * DefaultMaxIdleConnsPerHost, MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost}
	}
	t := dt.Clone()
	t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	if t.MaxIdleConns != 0 && t.MaxIdleConns < 4*DefaultMaxIdleConnsPerHost {
		t.MaxIdleConns = 4 * DefaultMaxIdleConnsPerHost
	}
	return t
}

// Create stores records; all of them must map to one region (a batch is
// atomic). A non-empty idempotencyKey makes retries safe: the server answers
// a repeated key with the first answer and sets Replayed.
func (c *Client) Create(ctx context.Context, recs []NewRecord, idempotencyKey string) (*CreateResponse, error) {
	var out CreateResponse
	if err := c.do(ctx, http.MethodPost, "/v1/records", CreateRequest{Records: recs}, idempotencyKey, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns the record with the given id.
func (c *Client) Get(ctx context.Context, id string) (*Record, error) {
	if id == "" {
		return nil, errors.New("domicile: empty record id")
	}
	var out Record
	if err := c.do(ctx, http.MethodGet, "/v1/records/"+url.PathEscape(id), nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Patch sets and removes fields of a record and returns the record as it is
// afterwards.
func (c *Client) Patch(ctx context.Context, id string, req PatchRequest) (*Record, error) {
	if id == "" {
		return nil, errors.New("domicile: empty record id")
	}
	var out Record
	if err := c.do(ctx, http.MethodPatch, "/v1/records/"+url.PathEscape(id), req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete deletes a record.
func (c *Client) Delete(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("domicile: empty record id")
	}
	return c.do(ctx, http.MethodDelete, "/v1/records/"+url.PathEscape(id), nil, "", nil)
}

// ListSubject returns a page of the records of a data subject. An empty
// cursor asks for the first page; limit <= 0 leaves the page size to the
// server.
func (c *Client) ListSubject(ctx context.Context, subject, cursor string, limit int) (*Page, error) {
	if subject == "" {
		return nil, errors.New("domicile: empty subject")
	}
	path := "/v1/subjects/" + url.PathEscape(subject) + "/records"
	if cursor != "" || limit > 0 {
		q := make(url.Values, 2)
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		path += "?" + q.Encode()
	}
	var out Page
	if err := c.do(ctx, http.MethodGet, path, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EraseSubject crypto-shreds a data subject in every region: their records
// and every copy of them become unreadable.
func (c *Client) EraseSubject(ctx context.Context, subject string) (*EraseResponse, error) {
	if subject == "" {
		return nil, errors.New("domicile: empty subject")
	}
	var out EraseResponse
	if err := c.do(ctx, http.MethodDelete, "/v1/subjects/"+url.PathEscape(subject), nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Search returns a page of the records of a collection whose indexed field
// equals a value. The value travels in the request body, never in the URL.
func (c *Client) Search(ctx context.Context, collection string, req SearchRequest) (*Page, error) {
	if collection == "" {
		return nil, errors.New("domicile: empty collection")
	}
	var out Page
	if err := c.do(ctx, http.MethodPost, "/v1/collections/"+url.PathEscape(collection)+"/search", req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Regions describes every region.
func (c *Client) Regions(ctx context.Context) (*RegionsResponse, error) {
	var out RegionsResponse
	if err := c.do(ctx, http.MethodGet, "/v1/regions", nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Keys returns the state of a region's keys. It needs an admin token.
func (c *Client) Keys(ctx context.Context, region string) (*KeyStatus, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out KeyStatus
	if err := c.do(ctx, http.MethodGet, "/v1/regions/"+url.PathEscape(region)+"/keys", nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rotate makes a new current version of a region's key-encryption key for
// purpose (data, index, token or audit). It needs an admin token.
func (c *Client) Rotate(ctx context.Context, region, purpose string) (*RotateResponse, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out RotateResponse
	if err := c.do(ctx, http.MethodPost, "/v1/regions/"+url.PathEscape(region)+"/keys/rotate", RotateRequest{Purpose: purpose}, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// bufPool holds buffers that response bodies are read into. Request bodies
// are not pooled: the transport may still read a request body after Do
// returns, and json.Marshal already reuses its own encoding buffers.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooled {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

// do sends one request with body (if not nil) as JSON and decodes a 2xx
// answer into out (if not nil). Other answers become *Error.
func (c *Client) do(ctx context.Context, method, path string, body any, idempotencyKey string, out any) error {
	resp, err := c.send(ctx, method, path, body, idempotencyKey)
	if err != nil {
		return err
	}
	defer func() {
		// Drain what is left (bounded) so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		resp.Body.Close()
	}()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	buf := getBuf()
	defer putBuf(buf)
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("domicile: reading %s %s response: %w", method, routeOf(path), err)
	}
	if n > maxResponse {
		return fmt.Errorf("domicile: %s %s response is larger than %d bytes", method, routeOf(path), maxResponse)
	}
	if raw, ok := out.(*[]byte); ok { // a text answer (checkpoints, PEM keys)
		*raw = append([]byte(nil), buf.Bytes()...)
		return nil
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("domicile: decoding %s %s response (HTTP %d, %s): %w", method, routeOf(path), resp.StatusCode, mediaType(resp), err)
	}
	return nil
}

// send sends one request with body (if not nil) as JSON and returns a 2xx
// answer, whose body the caller closes. Other answers become *Error.
func (c *Client) send(ctx context.Context, method, path string, body any, idempotencyKey string) (*http.Response, error) {
	var rd io.Reader
	ctype := "application/json"
	if raw, ok := body.(rawBody); ok { // a document sent as it is (policy.go)
		rd, ctype = bytes.NewReader(raw.data), raw.contentType
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("domicile: encoding %s %s request: %w", method, routeOf(path), err)
		}
		// A *bytes.Reader gives the request its length and GetBody, so
		// that the transport can retry on a stale keep-alive connection.
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("domicile: %w", err)
	}
	h := req.Header
	if c.auth != "" {
		h["Authorization"] = []string{c.auth}
	}
	h["User-Agent"] = []string{c.ua}
	h["Accept"] = []string{"application/json, application/problem+json"}
	if body != nil {
		h["Content-Type"] = []string{ctype}
	}
	if idempotencyKey != "" {
		h["Idempotency-Key"] = []string{idempotencyKey}
	}
	if c.purpose != "" {
		h["Domicile-Purpose"] = []string{c.purpose}
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error names the method and URL; it wraps context errors,
		// so errors.Is(err, context.Canceled) holds.
		return nil, fmt.Errorf("domicile: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer func() {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
			resp.Body.Close()
		}()
		return nil, readProblem(resp)
	}
	return resp, nil
}

// routeOf is path without its query, for error messages: cursors do not
// belong in them.
func routeOf(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

// mediaType is the media type of a response, without parameters.
func mediaType(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return "no content type"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// readProblem turns a non-2xx answer into *Error. A body that is not a
// problem document (a proxy's HTML page, say) still gives an *Error, with the
// code "http_<status>".
func readProblem(resp *http.Response) error {
	e := &Error{}
	buf := getBuf()
	defer putBuf(buf)
	_, rerr := buf.ReadFrom(io.LimitReader(resp.Body, maxProblem))
	mt := mediaType(resp)
	if rerr == nil && (mt == "application/problem+json" || mt == "application/json") {
		// A malformed document leaves the fields that did decode.
		_ = json.Unmarshal(buf.Bytes(), &e.Problem)
	}
	p := &e.Problem
	// The status line is the truth; a document may lack a status or carry
	// a stale one.
	p.Status = resp.StatusCode
	if p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	if p.RequestID == "" {
		p.RequestID = resp.Header.Get("X-Request-Id")
	}
	if p.Code == "" {
		p.Code = "http_" + strconv.Itoa(resp.StatusCode)
		if p.Detail == "" {
			p.Detail = fmt.Sprintf("%s (%s response, not a problem document)", statusText(resp.StatusCode), mt)
		}
	}
	return e
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "unexpected status"
}
