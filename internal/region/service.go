// Package region is the use-case layer of one region: every request a
// region serves, whatever the transport, goes through one path here:
//
//	authenticate → resolve → decide (once) → decrypt only what the decision
//	reveals → mask → guard (before any commit on writes, before any answer
//	on reads) → audit → answer.
//
// The HTTP API (internal/api) only decodes a request, calls a Service
// method and encodes what it returns; errors come back as *errcode.Error,
// whose codes the API maps to statuses. The package never imports
// net/http.
package region

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/transfer"
	"github.com/domicile/domicile/internal/vault"
)

// Options configure a Service.
type Options struct {
	Vault  *vault.Vault
	Tokens *tokens.Service
	// Guard, when set, sees every request: before its commit on writes and
	// before its answer on reads. It may slow a request down or lock its
	// principal, which refuses the request.
	Guard     *guard.Guard
	Directory *access.Directory
	Access    *access.Engine
	Masker    access.Masker
	// Decoys makes the values of honeytoken records (SeedDecoys); nil
	// refuses decoy seeding.
	Decoys guard.DecoyGenerator
	// Transfers is the region's transfer ledger: every clear value that
	// leaves the region for a principal abroad is checked against the
	// recorded mechanisms and counted there. Nil records no transfers.
	Transfers *transfer.Ledger
	// Policy holds the node's current policy and replaces it (policy.go);
	// nil refuses the policy routes.
	Policy PolicyControl
	Logger *slog.Logger
}

// Service serves the requests of one region. It is safe for concurrent use.
type Service struct {
	v      *vault.Vault
	tokens *tokens.Service
	guard  *guard.Guard
	dir    *access.Directory
	engine *access.Engine
	masker access.Masker
	decoys guard.DecoyGenerator
	ledger *transfer.Ledger
	policy PolicyControl
	log    *slog.Logger
	name   string
}

// New returns the service of the region o.Vault serves.
func New(o Options) *Service {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{v: o.Vault, tokens: o.Tokens, guard: o.Guard, dir: o.Directory, engine: o.Access, masker: o.Masker,
		decoys: o.Decoys, ledger: o.Transfers, policy: o.Policy, log: log, name: o.Vault.Region().Name}
	if s.guard != nil && s.decoys != nil {
		s.guard.SetPlanter(planter{s}, s.decoys) // decoys.go
	}
	return s
}

// Name returns the region's name.
func (s *Service) Name() string { return s.name }

// Caller is who makes a request and why: the authenticated account, the
// request id (echoed, and written to the audit log), the purpose it states
// and, for administration, the route it called (the audit entry's rule).
type Caller struct {
	Account   *access.Account
	RequestID string
	Purpose   string
	Route     string
	// Elsewhere is what the principal did in the other regions, as the
	// gateway relays it: the guard counts it with this region's own, so
	// that a drain spread over regions meets one budget.
	Elsewhere guard.Elsewhere
}

// Authenticate returns the account that holds token. Unknown, malformed,
// expired and disabled tokens are all errcode.Unauthenticated; a locked
// principal is errcode.PrincipalLocked, returned with its account.
func (s *Service) Authenticate(ctx context.Context, token string) (*access.Account, error) {
	a, err := s.dir.Authenticate(ctx, token)
	switch {
	case errors.Is(err, access.ErrLocked):
		return a, errcode.New(errcode.PrincipalLocked, "principal %s is locked; an administrator unlocks it with 'domicile principals unlock'", a.ID)
	case errors.Is(err, access.ErrUnauthenticated):
		return nil, errcode.New(errcode.Unauthenticated, "invalid or expired token")
	case err != nil:
		return nil, domainError(err)
	}
	return a, nil
}

// Usage returns the principal's activity in this region as the guard counts
// it, by "signal/window", for the gateway to relay to the other regions;
// nil when the guard is off or has not seen the principal.
func (s *Service) Usage(principal string) map[string]float64 {
	if s.guard == nil {
		return nil
	}
	return s.guard.Usage(principal)
}

// Ready reports whether the region can serve: an audit log that cannot
// integrate is not ready.
func (s *Service) Ready() error {
	if l := s.v.Audit(); l != nil {
		return l.Err()
	}
	return nil
}

// target is what one access decision is about.
type target struct {
	action                   policy.Permission
	collection, jurisdiction string
}

// decision is the one access decision of a request: the request's own
// (its gate) and, for requests about several records, one for each
// distinct action, collection and jurisdiction among them, all made in the
// same step.
type decision struct {
	access.Decision
	per map[target]access.Decision
}

// of returns the decision for target t (the gate's when t is the gate).
func (d *decision) of(t target) access.Decision {
	if dd, ok := d.per[t]; ok {
		return dd
	}
	return d.Decision
}

