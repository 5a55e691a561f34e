package region

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/transfer"
)

// TokenizeItem is one value to tokenize. Subject, when set, binds the
// token to that subject: it stops detokenizing when the subject is erased.
type TokenizeItem struct {
	Collection, Field, Value, Jurisdiction string
	Subject                                string
}

// TokenizeResult is the outcome of one item: a token, or Err.
type TokenizeResult struct {
	Token, Kind string
	KeyVersion  uint32
	Err         *errcode.Error
}

// Tokenize issues tokens for values. Each item needs the create permission
// for its collection (a token stands for a value the region now keeps); a
// denied or invalid item fails alone.
func (s *Service) Tokenize(ctx context.Context, c Caller, items []TokenizeItem) ([]TokenizeResult, error) {
	if len(items) > tokens.MaxBatch {
		return nil, errcode.New(errcode.TooManyItems, "at most %d items per request, got %d", tokens.MaxBatch, len(items))
	}
	targets := make([]target, len(items))
	for i, it := range items {
		targets[i] = target{policy.PermCreate, it.Collection, it.Jurisdiction}
	}
	d := s.decideEach(c, targets)
	out := make([]TokenizeResult, len(items))
	todo := make([]tokens.Item, 0, len(items))
	pos := make([]int, 0, len(items))
	for i, it := range items {
		if dd := d.of(targets[i]); !dd.Allowed {
			out[i].Err = errcode.New(errcode.Code(dd.Code), "%s", firstReason(dd))
			continue
		}
		todo = append(todo, tokens.Item{Collection: it.Collection, Field: it.Field, Value: it.Value, Jurisdiction: it.Jurisdiction, Subject: it.Subject})
		pos = append(pos, i)
	}
	res, err := s.tokens.Tokenize(ctx, todo)
	if err != nil {
		return nil, err
	}
	issued := 0
	for j, rs := range res {
		i := pos[j]
		if rs.Err != nil {
			out[i].Err = itemError(rs.Err)
			continue
		}
		out[i] = TokenizeResult{Token: rs.Token, Kind: rs.Kind, KeyVersion: rs.KeyVersion}
		issued++
	}
	s.log.Debug("tokenize", "request_id", c.RequestID, "principal", c.Account.ID, "items", len(items), "issued", issued)
	if err := s.record(ctx, c, entry.Entry{Action: entry.Tokenize, Decision: "allow", Outcome: entry.OK}); err != nil {
		return nil, err
	}
	return out, nil
}

// itemError is the caller's view of a token service item error: its code
// and message, or an internal error whose cause stays in the server.
func itemError(err error) *errcode.Error {
	var e *errcode.Error
	if errors.As(err, &e) && e.Code != tokens.CodeInternal {
		return errcode.New(e.Code, "%s", e.Msg)
	}
	return errcode.New(errcode.Internal, "internal error")
}

// DetokenizeItem is one token to turn back into its value.
type DetokenizeItem struct {
	Token string
	// Region, when set, must be this region.
	Region            string
	Collection, Field string
	Jurisdiction      string
	KeyVersion        uint32
}

// DetokenizeResult is the outcome of one item: the value, shown only when
// the caller may see its field in clear here and now, or Err.
type DetokenizeResult struct {
	Value, Collection, Field, Rule string
	Err                            *errcode.Error
}

