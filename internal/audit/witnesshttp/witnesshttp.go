// Package witnesshttp publishes audit checkpoints to a witness over HTTP,
// by the c2sp.org/tlog-witness protocol, and returns the witness's
// cosignatures. It is the only audit package that imports net/http.
package witnesshttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/domicile/domicile/internal/audit/checkpoint"
)

// maxAnswer bounds the body of a witness's answer that is read.
const maxAnswer = 64 << 10

// Witness is a c2sp.org/tlog-witness client for one log: it POSTs each
// checkpoint to URL/add-checkpoint with a consistency proof from the size
// the witness cosigned last and returns the witness's cosignature lines.
// It remembers that size (from its answers; a fresh Witness starts from 0
// and learns it from the witness's 409 answer, retrying once). It is safe
// for concurrent use; publications are serialised.
type Witness struct {
	// URL is the witness's submission prefix (such as
	// https://witness.example); a URL that already ends in
	// /add-checkpoint is used as is.
	URL    string
	Client *http.Client // nil: http.DefaultClient
	// Header is added to every request (for example an Authorization).
	Header http.Header
	// Key, if set, is the witness's key: only cosignature lines that
	// verify with it are returned. Without it, every well-formed line the
	// witness answers is.
	Key *checkpoint.WitnessKey

	mu  sync.Mutex
	old uint64 // size of the latest checkpoint the witness cosigned, as far as known
}

// Publish submits cp with the consistency proof that proof returns and
// returns the cosignature lines of the witness's answer. A witness that
// already cosigned a larger tree (another node of the region published a
// newer checkpoint) is not an error: nothing is returned.
//
// Errors: a malformed cp; proof's errors; transport errors; an answer
// other than 200 (after the one retry that a 409 with the witness's size
// allows), with up to 256 bytes of its body; an answer without a valid
// cosignature line.
func (w *Witness) Publish(ctx context.Context, cp []byte, proof func(ctx context.Context, old uint64) ([][]byte, error)) ([]byte, error) {
	s, err := checkpoint.Parse(cp)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.URL, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.old
	if old > s.Size {
		old = 0 // ask: the witness answers with its size
	}
	for attempt := 0; ; attempt++ {
		p, err := proof(ctx, old)
		if err != nil {
			return nil, fmt.Errorf("witness %s: consistency proof %d -> %d: %w", w.URL, old, s.Size, err)
		}
		status, size, body, err := w.post(ctx, old, p, cp)
		if err != nil {
			return nil, err
		}
		switch {
		case status == http.StatusOK:
			w.old = s.Size
			return w.cosignatures(cp, body)
		case status == http.StatusConflict && size >= 0:
			w.old = uint64(size)
			if uint64(size) > s.Size {
				return nil, nil // the witness has seen a newer checkpoint
			}
			if attempt == 0 && uint64(size) != old {
				old = uint64(size)
				continue
			}
		}
		return nil, fmt.Errorf("witness %s: old size %d, size %d: %s: %q", w.URL, old, s.Size, http.StatusText(status), truncate(body, 256))
	}
}

// post sends one add-checkpoint request. size is the size a 409 answer
// of type text/x.tlog.size carries, -1 otherwise.
func (w *Witness) post(ctx context.Context, old uint64, proof [][]byte, cp []byte) (status int, size int64, body []byte, err error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(cp)
	url := w.URL
	if !strings.HasSuffix(url, "/add-checkpoint") {
		url = strings.TrimSuffix(url, "/") + "/add-checkpoint"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &b)
	if err != nil {
		return 0, -1, nil, fmt.Errorf("witness %s: %w", w.URL, err)
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
		return 0, -1, nil, fmt.Errorf("witness %s: %w", w.URL, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, -1, nil, fmt.Errorf("witness %s: reading the answer: %w", w.URL, err)
	}
	size = -1
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode == http.StatusConflict && mt == "text/x.tlog.size" {
		n, ok := strings.CutSuffix(string(body), "\n")
		if v, err := strconv.ParseInt(n, 10, 64); ok && err == nil && v >= 0 && strconv.FormatInt(v, 10) == n {
			size = v
		}
	}
	return resp.StatusCode, size, body, nil
}

// cosignatures returns the well-formed signature lines of the answer
// (those that verify with Key, if set), in order.
//
// Errors: when none is left.
func (w *Witness) cosignatures(cp, body []byte) ([]byte, error) {
	var out []byte
	var why error
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		merged, err := checkpoint.AddCosignatures(cp, line)
		if err == nil && w.Key != nil {
			_, err = w.Key.Verify(merged)
		}
		if err != nil {
			why = err
			continue
		}
		out = append(out, line...)
	}
	if out == nil {
		if why == nil {
			return nil, fmt.Errorf("witness %s: 200 without a cosignature", w.URL)
		}
		return nil, fmt.Errorf("witness %s: no usable cosignature in the answer: %w", w.URL, why)
	}
	return out, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
