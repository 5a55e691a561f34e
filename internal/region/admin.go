package region

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// Description is what a region tells of itself: its place in the policy,
// its algorithms, the current version of each key and its record counts.
type Description struct {
	Name, Suite, Residency string
	Jurisdictions          []string
	Algorithms             map[string]string
	KeyVersions            map[string]uint32
	Records                map[string]int64
	// Migration is "FROM -> TO (PHASE)" while a suite migration's job is
	// unfinished, "" otherwise.
	Migration string
}

// Describe describes the region to any authenticated caller: it names no
// record and no value.
func (s *Service) Describe(ctx context.Context) (*Description, error) {
	pr := s.v.Region()
	k := s.v.Keyring()
	st, err := s.v.Stats(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := k.Status(ctx)
	if err != nil {
		return nil, domainError(err)
	}
	// The suite is the keys' (after a migration the policy file may still
	// name the old one until it is edited).
	out := &Description{Name: pr.Name, Suite: ks.Suite, Residency: string(pr.Residency), Jurisdictions: pr.Jurisdictions,
		Algorithms: k.Suite().Algorithms(), KeyVersions: map[string]uint32{}, Records: st.Records}
	for _, p := range ks.Purposes {
		out.KeyVersions[string(p.Purpose)] = p.Current
	}
	if job, err := k.RewrapStatus(ctx); err == nil && job.Suite != "" && job.State != keyring.JobDone {
		from := ks.Origin
		for _, p := range ks.Purposes {
			for _, v := range p.Versions {
				if p.Purpose == keyring.Data && v.Suite != job.Suite && v.State == keyring.Active {
					from = v.Suite
				}
			}
		}
		out.Migration = fmt.Sprintf("%s -> %s (%s)", from, job.Suite, job.Phase)
	}
	return out, nil
}

// KeyStatus is the state of the region's keys.
type KeyStatus = keyring.Status

// Keys returns the state of the region's keys (admin).
func (s *Service) Keys(ctx context.Context, c Caller, region string) (KeyStatus, error) {
	if err := s.checkRegion(region); err != nil {
		return KeyStatus{}, err
	}
	if err := s.admin(ctx, c); err != nil {
		return KeyStatus{}, err
	}
	ks, err := s.v.Keyring().Status(ctx)
	return ks, domainError(err)
}

// Rotate adds a version of the region's key for purpose (data, index,
// token or audit) and returns it (admin). The rotation is committed with
// its audit entry, which names the new version: a rotation is never stored
// without its record.
func (s *Service) Rotate(ctx context.Context, c Caller, region, purpose string) (uint32, error) {
	if err := s.checkRegion(region); err != nil {
		return 0, err
	}
	if err := s.admin(ctx, c); err != nil {
		return 0, err
	}
	p := keyring.Purpose(purpose)
	switch p {
	case keyring.Data, keyring.Index, keyring.Token, keyring.Audit:
	default:
		return 0, errcode.New(errcode.InvalidRequest, "purpose must be data, index, token or audit")
	}
	log, kr := s.v.Audit(), s.v.Keyring()
	if log == nil {
		v, err := kr.Rotate(ctx, p)
		return v, domainError(err)
	}
	v, err := kr.RotateWith(ctx, p, func(b *store.Batch, nv keyring.NewVersion) error {
		rule := fmt.Sprintf("rotate:%s:v%d", p, nv.Version)
		if p == keyring.Audit {
			r, err := audit.KeyIntroRule(log.Origin(), nv.Version, nv.AuditKey, kr.Suite().Signature(), log.Hash())
			if err != nil {
				return err
			}
			rule = r
		}
		e := requestEntry(c, entry.Entry{Action: entry.Key, Decision: "allow", Rule: rule})
		if err := log.Apply(ctx, b, e); err != nil {
			return err
		}
		if p == keyring.Audit {
			// The outgoing key is still current: its checkpoint covers
			// the entry naming its successor (unless an earlier
			// reservation holds integration back), so the introduction
			// is signed by the key an auditor already trusts.
			if _, err := log.Checkpoint(ctx); err != nil {
				s.log.Warn("audit: cannot sign the checkpoint introducing the new audit key", "version", nv.Version, "err", err)
			}
		}
		return nil
	})
	if errors.Is(err, audit.ErrNotRecorded) {
		return 0, errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the rotation; no key was added")
	}
	return v, domainError(err)
}

// AlertFilter selects alerts.
type AlertFilter = guard.Filter

// Alerts returns a page of the region's alerts (admin).
func (s *Service) Alerts(ctx context.Context, c Caller, f AlertFilter, cursor string, limit int) ([]guard.Alert, string, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, "", err
	}
	switch f.MinSeverity {
	case "", "low", "medium", "high", "critical":
	default:
		return nil, "", errcode.New(errcode.InvalidRequest, "min_severity must be low, medium, high or critical")
	}
	if s.guard == nil {
		return []guard.Alert{}, "", nil
	}
	n, err := paging.Size(limit)
	if err != nil {
		return nil, "", err
	}
	list, next, err := s.guard.List(ctx, f, cursor, n)
	if errors.Is(err, guard.ErrCursor) {
		return nil, "", errcode.New(errcode.InvalidCursor, "cursor is not valid for this listing")
	}
	return list, next, err
}

