package region

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/vault"
)

// This file is the end of every request's path: the guard sees what the
// request did, then the audit log records it.

// observe reports what a request did to the guard: before the commit of a
// write, before the answer of a read. When the guard locks the principal
// the request is refused (principal_locked: the request that crossed the
// line is refused too); when it cannot record the event the request is
// refused as region_unavailable (the guard fails closed, like the audit
// log). A slow verdict delays the request, bounded by ctx.
func (s *Service) observe(ctx context.Context, c Caller, ev guard.Event) error {
	if s.guard == nil {
		return nil
	}
	ev.Principal, ev.Roles, ev.RequestID, ev.Elsewhere = c.Account.ID, c.Account.Roles, c.RequestID, c.Elsewhere
	v, err := s.guard.Observe(ctx, ev)
	if err != nil {
		return errcode.Wrap(errcode.RegionUnavailable, err, "the breach detector could not record the request; nothing was returned")
	}
	for _, al := range v.Alerts {
		s.log.Warn("guard alert", "request_id", c.RequestID, "alert", al.ID, "rule", al.Rule, "severity", al.Severity,
			"principal", al.Principal, "response", al.Response)
	}
	if v.Lock {
		return errcode.New(errcode.PrincipalLocked, "principal %s is locked by the breach detector; an administrator unlocks it with 'domicile principals unlock'", c.Account.ID)
	}
	if v.Delay > 0 {
		t := time.NewTimer(v.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return nil
}

// writer is who a write is for, with the guard as the write's gate: the
// vault calls it once the write is built and before it commits, so a write
// whose principal the guard locks stores nothing. A retried write asks the
// guard once.
func (s *Service) writer(c Caller, rule string, ev guard.Event) vault.Actor {
	var once sync.Once
	var gateErr error
	return vault.Actor{RequestID: c.RequestID, Principal: c.Account.ID, Location: c.Account.Location, Purpose: c.Purpose, Rule: rule,
		Gate: func(ctx context.Context) error {
			once.Do(func() { gateErr = s.observe(ctx, c, ev) })
			return gateErr
		}}
}

// record appends an entry for a request that writes nothing (a read, a
// search, a detokenization, a denial, an administrative request) durably,
// before the answer. When the log cannot record it the request is refused
// and nothing is returned.
func (s *Service) record(ctx context.Context, c Caller, e entry.Entry) error {
	log := s.v.Audit()
	if log == nil {
		return nil
	}
	if err := log.AppendNow(ctx, requestEntry(c, e)); err != nil {
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the request; nothing was returned")
	}
	return nil
}

// requestEntry completes e with who made the request, and why.
func requestEntry(c Caller, e entry.Entry) entry.Entry {
	e.RequestID, e.Principal, e.Location, e.Purpose = c.RequestID, c.Account.ID, c.Account.Location, c.Purpose
	if e.Outcome == "" {
		e.Outcome = entry.OK
	}
	return e
}

func denyEntry(action policy.Permission, collection, code string) entry.Entry {
	return entry.Entry{Action: auditAction(action), Collection: collection, Decision: "deny", Rule: code, Outcome: entry.Denied}
}

func adminEntry(route string) entry.Entry {
	return entry.Entry{Action: entry.Admin, Decision: "allow", Rule: route}
}

// readEntry is the audit entry of records returned to a caller: their ids
// (each once), their subjects as keyed MACs, the rule that governed the
// read, and per field what the caller got: Fields the fields shown in
// clear, Masked those shown masked.
func readEntry(action entry.Action, collection, rule string, recs []Record) entry.Entry {
	e := entry.Entry{Action: action, Collection: collection, Decision: "allow", Rule: rule}
	clear, masked, seen := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range recs {
		if !seen[recs[i].ID] {
			seen[recs[i].ID] = true
			e.Records = append(e.Records, recs[i].ID)
		}
		if ref := string(recs[i].subjectRef); !seen["\x00"+ref] {
			seen["\x00"+ref] = true
			e.Subjects = append(e.Subjects, entry.SubjectMAC(recs[i].subjectRef))
		}
		for f := range recs[i].Fields {
			if recs[i].Access.Fields[f] == string(policy.AccessClear) {
				clear[f] = true
			} else {
				masked[f] = true
			}
		}
	}
	e.Fields, e.Masked = sortedKeys(clear), sortedKeys(masked)
	return e
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// auditError gives the audit log's errors their codes.
func auditError(err error) error {
	switch {
	case errors.Is(err, audit.ErrRange), errors.Is(err, audit.ErrNotFound):
		return errcode.Wrap(errcode.AuditOutOfRange, err, "no such entry or tree size in this region's log")
	case errors.Is(err, audit.ErrCursor):
		return errcode.New(errcode.InvalidCursor, "cursor is not valid for this listing")
	}
	return err
}

// auditAction maps a permission to the audit log's action.
func auditAction(p policy.Permission) entry.Action {
	switch p {
	case policy.PermCreate:
		return entry.Create
	case policy.PermRead:
		return entry.Read
	case policy.PermSearch:
		return entry.Search
	case policy.PermUpdate:
		return entry.Patch
	case policy.PermDelete:
		return entry.Delete
	case policy.PermErase:
		return entry.Erase
	case policy.PermDetokenize:
		return entry.Detokenize
	}
	return entry.Admin
}
