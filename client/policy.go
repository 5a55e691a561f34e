package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// PolicyInfo is the policy a region's node serves: its version in the
// region's store, its digest under the region's suite hash ("sha256:HEX"
// or "sm3:HEX") and how it came to be in force ("file", "signal", "api" or
// "store"). It never holds the policy's text.
type PolicyInfo struct {
	Region  string    `json:"region"`
	Version int64     `json:"version"`
	Digest  string    `json:"digest"`
	Source  string    `json:"source"`
	Since   time.Time `json:"since"`
}

// rawBody is a request body sent as it is, with its media type.
type rawBody struct {
	data        []byte
	contentType string
}

// Policy returns the policy region's node serves (admin permission).
func (c *Client) Policy(ctx context.Context, region string) (*PolicyInfo, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out PolicyInfo
	if err := c.do(ctx, http.MethodGet, "/v1/regions/"+url.PathEscape(region)+"/policy", nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReloadPolicy replaces region's policy with doc, the whole policy
// document (YAML), without a restart (admin permission). The region
// validates it as at start and refuses changes a reload may not make with
// a *Problem of code "invalid_policy" or "policy_change_refused"; the old
// policy then keeps serving. Sending the policy in force changes nothing.
func (c *Client) ReloadPolicy(ctx context.Context, region string, doc []byte) (*PolicyInfo, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	if len(doc) == 0 {
		return nil, errors.New("domicile: empty policy document")
	}
	var out PolicyInfo
	body := rawBody{data: doc, contentType: "application/yaml"}
	if err := c.do(ctx, http.MethodPut, "/v1/regions/"+url.PathEscape(region)+"/policy", body, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