// Decoys is a request to seed honeytoken records.
type Decoys struct {
	Region, Collection string
	Jurisdictions      []string
	Count              int
	// Principal is the service whose creates the decoys look like (it
	// must be allowed to create in the collection); empty means the
	// principal of the latest create in the log, or the caller when there
	// is none. Purpose is what their entries state; empty means that
	// principal's latest create's purpose.
	Principal, Purpose string
	// Spread is how long the planting takes, such as "24h"; empty means
	// DefaultDecoySpread.
	Spread string
}

// DefaultDecoySpread is how long seeding decoys takes when the request
// does not say: long enough that the decoys' creates mix with the
// service's own.
const DefaultDecoySpread = 24 * time.Hour

// SeedDecoys schedules honeytoken customers in the region (admin): records
// like any other, whose read raises a critical alert. They are not created
// by this request: the guard plants them one at a time at random times
// over the spread, each recorded like a create of q.Principal (see
// decoys.go), so that no one who reads the audit log, the records or the
// region's counts can tell them from real customers. It returns how many
// it scheduled; the request's audit entry says neither that number nor
// which records.
func (s *Service) SeedDecoys(ctx context.Context, c Caller, q Decoys) (int, error) {
	if err := s.checkRegion(q.Region); err != nil {
		return 0, err
	}
	if err := s.admin(ctx, c); err != nil {
		return 0, err
	}
	if s.guard == nil || s.decoys == nil {
		return 0, errcode.New(errcode.InvalidRequest, "the breach detector is off in this region")
	}
	if q.Count < 1 || q.Count > 1000 {
		return 0, errcode.New(errcode.InvalidRequest, "count must be 1 to 1000")
	}
	if q.Collection == "" {
		q.Collection = "customers"
	}
	if _, ok := s.engine.Policy().Collection(q.Collection); !ok {
		return 0, errcode.New(errcode.UnknownCollection, "collection %q is not in the policy", truncate(q.Collection))
	}
	if len(q.Jurisdictions) == 0 {
		// The region's own countries that the generator makes customers
		// of, at most 8.
		pr := s.v.Region()
		for _, j := range pr.Countries() {
			if s.decoys.Supported(j) && len(q.Jurisdictions) < 8 {
				q.Jurisdictions = append(q.Jurisdictions, j)
			}
		}
		if len(q.Jurisdictions) == 0 || pr.IsCatchAll() {
			q.Jurisdictions = []string{"US"}
		}
	}
	for _, j := range q.Jurisdictions {
		if !s.decoys.Supported(j) {
			return 0, errcode.New(errcode.InvalidRequest, "no decoys can be drawn for jurisdiction %q", truncate(j))
		}
	}
	spread := DefaultDecoySpread
	if q.Spread != "" {
		d, err := time.ParseDuration(q.Spread)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			return 0, errcode.New(errcode.InvalidRequest, "spread must be a duration from 1m to 720h, such as 24h")
		}
		spread = d
	}
	who, why, err := s.latestCreator(ctx, q.Principal)
	if err != nil {
		return 0, err
	}
	if q.Purpose == "" {
		q.Purpose = why
	}
	mayCreate := func(a *access.Account) string {
		for _, j := range q.Jurisdictions {
			if d := s.engine.Decide(a.Principal(), s.request(Caller{Purpose: q.Purpose}, target{policy.PermCreate, q.Collection, j})); !d.Allowed {
				return j
			}
		}
		return ""
	}
	if q.Principal != "" {
		a, err := s.dir.Get(ctx, q.Principal)
		if err != nil {
			return 0, domainError(err)
		}
		if j := mayCreate(a); j != "" {
			return 0, errcode.New(errcode.InvalidRequest, "principal %s may not create records of %s in %s: decoys would not look like its creates",
				a.ID, q.Collection, j)
		}
	} else {
		// The latest creator when it may still create them, else the
		// caller.
		q.Principal = c.Account.ID
		if a, err := s.dir.Get(ctx, who); who != "" && err == nil && mayCreate(a) == "" {
			q.Principal = who
		}
	}
	if err := s.guard.Plan(ctx, guard.DecoyPlan{Collection: q.Collection, Jurisdictions: q.Jurisdictions, Count: q.Count,
		Principal: q.Principal, Purpose: q.Purpose, Spread: spread}); err != nil {
		return 0, err
	}
	s.log.Info("decoys scheduled", "request_id", c.RequestID)
	return q.Count, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// NewPrincipal is a principal to create; Token, when set, is the token the
