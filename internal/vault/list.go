package vault

import (
	"context"
	"fmt"

	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
)

// CollectionScanBudget bounds how many stored records one page of
// ListByCollection reads. Records are keyed by id alone ("r/<id>"), not by
// collection, so a collection is listed by scanning every record of the
// region in key order and keeping those of the collection: a page costs
// the records scanned, not the records returned. When the budget runs out
// before the page is full, the page is returned short (even empty) with a
// Next cursor that resumes the scan; a caller pages until Next is "".
const CollectionScanBudget = 10_000

// scanBatch is how many stored records one store scan reads.
const scanBatch = 256

// recordPrefix is the prefix of every record key.
var recordPrefix = []byte("r/")

// ListByCollection returns the records of collection in id order, a page at
// a time, read but not decrypted (the caller opens what its access decision
// reveals). The cursor is the Next of the previous page ("" for the first):
// a record id, after which the scan resumes, so the listing is stable under
// concurrent writes: a record created or deleted behind the cursor does not
// move the records ahead of it, and none is listed twice. A page may hold
// fewer than limit records while Next is not "" (see CollectionScanBudget).
//
// Errors: CodeUnknownCollection for a collection not in the policy,
// CodeInvalidCursor for a cursor that is not a record id of this region,
// invalid_request for a negative limit, CodeIntegrity for a stored record
// that does not parse.
func (v *Vault) ListByCollection(ctx context.Context, collection, cursor string, limit int) (*Page, error) {
	n, err := pageSize(limit)
	if err != nil {
		return nil, err
	}
	if _, err := v.collection(collection); err != nil {
		return nil, err
	}
	if cursor != "" {
		if err := v.checkRecordID(cursor); err != nil {
			return nil, errorf(CodeInvalidCursor, "cursor is not valid for this listing")
		}
	}
	return v.listByCollection(ctx, collection, cursor, n, CollectionScanBudget)
}

// listByCollection is ListByCollection with a page size n and a scan
// budget (at least 1).
func (v *Vault) listByCollection(ctx context.Context, collection, cursor string, n, budget int) (*Page, error) {
	start := recordPrefix
	if cursor != "" {
		start = append(recordKey(cursor), 0)
	}
	end := store.PrefixEnd(recordPrefix)
	p := &Page{}
	scanned := 0
	for {
		kvs, err := v.st.Scan(ctx, start, end, scanBatch)
		if err != nil {
			return nil, fmt.Errorf("vault: scan: %w", err)
		}
		for _, kv := range kvs {
			id := idFromKey(kv.Key, recordPrefix)
			scanned++
			st, err := recordfmt.Parse(kv.Value)
			if err != nil {
				return nil, &Error{Code: CodeIntegrity, Msg: "stored record is corrupt", Index: -1, Err: err}
			}
			if st.Collection == collection {
				if len(p.Records) == n {
					// One more of the collection exists: the page is full.
					p.Next = p.Records[n-1].ID
					return p, nil
				}
				p.Records = append(p.Records, v.sealed(id, st))
			}
			if scanned >= budget {
				// Resume after the last record read, whether or not it
				// was of the collection.
				p.Next = id
				return p, nil
			}
		}
		if len(kvs) < scanBatch {
			return p, nil
		}
		start = append(append([]byte(nil), kvs[len(kvs)-1].Key...), 0)
	}
}
