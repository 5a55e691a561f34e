package region

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// Break-glass: when no administrator can act over the API (the only one is
// locked by the guard, or its token is lost), an operator who holds the
// region's unseal secret repairs access offline, with `domicile principals
// unlock ID --data DIR` or `domicile principals rescue ID --data DIR`.
// These methods have no Caller: holding the unseal secret is the proof,
// and it was given when the region's keyring opened in this process. The
// API never calls them. Each change is committed together with its audit
// entry (rule break-glass:unlock or break-glass:rescue), so that it is
// never made without its record in the region's tamper-evident log.

// BreakGlassUnlock makes principal id active again, whatever its state
// (locked by the guard, disabled), and gives it a fresh budget with the
// guard.
func (s *Service) BreakGlassUnlock(ctx context.Context, id string) (*access.Account, error) {
	if _, err := s.dir.Get(ctx, id); err != nil {
		return nil, domainError(err)
	}
	a, err := s.dir.SetStateWith(ctx, id, access.Active, s.breakGlassCommit(id, "break-glass:unlock"))
	if err != nil {
		return nil, breakGlassError(err)
	}
	if s.guard != nil {
		if err := s.guard.Unlock(ctx, id); err != nil {
			return nil, fmt.Errorf("the principal is active, but the guard kept its lock state (run the unlock again): %w", err)
		}
	}
	s.log.Warn("break-glass: principal unlocked offline", "principal", id)
	return a, nil
}

// BreakGlassRescue creates a new administrator a (its roles must grant
// admin) with a fresh token, returned this once; expires zero means no
// expiry.
func (s *Service) BreakGlassRescue(ctx context.Context, a access.Account, expires time.Time) (*access.Account, string, error) {
	tok := access.NewToken()
	if _, err := s.dir.Get(ctx, a.ID); err == nil {
		return nil, "", errcode.New(errcode.PrincipalExists, "a principal with that id exists; choose another id, or unlock it with 'domicile principals unlock'")
	}
	if err := s.dir.Validate(&a); err != nil {
		return nil, "", domainError(err)
	}
	if d := s.engine.Decide(a.Principal(), access.Request{Action: policy.PermAdmin, Region: s.name}); !d.Allowed {
		return nil, "", errcode.New(errcode.InvalidPrincipal, "the rescue principal's roles must grant the admin permission in region %s", s.name)
	}
	out, err := s.dir.CreateWith(ctx, a, tok, expires, s.breakGlassCommit(a.ID, "break-glass:rescue"))
	if err != nil {
		return nil, "", breakGlassError(err)
	}
	s.log.Warn("break-glass: rescue administrator created offline", "principal", a.ID)
	return out, tok, nil
}

// breakGlassCommit commits a break-glass change with its audit entry.
func (s *Service) breakGlassCommit(id, rule string) access.Commit {
	return func(ctx context.Context, b *store.Batch) error {
		log := s.v.Audit()
		if log == nil {
			return errcode.New(errcode.AuditUnavailable, "the region has no audit log; a break-glass change is never made unrecorded")
		}
		return log.Apply(ctx, b, entry.Entry{Action: entry.Admin, Principal: id, Decision: "allow", Rule: rule, Outcome: entry.OK})
	}
}

func breakGlassError(err error) error {
	if errors.Is(err, audit.ErrNotRecorded) {
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the break-glass change; nothing was changed")
	}
	return domainError(err)
}