// gateway chose for every region.
type NewPrincipal struct {
	Account   access.Account
	Token     string
	ExpiresIn string
}

// expiry parses a lifetime such as "720h"; empty means none.
func expiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, errcode.New(errcode.InvalidRequest, "expires_in must be a positive duration such as 720h")
	}
	return now.Add(d).UTC(), nil
}

// chooseToken returns the token the gateway chose for every region, or a
// fresh one when the node is called directly.
func chooseToken(given string) string {
	if given == "" {
		return access.NewToken()
	}
	return given
}

// CreatePrincipal creates a principal and returns it with its token, shown
// this once (admin).
func (s *Service) CreatePrincipal(ctx context.Context, c Caller, p NewPrincipal) (*access.Account, string, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, "", err
	}
	exp, err := expiry(p.ExpiresIn, time.Now())
	if err != nil {
		return nil, "", err
	}
	tok := chooseToken(p.Token)
	a, err := s.dir.Create(ctx, p.Account, tok, exp)
	if errors.Is(err, access.ErrExists) && p.Token != "" {
		// The same creation again (a gateway finishing a fan-out that
		// reached only some regions): the same answer, nothing changed.
		if same, ok := s.sameCreation(ctx, p.Account, tok); ok {
			return same, tok, nil
		}
	}
	if err != nil {
		return nil, "", domainError(err)
	}
	return a, tok, nil
}

// sameCreation returns the existing principal a.ID when it is a as created
// with token tok: the same kind, roles, location and regions, and tok
// authenticates it.
func (s *Service) sameCreation(ctx context.Context, a access.Account, tok string) (*access.Account, bool) {
	if s.dir.Validate(&a) != nil { // the stored form: location upper-cased
		return nil, false
	}
	cur, err := s.dir.Authenticate(ctx, tok)
	if err != nil || cur.ID != a.ID || cur.Kind != a.Kind || cur.Location != a.Location ||
		!slices.Equal(cur.Roles, a.Roles) || !slices.Equal(cur.Regions, a.Regions) {
		return nil, false
	}
	return cur, true
}

// Principals lists the region's principals that f selects (admin).
func (s *Service) Principals(ctx context.Context, c Caller, f access.Filter) ([]access.Account, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, err
	}
	list, err := s.dir.List(ctx)
	if err != nil {
		return nil, domainError(err)
	}
	return slices.DeleteFunc(list, func(a access.Account) bool { return !f.Match(&a) }), nil
}

// UpdatePrincipal changes principal id's roles, location, organisation or
// regions (admin). The change is in the audit log, in the same commit,
// naming the attributes changed (never their values' history). A
// principal cannot take the admin role from itself.
func (s *Service) UpdatePrincipal(ctx context.Context, c Caller, id string, ch access.Change) (*access.Account, error) {
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return nil, err
	}
	if id == c.Account.ID && ch.Roles != nil && !s.grantsAdmin(ch.Roles) {
		return nil, errcode.New(errcode.InvalidPrincipal, "a principal cannot take administration from itself; another administrator can")
	}
	var what []string
	for name, changed := range map[string]bool{"roles": ch.Roles != nil, "location": ch.Location != nil, "organisation": ch.Organisation != nil, "regions": ch.Regions != nil} {
		if changed {
			what = append(what, name)
		}
	}
	if len(what) == 0 {
		return nil, errcode.New(errcode.InvalidRequest, "the change names nothing to change: give roles, location, organisation or regions")
	}
	slices.Sort(what)
	a, err := s.dir.Update(ctx, id, ch, s.principalCommit(c, "principal-update:"+id+":"+strings.Join(what, ",")))
	return a, domainError(err)
}

