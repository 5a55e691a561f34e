package store

import (
	"bytes"
	"context"
)

// ScanPage reads one page of a key range that a job walks a page at a
// time: up to limit pairs from cursor, or from start when cursor is empty,
// below end. It returns them with the cursor of the next page and whether
// this page reached the end of the range.
func ScanPage(ctx context.Context, st Store, cursor, start, end []byte, limit int) (kvs []KV, next []byte, last bool, err error) {
	from := cursor
	if len(from) == 0 {
		from = start
	}
	if kvs, err = st.Scan(ctx, from, end, limit); err != nil {
		return nil, nil, false, err
	}
	next = from
	if len(kvs) > 0 {
		next = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
	}
	return kvs, next, len(kvs) < limit, nil
}
