package console

import (
	"fmt"
	"io"
	"net/http"
	"sync"
)

// inProcess is the console's way to the API: it hands each request to the
// gateway's API handler in the same process and streams the answer back,
// so the console reaches exactly what a caller over the network reaches
// (the same middleware, limiter, routing and regions) without a second
// listener, a loopback address or a TLS client of its own. The request
// carries the browser's address, so the API's limits on failed
// authentication count against the browser, not the console.
type inProcess struct {
	h    http.Handler
	from *http.Request // the browser's request
}

// RoundTrip serves req with the API handler.
func (t *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = t.from.RemoteAddr
	r.TLS = t.from.TLS
	if xff := t.from.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		r.Header["X-Forwarded-For"] = xff
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				pw.CloseWithError(fmt.Errorf("console: the API handler failed: %v", v))
				w.start(http.StatusBadGateway)
				return
			}
			w.start(http.StatusOK)
			pw.Close()
		}()
		t.h.ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is the ResponseWriter of an in-process request: the status
// and headers are sent once, at the first WriteHeader or Write; the body
// streams through the pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	status int
	sent   http.Header
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) start(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational answers are not relayed
	}
	w.start(code)
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.start(http.StatusOK)
	return w.pw.Write(b)
}

// Flush does nothing: every Write already reaches the reader.
func (w *pipeWriter) Flush() {}
