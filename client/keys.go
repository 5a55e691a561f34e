package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// StartRewrap starts the region's rewrap job, which moves every subject key
// still wrapped under an older data key version to the current one, in the
// background of the region's nodes, and returns it. If a job is already
// unfinished it returns that one (New false). Follow it with KeyUsage. It
// needs an admin token.
func (c *Client) StartRewrap(ctx context.Context, region string, req RewrapRequest) (*RewrapJob, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out RewrapJob
	if err := c.do(ctx, http.MethodPost, "/v1/regions/"+url.PathEscape(region)+"/keys/rewrap", req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MigrateSuite moves the region to another suite online: keys of the new
// suite for new work at once, the audit log's tree to its hash, and a job
// that seals the existing records and token entries again, followed like a
// rewrap job with KeyUsage. Repeating the request resumes what is left. It
// needs an admin token.
func (c *Client) MigrateSuite(ctx context.Context, region string, req MigrateRequest) (*RewrapJob, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out RewrapJob
	if err := c.do(ctx, http.MethodPost, "/v1/regions/"+url.PathEscape(region)+"/keys/migrate", req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyUsage returns what uses each of the region's key versions and the
// state of its rewrap job. It needs an admin token.
func (c *Client) KeyUsage(ctx context.Context, region string) (*KeyUsage, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out KeyUsage
	if err := c.do(ctx, http.MethodGet, "/v1/regions/"+url.PathEscape(region)+"/keys/usage", nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetireKey retires a key version: it is no longer handed out. A data
// version is refused (code conflict) while subject keys are wrapped under
// it. It needs an admin token.
func (c *Client) RetireKey(ctx context.Context, region string, req KeyVersionRequest) (*KeyVersionResponse, error) {
	return c.keyVersion(ctx, region, "retire", req)
}

// DestroyKey removes a retired key version's sealed material from the
// region for good. It needs an admin token.
func (c *Client) DestroyKey(ctx context.Context, region string, req KeyVersionRequest) (*KeyVersionResponse, error) {
	return c.keyVersion(ctx, region, "destroy", req)
}

func (c *Client) keyVersion(ctx context.Context, region, verb string, req KeyVersionRequest) (*KeyVersionResponse, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out KeyVersionResponse
	if err := c.do(ctx, http.MethodPost, "/v1/regions/"+url.PathEscape(region)+"/keys/"+verb, req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