// DeletePrincipal removes principal id and its tokens (admin), audited in
// the same commit. A principal cannot delete itself.
func (s *Service) DeletePrincipal(ctx context.Context, c Caller, id string) error {
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return err
	}
	if id == c.Account.ID {
		return errcode.New(errcode.InvalidPrincipal, "a principal cannot delete itself; another administrator can")
	}
	return domainError(s.dir.Delete(ctx, id, s.principalCommit(c, "principal-delete:"+id)))
}

// principalCommit applies a directory change with its audit entry; nil
// (the directory's own commit) when the region keeps no audit log.
func (s *Service) principalCommit(c Caller, rule string) access.Commit {
	if s.v.Audit() == nil {
		return nil
	}
	return func(ctx context.Context, b *store.Batch) error {
		if err := s.v.Audit().Apply(ctx, b, requestEntry(c, adminEntry(rule))); err != nil {
			return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the change; nothing was changed")
		}
		return nil
	}
}

// grantsAdmin reports whether one of roles has the admin permission.
func (s *Service) grantsAdmin(roles []string) bool {
	for _, name := range roles {
		if r, ok := s.engine.Policy().Role(name); ok && slices.Contains(r.Permissions, policy.PermAdmin) {
			return true
		}
	}
	return false
}

// Principal returns principal id (admin).
func (s *Service) Principal(ctx context.Context, c Caller, id string) (*access.Account, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, err
	}
	a, err := s.dir.Get(ctx, id)
	return a, domainError(err)
}

// SetPrincipalState enables or disables principal id (admin).
func (s *Service) SetPrincipalState(ctx context.Context, c Caller, id string, st access.State) (*access.Account, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, err
	}
	a, err := s.dir.SetState(ctx, id, st)
	return a, domainError(err)
}

// Unlock reactivates a locked principal and gives it a fresh budget with
// the guard (admin).
func (s *Service) Unlock(ctx context.Context, c Caller, id string) (*access.Account, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, err
	}
	a, err := s.dir.SetState(ctx, id, access.Active)
	if err != nil {
		return nil, domainError(err)
	}
	if s.guard != nil {
		if err := s.guard.Unlock(ctx, id); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// RotatePrincipalToken replaces principal id's tokens with a new one,
// returned this once (admin). It is RotateToken without an overlap.
func (s *Service) RotatePrincipalToken(ctx context.Context, c Caller, id, token, expiresIn string) (*access.Account, string, error) {
	return s.RotateToken(ctx, c, id, TokenRotation{Token: token, ExpiresIn: expiresIn})
}

// TokenRotation is a request to give a principal a new token.
type TokenRotation struct {
	// Token, when set, is the token the gateway chose for every region.
	Token string
	// ExpiresIn is the new token's lifetime, such as "720h"; empty means
	// none.
	ExpiresIn string
	// Overlap, such as "24h", keeps the principal's current tokens valid
	// that much longer, so that its services roll to the new token
	// without downtime; empty revokes them at once.
	Overlap string
}

// RotateToken gives principal id a new token, returned this once (admin).
// Its current tokens stop working at once, or when the overlap window
// ends.
func (s *Service) RotateToken(ctx context.Context, c Caller, id string, r TokenRotation) (*access.Account, string, error) {
	if err := s.admin(ctx, c); err != nil {
		return nil, "", err
	}
	exp, err := expiry(r.ExpiresIn, time.Now())
	if err != nil {
		return nil, "", err
	}
	var overlap time.Duration
	if r.Overlap != "" {
		overlap, err = time.ParseDuration(r.Overlap)
		if err != nil || overlap <= 0 || overlap > access.MaxOverlap {
			return nil, "", errcode.New(errcode.InvalidRequest, "overlap must be a positive duration of at most 720h, such as 24h")
		}
	}
	tok := chooseToken(r.Token)
	a, err := s.dir.RotateTokenOverlap(ctx, id, tok, exp, overlap)
	if err != nil {
		return nil, "", domainError(err)
	}
	return a, tok, nil
}
