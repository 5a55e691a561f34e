package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// CreatePrincipal creates a principal in every region; the answer holds
// its token, shown this once.
func (c *Client) CreatePrincipal(ctx context.Context, req PrincipalRequest) (*PrincipalToken, error) {
	var out PrincipalToken
	if err := c.do(ctx, http.MethodPost, "/v1/principals", req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Principals lists the principals.
func (c *Client) Principals(ctx context.Context) (*PrincipalsResponse, error) {
	return c.ListPrincipals(ctx, PrincipalFilter{})
}

// PrincipalFilter selects principals; empty fields match every one.
type PrincipalFilter struct {
	Role, Location, Organisation string
	State                        string // active, disabled or locked
}

// ListPrincipals lists the principals f selects.
func (c *Client) ListPrincipals(ctx context.Context, f PrincipalFilter) (*PrincipalsResponse, error) {
	q := url.Values{}
	for k, v := range map[string]string{"role": f.Role, "location": f.Location, "organisation": f.Organisation, "state": f.State} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/v1/principals"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out PrincipalsResponse
	if err := c.do(ctx, http.MethodGet, path, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePrincipal changes a principal's roles, location, organisation or
// regions in every region; what ch leaves out stays.
func (c *Client) UpdatePrincipal(ctx context.Context, id string, ch PrincipalChange) (*Principal, error) {
	if id == "" {
		return nil, errors.New("domicile: empty principal id")
	}
	var out Principal
	if err := c.do(ctx, http.MethodPatch, "/v1/principals/"+url.PathEscape(id), ch, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePrincipal removes a principal, and its tokens, from every region.
func (c *Client) DeletePrincipal(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("domicile: empty principal id")
	}
	return c.do(ctx, http.MethodDelete, "/v1/principals/"+url.PathEscape(id), nil, "", nil)
}

// Principal returns one principal.
func (c *Client) Principal(ctx context.Context, id string) (*Principal, error) {
	if id == "" {
		return nil, errors.New("domicile: empty principal id")
	}
	var out Principal
	if err := c.do(ctx, http.MethodGet, "/v1/principals/"+url.PathEscape(id), nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPrincipalState disables, enables or unlocks a principal in every
// region: action is "disable", "enable" or "unlock".
func (c *Client) SetPrincipalState(ctx context.Context, id, action string) (*Principal, error) {
	if id == "" {
		return nil, errors.New("domicile: empty principal id")
	}
	switch action {
	case "disable", "enable", "unlock":
	default:
		return nil, errors.New("domicile: action must be disable, enable or unlock")
	}
	var out Principal
	if err := c.do(ctx, http.MethodPost, "/v1/principals/"+url.PathEscape(id)+"/"+action, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotatePrincipalToken replaces the principal's tokens with a new one,
// shown this once; expiresIn is a Go duration ("720h") or empty. The old
// tokens stop working at once; RotateToken can keep them for an overlap.
func (c *Client) RotatePrincipalToken(ctx context.Context, id, expiresIn string) (*PrincipalToken, error) {
	return c.RotateToken(ctx, id, TokenRequest{ExpiresIn: expiresIn})
}

// RotateToken gives the principal a new token in every region, shown this
// once. With req.Overlap the principal's current tokens keep working until
// the window ends (listed with that expiry), so that its services can roll
// to the new token without downtime.
func (c *Client) RotateToken(ctx context.Context, id string, req TokenRequest) (*PrincipalToken, error) {
	if id == "" {
		return nil, errors.New("domicile: empty principal id")
	}
	var out PrincipalToken
	if err := c.do(ctx, http.MethodPost, "/v1/principals/"+url.PathEscape(id)+"/rotate-token", req, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}
