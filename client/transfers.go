package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

func transfersPath(region string, year int) (string, error) {
	if region == "" {
		return "", errors.New("domicile: empty region")
	}
	path := "/v1/regions/" + url.PathEscape(region) + "/transfers/report"
	if year != 0 {
		path += "?year=" + strconv.Itoa(year)
	}
	return path, nil
}

// TransferReport returns the region's signed report of its cross-border
// transfers in year (0: the current year, in the region's time zone).
func (c *Client) TransferReport(ctx context.Context, region string, year int) (*TransferReport, error) {
	raw, err := c.TransferReportJSON(ctx, region, year)
	if err != nil {
		return nil, err
	}
	var out TransferReport
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("domicile: decoding GET /v1/regions/{region}/transfers/report response: %w", err)
	}
	return &out, nil
}

// TransferReportJSON is TransferReport's answer as the server wrote it:
// the bytes to keep for 'domicile transfers verify'.
func (c *Client) TransferReportJSON(ctx context.Context, region string, year int) ([]byte, error) {
	path, err := transfersPath(region, year)
	if err != nil {
		return nil, err
	}
	var out []byte
	return out, c.do(ctx, http.MethodGet, path, nil, "", &out)
}
