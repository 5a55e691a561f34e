package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// ExportOptions shape an export of a collection.
type ExportOptions struct {
	// Regions, when set, restrict the export to these regions; empty
	// exports from every region.
	Regions []string
	// Limit is the page size asked of the server; 0 leaves it to the
	// server (which clamps large values).
	Limit int
	// Cursor resumes an export where a page's Next left it; "" starts
	// from the beginning.
	Cursor string
	// Page, when set, is called after each page with the cursor of the
	// next one ("" after the last), so that a caller can resume an
	// export that fails half-way.
	Page func(next string)
}

// ExportPage returns one page of the records of collection, each shaped by
// the caller's read decision (GET /v1/collections/{collection}/records).
func (c *Client) ExportPage(ctx context.Context, collection string, opts ExportOptions) (*Page, error) {
	if collection == "" {
		return nil, errors.New("domicile: empty collection")
	}
	q := url.Values{}
	for _, r := range opts.Regions {
		q.Add("region", r)
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	path := "/v1/collections/" + url.PathEscape(collection) + "/records"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out Page
	if err := c.do(ctx, http.MethodGet, path, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportCollection pages through every record of collection (in the
// regions of opts, from opts.Cursor) and calls fn with each, in order: by
// region in policy order, then by record id. Values are masked, tokenized
// or clear as the caller's read decision allows, for the purpose the
// client states (WithPurpose); each page is audited as an export in each
// region, and clear values read from outside a strict region are a
// counted cross-border transfer. It stops at the first error of the
// server or of fn, and returns it.
func (c *Client) ExportCollection(ctx context.Context, collection string, opts ExportOptions, fn func(Record) error) error {
	cursor := opts.Cursor
	for {
		o := opts
		o.Cursor = cursor
		p, err := c.ExportPage(ctx, collection, o)
		if err != nil {
			return err
		}
		for _, r := range p.Records {
			if err := fn(r); err != nil {
				return err
			}
		}
		if opts.Page != nil {
			opts.Page(p.Next)
		}
		if p.Next == "" {
			return nil
		}
		if p.Next == cursor {
			return fmt.Errorf("domicile: export of %s: the server returned the same cursor twice", collection)
		}
		cursor = p.Next
	}
}
