// Package witnesshttp publishes audit checkpoints to a witness over HTTP.
// It is the only audit package that imports net/http.
package witnesshttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// Witness POSTs each signed checkpoint (Content-Type text/plain) to a URL.
// Any 2xx status is success.
type Witness struct {
	URL    string
	Client *http.Client // nil: http.DefaultClient
	// Header is added to every request (for example an Authorization).
	Header http.Header
}

// Publish posts cp to w.URL.
//
// Errors: transport errors, wrapped; a non-2xx status, with up to 256 bytes
// of the response body.
func (w *Witness) Publish(ctx context.Context, cp []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(cp))
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	for k, vs := range w.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return fmt.Errorf("witness: %s: %s: %q", w.URL, resp.Status, body)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return nil
}
