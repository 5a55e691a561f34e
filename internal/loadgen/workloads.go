package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Target is a server under load: its base URL (loopback only) and the
// bearer token of a principal allowed to do the workload.
type Target struct {
	Addr  string
	Token string
	// Client is the HTTP client; nil means one with keep-alive connections
	// for many workers.
	Client *http.Client
}

func (t Target) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
}

// post sends body and decodes a 2xx answer into out (nil: discard).
func post(ctx context.Context, c *http.Client, method, url string, hdr http.Header, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = hdr
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %.200s", method, req.URL.Path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Workload is a prepared kind of request against one server.
type Workload struct {
	// Name names the workload in reports (create, get, tokenize, encrypt,
	// decrypt, batch-encrypt).
	Name string
	// Op runs one request.
	Op Op
}

// DomicileOptions shape Domicile's workloads.
type DomicileOptions struct {
	// Jurisdictions are used in turn, so records land in several regions
	// (default CN and DE).
	Jurisdictions []string
	// Batch is the items per tokenize request (default 100).
	Batch int
	// Pool is the records a get workload reads in turn (default 128;
	// keep it under the example policy guard's limit of distinct records
	// a principal may read per window).
	Pool int
	// Purpose is the Domicile-Purpose of reads (default support).
	Purpose string
}

func (o *DomicileOptions) defaults() {
	if len(o.Jurisdictions) == 0 {
		o.Jurisdictions = []string{"CN", "DE"}
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Pool <= 0 {
		o.Pool = 128
	}
	if o.Purpose == "" {
		o.Purpose = "support"
	}
}

// newRecord is one record of the example policy's customers collection,
// unique for (worker, seq) within a run prefix.
func newRecord(prefix string, worker, seq int, j string) map[string]any {
	id := fmt.Sprintf("%s-%d-%d", prefix, worker, seq)
	return map[string]any{
		"collection": "customers", "subject": "load-" + id, "jurisdiction": j,
		"fields": map[string]string{
			"name":  "Load Client " + id,
			"email": "load-" + id + "@example.com",
			"phone": fmt.Sprintf("+1202555%04d", (worker*7919+seq)%10_000),
		},
	}
}

// Domicile prepares a Domicile workload: create (one record of three fields
// a request), get (a record of a pool created first) or tokenize (a batch
// of new deterministic email tokens). prefix makes values unique across
// runs against the same vault.
func Domicile(ctx context.Context, t Target, name, prefix string, o DomicileOptions) (Workload, error) {
	if err := CheckLoopback(t.Addr); err != nil {
		return Workload{}, err
	}
	o.defaults()
	c := t.client()
	base := strings.TrimRight(t.Addr, "/")
	hdr := func() http.Header {
		return http.Header{"Authorization": {"Bearer " + t.Token}, "Content-Type": {"application/json"}, "Domicile-Purpose": {o.Purpose}}
	}
	switch name {
	case "create":
		return Workload{Name: name, Op: func(ctx context.Context, w, seq int) (int, error) {
			j := o.Jurisdictions[(w+seq)%len(o.Jurisdictions)]
			body, _ := json.Marshal(map[string]any{"records": []any{newRecord(prefix, w, seq, j)}})
			return 1, post(ctx, c, http.MethodPost, base+"/v1/records", hdr(), body, nil)
		}}, nil
	case "get":
		ids := make([]string, 0, o.Pool)
		for i := range o.Pool {
			j := o.Jurisdictions[i%len(o.Jurisdictions)]
			body, _ := json.Marshal(map[string]any{"records": []any{newRecord(prefix+"-pool", 0, i, j)}})
			var out struct {
				Records []struct {
					ID string `json:"id"`
				} `json:"records"`
			}
			if err := post(ctx, c, http.MethodPost, base+"/v1/records", hdr(), body, &out); err != nil {
				return Workload{}, fmt.Errorf("making the records to read: %w", err)
			}
			if len(out.Records) != 1 {
				return Workload{}, errors.New("making the records to read: the answer names no record")
			}
			ids = append(ids, out.Records[0].ID)
		}
		return Workload{Name: name, Op: func(ctx context.Context, w, seq int) (int, error) {
			id := ids[(w*7919+seq)%len(ids)]
			return 1, post(ctx, c, http.MethodGet, base+"/v1/records/"+id, hdr(), nil, nil)
		}}, nil
	case "tokenize":
		return Workload{Name: name, Op: func(ctx context.Context, w, seq int) (int, error) {
			items := make([]map[string]string, o.Batch)
			for i := range items {
				items[i] = map[string]string{"collection": "customers", "field": "email",
					"value": fmt.Sprintf("tok-%s-%d-%d-%d@example.com", prefix, w, seq, i), "jurisdiction": o.Jurisdictions[(w+seq)%len(o.Jurisdictions)]}
			}
			body, _ := json.Marshal(map[string]any{"items": items})
			var out struct {
				Results []struct {
					Error json.RawMessage `json:"error"`
				} `json:"results"`
			}
			if err := post(ctx, c, http.MethodPost, base+"/v1/tokenize", hdr(), body, &out); err != nil {
				return 0, err
			}
			for _, r := range out.Results {
				if len(r.Error) > 0 {
					return 0, fmt.Errorf("tokenize: an item failed: %s", r.Error)
				}
			}
			return len(out.Results), nil
		}}, nil
	}
	return Workload{}, fmt.Errorf("unknown Domicile workload %q: create, get or tokenize", name)
}

// OpenBao prepares a workload against OpenBao's (or Vault's) transit engine
// with key "bench": encrypt (64 bytes a request), decrypt (of ciphertexts
// made first) or batch-encrypt (batch items of 64 bytes a request).
func OpenBao(ctx context.Context, t Target, name string, batch int) (Workload, error) {
	if err := CheckLoopback(t.Addr); err != nil {
		return Workload{}, err
	}
	if batch <= 0 {
		batch = 100
	}
	c := t.client()
	base := strings.TrimRight(t.Addr, "/") + "/v1/transit/"
	hdr := func() http.Header {
		return http.Header{"X-Vault-Token": {t.Token}, "Content-Type": {"application/json"}}
	}
	plain := func(w, seq, i int) string {
		p := fmt.Appendf(nil, "%-64s", fmt.Sprintf("load %d %d %d", w, seq, i))
		return base64.StdEncoding.EncodeToString(p[:64])
	}
	switch name {
	case "encrypt":
		return Workload{Name: name, Op: func(ctx context.Context, w, seq int) (int, error) {
			body, _ := json.Marshal(map[string]string{"plaintext": plain(w, seq, 0)})
			return 1, post(ctx, c, http.MethodPost, base+"encrypt/bench", hdr(), body, nil)
		}}, nil
	case "decrypt":
		var cts []string
		for i := range 128 {
			body, _ := json.Marshal(map[string]string{"plaintext": plain(-1, i, 0)})
			var out struct {
				Data struct {
					Ciphertext string `json:"ciphertext"`
				} `json:"data"`
			}
			if err := post(ctx, c, http.MethodPost, base+"encrypt/bench", hdr(), body, &out); err != nil {
				return Workload{}, fmt.Errorf("making the ciphertexts to decrypt: %w", err)
			}
			cts = append(cts, out.Data.Ciphertext)
		}
		return Workload{Name: name, Op: func(ctx context.Context, w, seq int) (int, error) {
			body, _ := json.Marshal(map[string]string{"ciphertext": cts[(w*7919+seq)%len(cts)]})
			return 1, post(ctx, c, http.MethodPost, base+"decrypt/bench", hdr(), body, nil)
		}}, nil
	case "batch-encrypt":
		return Workload{Name: name, Op: func(ctx context.Context, w, seq int) (int, error) {
			in := make([]map[string]string, batch)
			for i := range in {
				in[i] = map[string]string{"plaintext": plain(w, seq, i)}
			}
			body, _ := json.Marshal(map[string]any{"batch_input": in})
			return batch, post(ctx, c, http.MethodPost, base+"encrypt/bench", hdr(), body, nil)
		}}, nil
	}
	return Workload{}, fmt.Errorf("unknown OpenBao workload %q: encrypt, decrypt or batch-encrypt", name)
}
