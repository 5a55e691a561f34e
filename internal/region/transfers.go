package region

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/transfer"
)

// This file puts the transfer ledger on the path of every answer that
// shows a strict region's values in clear to a principal abroad: the
// transfer is checked against the recorded mechanisms before the guard
// and the audit log see the answer, refused when they do not cover it,
// and counted in the same commit as the answer's audit entry.

// Guard rules of the alerts the ledger raises.
const (
	ruleTransferRefused = "transfer-mechanism-insufficient"
	ruleTransferNear    = "transfer-threshold-near"
)

// transferOf is what recs send abroad: for each record, the fields shown
// in clear that a transfer rule lets leave.
func (s *Service) transferOf(c Caller, recs []Record) transfer.Transfer {
	t := transfer.Transfer{Destination: c.Account.Location, Recipient: c.Account.ID, Organisation: c.Account.Organisation}
	for i := range recs {
		r := &recs[i]
		if len(r.transfers) == 0 {
			continue
		}
		t.Items = append(t.Items, transfer.Item{Record: r.ID, Subject: r.subjectRef, Jurisdiction: r.Jurisdiction,
			Collection: r.Collection, Fields: r.transfers})
	}
	return t
}

// checkTransfer plans t and, when the recorded mechanisms do not cover it,
// refuses the request before any value leaves: the refusal is recorded
// and raises an alert. It returns nil when t sends nothing abroad.
func (s *Service) checkTransfer(ctx context.Context, c Caller, t transfer.Transfer) (*transfer.Plan, error) {
	return s.planTransfer(ctx, c, t, false)
}

// planTransfer is checkTransfer, with the year's counts read afresh when
// again (after a conflict).
func (s *Service) planTransfer(ctx context.Context, c Caller, t transfer.Transfer, again bool) (*transfer.Plan, error) {
	if s.ledger == nil || len(t.Items) == 0 {
		return nil, nil
	}
	plan := s.ledger.Plan
	if again {
		plan = s.ledger.Replan
	}
	p, err := plan(ctx, t)
	var ins *transfer.Insufficient
	switch {
	case errors.As(err, &ins):
		return nil, s.refuseTransfer(ctx, c, t, ins)
	case err != nil:
		return nil, err
	}
	return p, nil
}

func (s *Service) refuseTransfer(ctx context.Context, c Caller, t transfer.Transfer, ins *transfer.Insufficient) error {
	e := entry.Entry{Action: entry.Transfer, Collection: t.Items[0].Collection, Decision: "deny",
		Rule: string(errcode.TransferMechanismInsufficient), Outcome: entry.Denied}
	for _, it := range t.Items {
		e.Records = append(e.Records, it.Record)
	}
	if err := s.record(ctx, c, e); err != nil {
		s.log.Error("audit: refused transfer not recorded", "request_id", c.RequestID, "err", err)
	}
	s.log.Warn("transfer refused", "request_id", c.RequestID, "principal", c.Account.ID, "destination", t.Destination, "reason", ins.Reason)
	s.alert(ctx, c, guard.Alert{Rule: ruleTransferRefused, Severity: "high"}, 0)
	return errcode.New(errcode.TransferMechanismInsufficient, "the recorded transfer mechanisms do not cover this transfer: %s", ins.Reason)
}

// alert raises a ledger alert for the caller's request.
func (s *Service) alert(ctx context.Context, c Caller, a guard.Alert, dedup time.Duration) {
	if s.guard == nil {
		return
	}
	a.Principal, a.Roles, a.RequestIDs = c.Account.ID, c.Account.Roles, []string{c.RequestID}
	if _, err := s.guard.Raise(ctx, a, dedup); err != nil {
		s.log.Error("guard: transfer alert not stored", "request_id", c.RequestID, "rule", a.Rule, "err", err)
	}
}

