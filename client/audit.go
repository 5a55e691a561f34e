package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

func auditPath(region, rest string) (string, error) {
	if region == "" {
		return "", errors.New("domicile: empty region")
	}
	return "/v1/regions/" + url.PathEscape(region) + "/audit/" + rest, nil
}

// AuditCheckpoint returns the region's latest signed checkpoint (text).
func (c *Client) AuditCheckpoint(ctx context.Context, region string) ([]byte, error) {
	path, err := auditPath(region, "checkpoint")
	if err != nil {
		return nil, err
	}
	var out []byte
	return out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// AuditPublicKey returns the region's audit-signing public key (PEM).
func (c *Client) AuditPublicKey(ctx context.Context, region string) ([]byte, error) {
	path, err := auditPath(region, "pubkey")
	if err != nil {
		return nil, err
	}
	var out []byte
	return out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// AuditEntry returns one entry of a region's log with its bytes and leaf
// hash.
func (c *Client) AuditEntry(ctx context.Context, region string, index uint64) (*AuditEntry, error) {
	path, err := auditPath(region, "entries/"+strconv.FormatUint(index, 10))
	if err != nil {
		return nil, err
	}
	var out AuditEntry
	return &out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// AuditInclusion returns the inclusion proof of entry index in the tree of
// size (0: the current size).
func (c *Client) AuditInclusion(ctx context.Context, region string, index, size uint64) (*AuditProof, error) {
	q := url.Values{"index": {strconv.FormatUint(index, 10)}}
	if size > 0 {
		q.Set("size", strconv.FormatUint(size, 10))
	}
	path, err := auditPath(region, "proofs/inclusion?"+q.Encode())
	if err != nil {
		return nil, err
	}
	var out AuditProof
	return &out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// AuditEntries lists a region's audit entries; query may hold from, to
// (RFC 3339), principal, action, record, cursor and limit.
func (c *Client) AuditEntries(ctx context.Context, region string, query url.Values) (*AuditEntries, error) {
	rest := "entries"
	if len(query) > 0 {
		rest += "?" + query.Encode()
	}
	path, err := auditPath(region, rest)
	if err != nil {
		return nil, err
	}
	var out AuditEntries
	return &out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// AuditKeys returns every version of the region's audit-signing key with
// the checkpoints each signed.
func (c *Client) AuditKeys(ctx context.Context, region string) (*AuditKeys, error) {
	path, err := auditPath(region, "keys")
	if err != nil {
		return nil, err
	}
	var out AuditKeys
	return &out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// AuditExport streams the region's log as an export (JSON lines, the
// format 'domicile audit verify --export' reads). The caller closes it.
func (c *Client) AuditExport(ctx context.Context, region string) (io.ReadCloser, error) {
	path, err := auditPath(region, "export")
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