// decide is the one access decision of a request: it decides gate and, when
// gate is allowed, each of more (the records the request will write or
// return), logs the outcome once at debug level (ids, action, rule; never a
// value: the edge's access line at info says how the request ended), and
// when gate is denied reports the denial to the guard and the audit log
// and returns the denial's error.
func (s *Service) decide(ctx context.Context, c Caller, gate target, more ...target) (*decision, error) {
	p := c.Account.Principal()
	d := &decision{Decision: s.engine.Decide(p, s.request(c, gate))}
	if d.Allowed {
		for _, t := range more {
			if _, ok := d.per[t]; ok || t == gate {
				continue
			}
			if d.per == nil {
				d.per = map[target]access.Decision{}
			}
			d.per[t] = s.engine.Decide(p, s.request(c, t))
		}
	}
	s.log.Debug("access", "request_id", c.RequestID, "principal", c.Account.ID, "location", c.Account.Location, "action", string(gate.action),
		"collection", gate.collection, "purpose", c.Purpose, "allowed", d.Allowed, "code", d.Code, "rule", d.Rule,
		"transfer", d.Transfer, "decisions", 1+len(d.per))
	if d.Allowed {
		return d, nil
	}
	return nil, s.refuse(ctx, c, gate, d.Decision)
}

// decideEach is the one access decision of a batch whose items are decided
// on their own (tokenize, detokenize): every distinct target in one step,
// logged once; a denied item fails alone, not the request.
func (s *Service) decideEach(c Caller, targets []target) *decision {
	p := c.Account.Principal()
	d := &decision{Decision: access.Decision{Allowed: true}, per: map[target]access.Decision{}}
	denied := 0
	for _, t := range targets {
		if _, ok := d.per[t]; ok {
			continue
		}
		dd := s.engine.Decide(p, s.request(c, t))
		d.per[t] = dd
		if !dd.Allowed {
			denied++
		}
	}
	action := ""
	if len(targets) > 0 {
		action = string(targets[0].action)
	}
	s.log.Debug("access", "request_id", c.RequestID, "principal", c.Account.ID, "location", c.Account.Location, "action", action,
		"purpose", c.Purpose, "decisions", len(d.per), "denied", denied)
	return d
}

func (s *Service) request(c Caller, t target) access.Request {
	return access.Request{Action: t.action, Purpose: c.Purpose, Region: s.name, Collection: t.collection, Jurisdiction: t.jurisdiction}
}

// refuse reports the denial d of t to the guard and the audit log and
// returns its error: the answer is the denial whether or not the guard or
// the log takes it.
func (s *Service) refuse(ctx context.Context, c Caller, t target, d access.Decision) error {
	if s.guard != nil {
		// Denials are a signal too.
		s.guard.Observe(ctx, guard.Event{Principal: c.Account.ID, Roles: c.Account.Roles, RequestID: c.RequestID, Action: guardAction(t.action),
			Denied: true, Elsewhere: c.Elsewhere})
	}
	if err := s.record(ctx, c, denyEntry(t.action, t.collection, d.Code)); err != nil {
		s.log.Error("audit: denial not recorded", "request_id", c.RequestID, "err", err)
	}
	if d.Code == access.CodePermissionDenied {
		return errcode.New(errcode.PermissionDenied, "principal %s lacks permission %s in region %s", c.Account.ID, d.Missing, s.name)
	}
	return errcode.New(errcode.Code(d.Code), "access denied: %s", firstReason(d))
}

func firstReason(d access.Decision) string {
	if len(d.Reasons) == 0 {
		return d.Code
	}
	return d.Reasons[len(d.Reasons)-1]
}

// admin decides an administrative request and records it: administration
// is audited like any access, with the route as its rule.
func (s *Service) admin(ctx context.Context, c Caller) error {
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return err
	}
	return s.record(ctx, c, adminEntry(c.Route))
}

// checkRegion refuses a request addressed to another region.
func (s *Service) checkRegion(name string) error {
	if name != s.name {
		return errcode.New(errcode.UnknownRegion, "this node serves region %s", s.name)
	}
	return nil
}

// domainError gives the errors of the domain packages that callers can act
// on their stable codes; anything else stays an internal error.
func domainError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrExists):
		return errcode.Wrap(errcode.PrincipalExists, err, "a principal with that id exists")
	case errors.Is(err, access.ErrNoPrincipal):
		return errcode.Wrap(errcode.NoSuchPrincipal, err, "no principal with that id")
	case errors.Is(err, access.ErrInvalid):
		return errcode.Wrap(errcode.InvalidPrincipal, err, "%s", strings.TrimPrefix(err.Error(), "access: invalid principal: "))
	case errors.Is(err, keyring.ErrSealed), errors.Is(err, keyring.ErrWrongSecret):
		return errcode.Wrap(errcode.RegionSealed, err, "the region is sealed")
	case errors.Is(err, keyring.ErrDestroyed):
		return errcode.Wrap(errcode.UnknownKeyVersion, err, "it was made under a key version that was destroyed ('domicile keys status' lists them)")
	}
	return err
}

// guardAction maps a permission to the guard's action.
func guardAction(p policy.Permission) guard.Action {
	switch p {
	case policy.PermRead:
		return guard.ActionRead
	case policy.PermSearch:
		return guard.ActionSearch
	case policy.PermDetokenize:
		return guard.ActionDetokenize
	case policy.PermAdmin:
		return guard.ActionAdmin
	}
	return guard.ActionWrite
}
