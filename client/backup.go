package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// BackupBytesHeader is the header of a backup answer that carries the
// total size of the store's files, for progress.
const BackupBytesHeader = "Domicile-Backup-Bytes"

// Backup streams a backup of the region's embedded store, taken online
// (admin): a tar of the store's files and, last, the manifest signed with
// the region's audit key. It returns the stream and the total size of the
// store's files (0 if the server did not say). The caller closes the
// stream. 'domicile backup' writes it to a directory and checks it; a
// stream cut short has no manifest, which 'domicile restore' refuses.
//
// A region on PostgreSQL answers invalid_request: back it up with the
// database's own tools.
func (c *Client) Backup(ctx context.Context, region string) (io.ReadCloser, int64, error) {
	if region == "" {
		return nil, 0, errors.New("domicile: empty region")
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/regions/"+url.PathEscape(region)+"/backup", nil, "")
	if err != nil {
		return nil, 0, err
	}
	n, _ := strconv.ParseInt(resp.Header.Get(BackupBytesHeader), 10, 64)
	return resp.Body, max(n, 0), nil
}
