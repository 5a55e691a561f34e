package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

func consentsPath(region, subject, rest string) (string, error) {
	if region == "" || subject == "" {
		return "", errors.New("domicile: empty region or subject")
	}
	return "/v1/regions/" + url.PathEscape(region) + "/subjects/" + url.PathEscape(subject) + "/consents" + rest, nil
}

// GiveConsent records a subject's consent in region (the region of the
// subject's data).
func (c *Client) GiveConsent(ctx context.Context, region, subject string, req ConsentRequest) (*Consent, error) {
	path, err := consentsPath(region, subject, "")
	if err != nil {
		return nil, err
	}
	var out Consent
	return &out, c.do(ctx, http.MethodPost, path, req, "", &out)
}

// WithdrawConsent withdraws consent id of a subject in region.
func (c *Client) WithdrawConsent(ctx context.Context, region, subject, id string) (*Consent, error) {
	path, err := consentsPath(region, subject, "/"+url.PathEscape(id)+"/withdraw")
	if err != nil {
		return nil, err
	}
	var out Consent
	return &out, c.do(ctx, http.MethodPost, path, nil, "", &out)
}

// Consents lists a subject's consents in region.
func (c *Client) Consents(ctx context.Context, region, subject string) (*Consents, error) {
	path, err := consentsPath(region, subject, "")
	if err != nil {
		return nil, err
	}
	var out Consents
	return &out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}

// ExportSubject returns the subject's package of region: everything the
// region holds about the subject, signed by the region. A principal abroad
// that receives clear values makes a transfer, counted and checked like
// any read.
func (c *Client) ExportSubject(ctx context.Context, region, subject string) (*SubjectPackage, error) {
	if region == "" || subject == "" {
		return nil, errors.New("domicile: empty region or subject")
	}
	var out SubjectPackage
	return &out, c.do(ctx, http.MethodGet, "/v1/regions/"+url.PathEscape(region)+"/subjects/"+url.PathEscape(subject)+"/export", nil, "", &out)
}
