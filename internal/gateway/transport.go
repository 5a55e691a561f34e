package gateway

import (
	"bytes"
	"io"
	"net/http"
)

// LocalTransport reaches a region served in the same process: it calls the
// region's handler directly, without a network hop. Dev mode uses it.
func LocalTransport(h http.Handler) http.RoundTripper { return localTransport{h} }

type localTransport struct{ h http.Handler }

func (t localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := &bufferWriter{header: http.Header{}}
	if req.Body == nil {
		req.Body = http.NoBody
	}
	// The handler sees a server-side request.
	req.RequestURI = req.URL.RequestURI()
	t.h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
}

type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }
func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