// recordTransfer records e, the answer's entry, with the transfer's ledger
// entries and counts in one durable commit. When another node counted one
// of the same individuals (or took the same place below a threshold)
// first, the transfer is planned again, and may then be refused. Plans
// that take places below a threshold commit one at a time on this node
// (transfer.Ledger.Turn), so only other nodes' plans race them.
func (s *Service) recordTransfer(ctx context.Context, c Caller, t transfer.Transfer, p *transfer.Plan, e entry.Entry) error {
	if p == nil {
		return s.record(ctx, c, e)
	}
	var end func()
	defer func() {
		if end != nil {
			end()
		}
	}()
	for attempt := 1; ; attempt++ {
		if p.Contended() && end == nil {
			var waited bool
			var err error
			if end, waited, err = s.ledger.Turn(ctx); err != nil {
				return err
			}
			if waited { // the plan was made before the last turn committed
				if p, err = s.planTransfer(ctx, c, t, true); err != nil {
					return err
				}
			}
		}
		err := s.commitTransfer(ctx, c, p, e)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, store.ErrConflict):
			return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the transfer; nothing was returned")
		case attempt == maxTransferAttempts:
			return errcode.Wrap(errcode.Conflict, err, "other requests kept counting the same individuals first; nothing was returned: retry the request")
		}
		// Another node won: wait a little (up to attempt ms, at random) so
		// that two nodes' retries do not meet again in step.
		select {
		case <-time.After(rand.N(time.Duration(attempt) * time.Millisecond)):
		case <-ctx.Done():
			return ctx.Err()
		}
		if p, err = s.planTransfer(ctx, c, t, true); err != nil {
			return err
		}
	}
}

// maxTransferAttempts bounds the commits of one transfer that lose to
// other nodes' plans.
const maxTransferAttempts = 16

// commitTransfer commits p with e and p's entries, then tells the ledger
// and raises p's threshold warnings.
func (s *Service) commitTransfer(ctx context.Context, c Caller, p *transfer.Plan, e entry.Entry) error {
	entries := []entry.Entry{requestEntry(c, e)}
	for _, te := range p.Entries {
		entries = append(entries, requestEntry(c, te))
	}
	var b store.Batch
	p.AddTo(&b)
	var err error
	if log := s.v.Audit(); log != nil {
		err = log.Apply(ctx, &b, entries...)
	} else {
		err = s.ledger.Apply(ctx, &b)
	}
	if err != nil {
		return err
	}
	s.ledger.Committed(p)
	for _, w := range p.Warnings {
		s.log.Warn("transfer threshold near", "request_id", c.RequestID, "class", w.Class, "percent", w.Percent, "count", w.Count, "limit", w.Limit)
		sev := "medium"
		if w.Percent >= 95 {
			sev = "high"
		}
		s.alert(ctx, c, guard.Alert{Rule: fmt.Sprintf("%s-%d", ruleTransferNear, w.Percent), Severity: sev,
			Count: float64(w.Count), Limit: float64(w.Limit), Signal: "individuals-" + w.Class, Window: "year"}, 24*time.Hour)
	}
	return nil
}

// withConsent returns d with the fields that would leave for c abroad
// under a transfer rule resting on consent, without a live consent of the
// subject ref, masked (or left out, where the region refuses clear values
// abroad without a rule), as if no rule allowed them. The consent is read
// from the store on every request: a withdrawal holds from the next
// request on every node.
func (s *Service) withConsent(ctx context.Context, c Caller, ref []byte, collection string, d access.Decision) (access.Decision, error) {
	if s.ledger == nil || !d.Transfer {
		return d, nil
	}
	var fields map[string]access.Treatment
	checked, consented := false, false
	for name, t := range d.Fields {
		if t.Transfer == "" || !s.ledger.RestsOnConsent(t.Transfer) {
			continue
		}
		if !checked {
			ok, err := s.ledger.Consented(ctx, ref, c.Account.Location, c.Account.ID, c.Purpose)
			if err != nil {
				return d, err
			}
			checked, consented = true, ok
		}
		if consented {
			continue
		}
		if fields == nil {
			fields = maps.Clone(d.Fields)
		}
		if s.v.Region().Abroad == policy.AbroadRefuse {
			delete(fields, name)
			continue
		}
		mask := ""
		if coll, ok := s.engine.Policy().Collection(collection); ok {
			if f, ok := coll.Field(name); ok {
				mask = f.Mask
			}
		}
		fields[name] = access.Treatment{Kind: policy.AccessMasked, Mask: mask, Abroad: true}
	}
	if fields != nil {
		d.Fields = fields
		d.Reasons = append(slices.Clone(d.Reasons), "no live consent of the subject to this transfer: its fields do not leave in clear")
	}
	return d, nil
}