// Detokenize turns tokens back into values, each through the access
// decision with the detokenize permission: a value is returned only when
// the principal may see its field in clear, here and now (purpose,
// location, transfer rules); otherwise the item fails with the reason.
func (s *Service) Detokenize(ctx context.Context, c Caller, items []DetokenizeItem) ([]DetokenizeResult, error) {
	if len(items) > tokens.MaxBatch {
		return nil, errcode.New(errcode.TooManyItems, "at most %d items per request, got %d", tokens.MaxBatch, len(items))
	}
	out := make([]DetokenizeResult, len(items))
	var todo []tokens.DItem
	var pos []int
	for i, it := range items {
		if it.Region != "" && it.Region != s.name {
			out[i].Err = errcode.New(errcode.WrongRegion, "this node serves region %s", s.name)
			continue
		}
		todo = append(todo, tokens.DItem{Token: it.Token, Collection: it.Collection, Field: it.Field, KeyVersion: it.KeyVersion})
		pos = append(pos, i)
	}
	res, err := s.tokens.Detokenize(ctx, todo)
	if err != nil {
		return nil, err
	}
	targets := make([]target, len(res))
	for j, rs := range res {
		j2 := rs.Jurisdiction
		if j2 == "" {
			// fpe tokens record nothing; the caller's jurisdiction is the
			// context a role condition sees.
			j2 = items[pos[j]].Jurisdiction
		}
		targets[j] = target{policy.PermDetokenize, rs.Collection, j2}
	}
	d := s.decideEach(c, targets)
	shown, refused := 0, 0
	var presented, recs []string
	tr := transfer.Transfer{Destination: c.Account.Location, Recipient: c.Account.ID, Organisation: c.Account.Organisation}
	// The entry says per field what happened, each record and field once.
	seenRec, clear, refusals := map[string]bool{}, map[string]bool{}, map[entry.Refusal]bool{}
	for j, rs := range res {
		i := pos[j]
		presented = append(presented, todo[j].Token)
		if rs.RecordID != "" && !seenRec[rs.RecordID] {
			seenRec[rs.RecordID] = true
			recs = append(recs, rs.RecordID)
		}
		if rs.Err != nil {
			out[i].Err = itemError(rs.Err)
			continue
		}
		dd := d.of(targets[j])
		r := DetokenizeResult{Collection: rs.Collection, Field: rs.Field, Rule: dd.Rule}
		r.Err = dd.ClearField(rs.Field, s.name, c.Account.Location)
		var it *transfer.Item
		if rule := dd.Fields[rs.Field].Transfer; r.Err == nil && rule != "" {
			if it, r.Err, err = s.transferItem(ctx, c, rs, targets[j].jurisdiction, rule); err != nil {
				return nil, err
			}
		}
		if r.Err != nil {
			refused++
			refusals[entry.Refusal{Field: rs.Field, Code: string(r.Err.Code)}] = true
		} else {
			r.Value = rs.Value
			shown++
			clear[rs.Field] = true
			if it != nil {
				tr.Items = append(tr.Items, *it)
			}
		}
		out[i] = r
	}
	plan, err := s.checkTransfer(ctx, c, tr)
	if err != nil {
		return nil, err
	}
	s.log.Debug("detokenize", "request_id", c.RequestID, "principal", c.Account.ID, "location", c.Account.Location, "purpose", c.Purpose,
		"items", len(items), "shown", shown, "refused", refused)
	if err := s.observe(ctx, c, guard.Event{Action: guard.ActionDetokenize, Tokens: presented, RecordIDs: recs, ClearFields: shown}); err != nil {
		return nil, err
	}
	de := entry.Entry{Action: entry.Detokenize, Records: recs, Decision: "allow", Outcome: entry.OK, Fields: sortedKeys(clear)}
	for r := range refusals {
		de.Refused = append(de.Refused, r)
	}
	slices.SortFunc(de.Refused, func(a, b entry.Refusal) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Code, b.Code))
	})
	switch {
	case refused > 0 && shown == 0:
		de.Decision, de.Outcome = "deny", entry.Denied
	case refused > 0:
		de.Decision = "partial"
	}
	if err := s.recordTransfer(ctx, c, tr, plan, de); err != nil {
		return nil, err
	}
	return out, nil
}

// transferItem is what a detokenized value sends abroad. The individual is
// the record's subject for a record's token, else the value itself (a
// stand-alone token stands for one person's value), as a keyed reference.
// A rule resting on consent needs the subject's live consent: without it
// (or without a known subject) the item is refused (its error).
func (s *Service) transferItem(ctx context.Context, c Caller, rs tokens.DResult, jurisdiction, rule string) (*transfer.Item, *errcode.Error, error) {
	it := &transfer.Item{Record: rs.RecordID, Jurisdiction: jurisdiction, Collection: rs.Collection, Fields: map[string]string{rs.Field: rule}}
	if rs.RecordID != "" {
		sealed, err := s.v.Load(ctx, rs.RecordID)
		if err != nil {
			return nil, nil, err
		}
		it.Subject, it.Jurisdiction = sealed.SubjectRef, sealed.Jurisdiction
	} else {
		it.Subject = s.v.Keyring().SubjectRef("\x00value\x00" + rs.Collection + "\x00" + rs.Field + "\x00" + rs.Value)
		if it.Jurisdiction == "" && len(s.v.Region().Jurisdictions) > 0 {
			it.Jurisdiction = s.v.Region().Jurisdictions[0]
		}
	}
	if s.ledger == nil || !s.ledger.RestsOnConsent(rule) {
		return it, nil, nil
	}
	ok := false
	if rs.RecordID != "" {
		var err error
		if ok, err = s.ledger.Consented(ctx, it.Subject, c.Account.Location, c.Account.ID, c.Purpose); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case rs.RecordID == "":
		return nil, errcode.New(errcode.TransferRequired, "field %s of region %s may leave it for %s only with the subject's consent (transfer rule %s), and this token names no subject whose consent could be checked: read the record instead", rs.Field, s.name, c.Account.Location, rule), nil
	case !ok:
		return nil, errcode.New(errcode.TransferRequired, "field %s of region %s may leave it for %s only with the subject's consent (transfer rule %s), and there is no live consent", rs.Field, s.name, c.Account.Location, rule), nil
	}
	return it, nil, nil
}
