package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// Unseal sends one unseal request to the region: one Shamir share, a
// request to unwrap the secret with the node's HSM, or a reset of the
// shares given so far. It needs no token (the shares are the credential).
// The answer says whether the region is still sealed and how many shares
// the node holds; a refused share is an *Error with code invalid_request
// (the detail names what is wrong, never the share), rate_limited after
// too many refusals.
//
// Behind a gateway, a region with several nodes is unsealed node by node:
// address each node directly.
func (c *Client) Unseal(ctx context.Context, region string, req UnsealRequest) (*SealStatus, error) {
	return c.seal(ctx, region, "unseal", req)
}

// Seal seals the region: its node drops its keys and answers
// region_sealed until it is unsealed again (Unseal). It needs an admin
// token; the seal is recorded in the audit log before it happens.
func (c *Client) Seal(ctx context.Context, region string) (*SealStatus, error) {
	return c.seal(ctx, region, "seal", nil)
}

func (c *Client) seal(ctx context.Context, region, verb string, req any) (*SealStatus, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out SealStatus
	if err := c.do(ctx, http.MethodPost, "/v1/regions/"+url.PathEscape(region)+"/"+verb, req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
