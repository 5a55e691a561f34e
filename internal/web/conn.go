package web

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
)

// MaxHeaderBytes caps a request's header block (net/http's
// Server.MaxHeaderBytes): far above what any client of the API sends, far
// below the megabyte net/http would otherwise buffer per connection.
const MaxHeaderBytes = 64 << 10

// Listener wraps ln so that the answers net/http writes by itself, before
// any handler runs, are problem+json documents with a stable code like
// every other answer of the server, instead of text/plain: a header block
// over MaxHeaderBytes (431 header_too_large), and a request that is not
// well-formed HTTP/1.1, such as a malformed request line or header, a
// missing Host or an unsupported transfer coding (400 invalid_request).
//
// net/http writes those answers straight to the connection, in one write
// of a status line and exactly the headers plainErrorHeaders, which no
// response of a handler has (net/http always adds Date to those); the
// connection rewrites such a write and passes every other write through.
// The server serves plain HTTP: TLS, where used, ends in front of it.
func Listener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return problemTCPConn{tc}, nil
	}
	return problemConn{c}, nil
}

// problemConn rewrites net/http's own error answers (see Listener).
type problemConn struct{ net.Conn }

func (c problemConn) Write(b []byte) (int, error) { return writeRewritten(c.Conn, b) }

// problemTCPConn is a problemConn that keeps CloseWrite, which net/http
// uses to end a connection it refused without losing its answer.
type problemTCPConn struct{ *net.TCPConn }

func (c problemTCPConn) Write(b []byte) (int, error) { return writeRewritten(c.TCPConn, b) }

// writeRewritten writes b to c, rewritten when it is one of net/http's own
// error answers, and reports b as written.
func writeRewritten(c net.Conn, b []byte) (int, error) {
	out, ok := rewritePlainError(b)
	if !ok {
		return c.Write(b)
	}
	if _, err := c.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// plainErrorHeaders is what net/http writes between the status line and
// the body of its own error answers.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// rewritePlainError returns the problem+json answer for b when b is one of
// net/http's own error answers ("HTTP/1.1 431 Request Header Fields Too
// Large" + plainErrorHeaders + body).
func rewritePlainError(b []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(b, []byte(proto)) || len(b) < len(proto)+3 {
		return nil, false
	}
	// Status lines of these answers are short; a handler's response
	// never has plainErrorHeaders right after its status line.
	end := bytes.Index(b[:min(len(b), 160)], []byte("\r\n"))
	if end < 0 || !bytes.HasPrefix(b[end:], []byte(plainErrorHeaders)) {
		return nil, false
	}
	status, err := strconv.Atoi(string(b[len(proto) : len(proto)+3]))
	if err != nil || status < 400 {
		return nil, false
	}
	p := client.Problem{Code: string(errcode.InvalidRequest), Detail: "the request is not well-formed HTTP/1.1"}
	if status == http.StatusRequestHeaderFieldsTooLarge {
		p.Code, p.Detail = string(errcode.HeaderTooLarge), "the request's header block is larger than "+strconv.Itoa(MaxHeaderBytes>>10)+" KiB"
	} else if i := bytes.Index(b[:end], []byte(": ")); i >= 0 {
		// net/http's reason ("missing required Host header", "invalid
		// header name"...): fixed texts that never quote the request.
		p.Detail += ": " + string(b[i+2:end])
	}
	fillProblem(&p)
	body, err := json.Marshal(p)
	if err != nil {
		return nil, false
	}
	body = append(body, '\n')
	var out bytes.Buffer
	out.WriteString(proto + strconv.Itoa(p.Status) + " " + p.Title + "\r\n")
	out.WriteString("Content-Type: application/problem+json\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	out.WriteString("Connection: close\r\n\r\n")
	out.Write(body)
	return out.Bytes(), true
}
