package client

import (
	"context"
	"net/http"
)

// Tokenize turns values into tokens, in batches of up to 1,000; each item
// has its own result or error.
func (c *Client) Tokenize(ctx context.Context, items []TokenizeItem) (*TokenizeResponse, error) {
	var out TokenizeResponse
	if err := c.do(ctx, http.MethodPost, "/v1/tokenize", TokenizeRequest{Items: items}, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Detokenize turns tokens back into values, each through the access
// decision; an item the caller may not see in clear fails with its reason.
func (c *Client) Detokenize(ctx context.Context, items []DetokenizeItem) (*DetokenizeResponse, error) {
	var out DetokenizeResponse
	if err := c.do(ctx, http.MethodPost, "/v1/detokenize", DetokenizeRequest{Items: items}, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
