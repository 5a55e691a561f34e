package region

import (
	"context"
	"slices"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
)

// This file serves an export of one collection, a page at a time: the
// records of the page go through the read decision exactly as a read of
// each would (masked, tokenized or clear as the decision says, clear
// values that leave for a principal abroad checked and counted as a
// transfer), the guard sees the records returned, and each page is one
// audit entry of action export naming the records it revealed.

// ExportPage is a page of a collection's export.
type ExportPage struct {
	Page
	// Refused lists, for each record of Page.Records (same index), the
	// fields the record holds that the decision does not show (every
	// field of a record whose read is denied), sorted; nil when none.
	Refused [][]string
}

// ExportCollection returns a page of the records of collection in the
// region, in id order from cursor (the Next of the previous page, "" for
// the first), as the caller may see each. The caller needs the read
// permission on the collection; a record of a jurisdiction it may not
// read is returned with rule "denied" and every field refused.
//
// A page may hold fewer than limit records while Next is not "": records
// are not keyed by collection, and a page scans at most
// vault.CollectionScanBudget stored records. The first page of a region
// counts for the guard as one export; every page counts the records it
// returns and the fields it shows in clear, as reads do.
func (s *Service) ExportCollection(ctx context.Context, c Caller, collection, cursor string, limit int) (*ExportPage, error) {
	p, err := s.v.ListByCollection(ctx, collection, cursor, limit)
	if err != nil {
		return nil, err
	}
	d, err := s.decide(ctx, c, target{policy.PermRead, collection, ""}, readTargets(p)...)
	if err != nil {
		return nil, err
	}
	page, err := s.revealPage(ctx, c, p, d)
	if err != nil {
		return nil, err
	}
	out := &ExportPage{Page: *page, Refused: make([][]string, len(page.Records))}
	for i, sealed := range p.Records {
		for _, f := range sealed.Fields {
			if _, ok := page.Records[i].Fields[f]; !ok {
				out.Refused[i] = append(out.Refused[i], f)
			}
		}
		slices.Sort(out.Refused[i])
	}
	tr := s.transferOf(c, page.Records)
	plan, err := s.checkTransfer(ctx, c, tr)
	if err != nil {
		return nil, err
	}
	action := guard.ActionRead
	if cursor == "" {
		action = guard.ActionExport
	}
	if err := s.observe(ctx, c, guard.Event{Action: action, RecordIDs: page.ids(), ClearFields: ClearCount(page.Records...)}); err != nil {
		return nil, err
	}
	if err := s.recordTransfer(ctx, c, tr, plan, readEntry(entry.Export, collection, "collection-export", page.Records)); err != nil {
		return nil, err
	}
	return out, nil
}
