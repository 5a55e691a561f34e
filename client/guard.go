package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AlertFilter selects alerts; zero fields select everything.
type AlertFilter struct {
	Principal   string
	Rule        string
	MinSeverity string
	Since       time.Time
	Until       time.Time
	Cursor      string
	Limit       int
}

// Alerts lists breach-detection alerts of every region (admin).
func (c *Client) Alerts(ctx context.Context, f AlertFilter) (*AlertsResponse, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("principal", f.Principal)
	set("rule", f.Rule)
	set("min_severity", f.MinSeverity)
	set("cursor", f.Cursor)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/v1/alerts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out AlertsResponse
	if err := c.do(ctx, http.MethodGet, path, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SeedDecoys creates honeytoken records in a region (admin).
func (c *Client) SeedDecoys(ctx context.Context, region string, req SeedDecoysRequest) (*SeedDecoysResponse, error) {
	if region == "" {
		return nil, errors.New("domicile: empty region")
	}
	var out SeedDecoysResponse
	if err := c.do(ctx, http.MethodPost, "/v1/regions/"+url.PathEscape(region)+"/decoys", req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
