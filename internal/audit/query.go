package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
)

// Filter selects entries for List; zero fields match everything.
type Filter struct {
	From, To  time.Time // From <= Time < To
	Principal string
	Action    entry.Action
	Record    string // entries naming this record id
	// Subject selects the entries naming this subject's keyed reference
	// (the region keyring's SubjectRef).
	Subject []byte
}

func (f *Filter) match(e *entry.Entry) bool {
	switch {
	case !f.From.IsZero() && e.Time.Before(f.From):
		return false
	case !f.To.IsZero() && !e.Time.Before(f.To):
		return false
	case f.Principal != "" && e.Principal != f.Principal:
		return false
	case f.Action != "" && e.Action != f.Action:
		return false
	case f.Record != "" && !slices.Contains(e.Records, f.Record):
		return false
	case f.Subject != nil && !slices.ContainsFunc(e.Subjects, func(m entry.SubjectMAC) bool { return bytes.Equal(m, f.Subject) }):
		return false
	}
	return true
}

// ErrCursor is wrapped by List for a cursor it did not issue.
var ErrCursor = errors.New("audit: invalid cursor")

// Limits of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
	// maxListScan bounds the entries one List call reads; a page may then
	// be short (even empty) with a non-empty next cursor.
	maxListScan = 20_000
	listPage    = 512
)

// List returns up to limit entries matching f in index order, starting at
// cursor ("" for the first entry), and the cursor of the next page ("" at
// the end). It stops at the first missing index (a reservation in flight,
// in this process or another), so a page never skips an entry that
// commits later. It scans at most
// 20,000 entries per call.
//
// Errors: ErrCursor (wrapped) for a malformed cursor; ErrCorrupt (wrapped)
// for an entry that does not parse; store errors, wrapped.
func (l *Log) List(ctx context.Context, f Filter, cursor string, limit int) ([]entry.Entry, string, error) {
	var from uint64
	if cursor != "" {
		v, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil || strconv.FormatUint(v, 10) != cursor {
			return nil, "", fmt.Errorf("audit: list: %w", ErrCursor)
		}
		from = v
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var out []entry.Entry
	scanned := 0
	for len(out) < limit && scanned < maxListScan {
		kvs, err := l.st.Scan(ctx, entryKey(from), store.PrefixEnd(prefixEntry), listPage)
		if err != nil {
			return nil, "", fmt.Errorf("audit: list: %w", err)
		}
		for _, kv := range kvs {
			i := binary.BigEndian.Uint64(kv.Key[len(prefixEntry):])
			if i != from {
				// A hole: the entry may still be written (or voided).
				return out, "", nil
			}
			e, err := entry.Parse(kv.Value)
			if err != nil || e.Index != i {
				return nil, "", fmt.Errorf("audit: list: entry %d: %w", i, ErrCorrupt)
			}
			from = i + 1
			scanned++
			if f.match(e) {
				out = append(out, *e)
				if len(out) == limit {
					break
				}
			}
		}
		if len(kvs) < listPage && len(out) < limit {
			return out, "", nil
		}
	}
	return out, strconv.FormatUint(from, 10), nil
}
