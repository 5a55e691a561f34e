package region

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
)

// The end of a key's life (DESIGN "Keys, per region"): rotate adds a
// version, rewrap moves the subject keys off the old data versions, retire
// stops handing a version out once nothing uses it, destroy removes its
// sealed material for good. Each is an admin request, recorded with an
// audit entry of action key committed in the same batch as the change.

// codeKeyInUse answers a retire or destroy of a version that is still in
// use, not retired yet, or superseded too recently: the request conflicts
// with the key's state and succeeds once that changes (after a rewrap, a
// retire, or a wait).
const codeKeyInUse = errcode.Conflict

// Why rewrap means nothing for the purposes other than data.
const (
	rewrapDerived = "%s keys wrap nothing: blind indexes and tokens are derived from them, so moving them to a new version " +
		"means re-deriving them from the records, which is the suite-migration job, not a rewrap; new ones use the " +
		"current version and the older active versions keep searching and detokenizing"
	rewrapAudit = "the audit key wraps nothing: its older versions stay, as public keys, to verify the checkpoints they " +
		"signed, and the current one signs new checkpoints"
)

// Rewrap is a request to start the region's rewrap job.
type Rewrap struct {
	Region, Purpose string
	// Batch is how many stored entries one step scans (0: the default).
	Batch int
	// Pause, such as "50ms", is how long the job waits after each step
	// that rewrapped something; empty means none.
	Pause string
}

// RewrapJob is the state of the region's rewrap job.
type RewrapJob = keyring.RewrapJob

// DataKey is the purpose of the data key, the one key whose versions wrap
// subject keys (and so the only one with anything to rewrap).
const DataKey = keyring.Data

// StartRewrap starts the job that rewraps every subject key still under an
// older data key version with the current one (admin), and returns it
// with started true; when a job is unfinished it returns that one with
// started false. Only purpose data has anything to rewrap: the others are
// refused with invalid_request, saying why.
func (s *Service) StartRewrap(ctx context.Context, c Caller, q Rewrap) (RewrapJob, bool, error) {
	if err := s.checkRegion(q.Region); err != nil {
		return RewrapJob{}, false, err
	}
	if err := s.admin(ctx, c); err != nil {
		return RewrapJob{}, false, err
	}
	switch keyring.Purpose(q.Purpose) {
	case keyring.Data:
	case keyring.Index, keyring.Token:
		return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, rewrapDerived, q.Purpose)
	case keyring.Audit:
		return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, rewrapAudit)
	default:
		return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, "purpose must be data (index, token and audit keys wrap nothing)")
	}
	o := keyring.RewrapOptions{Batch: q.Batch}
	if q.Pause != "" {
		d, err := time.ParseDuration(q.Pause)
		if err != nil {
			return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, "pause must be a duration such as 50ms")
		}
		o.Pause = d
	}
	if err := o.Validate(); err != nil {
		return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, "batch must be 0 (the default, %d) to %d and pause 0 to %s",
			keyring.DefaultRewrapBatch, keyring.MaxRewrapBatch, keyring.MaxRewrapPause)
	}
	job, started, err := s.v.Keyring().StartRewrap(ctx, o, s.keyCommit(ctx, c, "rewrap:data:start"))
	if err != nil {
		return RewrapJob{}, false, s.keyError(err, "the rewrap job was not started")
	}
	if started {
		s.log.Info("keys: rewrap job started", "request_id", c.RequestID, "job", job.ID, "total", job.Total)
	}
	return job, started, nil
}

// KeyUsage is what uses the region's keys: the state of every version with
// its count of subject keys (data), and the rewrap job if one was ever
// started.
type KeyUsage struct {
	Status keyring.Status
	Job    *RewrapJob
}

// KeyUsage returns what uses the region's keys (admin).
func (s *Service) KeyUsage(ctx context.Context, c Caller, region string) (KeyUsage, error) {
	if err := s.checkRegion(region); err != nil {
		return KeyUsage{}, err
	}
	if err := s.admin(ctx, c); err != nil {
		return KeyUsage{}, err
	}
	kr := s.v.Keyring()
	st, err := kr.Status(ctx)
	if err != nil {
		return KeyUsage{}, domainError(err)
	}
	out := KeyUsage{Status: st}
	job, err := kr.RewrapStatus(ctx)
	switch {
	case err == nil:
		out.Job = &job
	case !errors.Is(err, store.ErrNotFound):
		return KeyUsage{}, domainError(err)
	}
	return out, nil
}

// KeyVersionChange names a key version to retire or destroy.
type KeyVersionChange struct {
	Region, Purpose string
	Version         uint32
	// Force confirms the retirement or destruction of an index or token
	// version, whose use nothing counts: blind indexes and tokens made
	// under it stop working.
	Force bool
}

// checkChange validates q for verb (retire or destroy).
func (s *Service) checkChange(q KeyVersionChange, verb string) error {
	p := keyring.Purpose(q.Purpose)
	switch p {
	case keyring.Data, keyring.Audit:
	case keyring.Index, keyring.Token:
		if !q.Force {
			what := "blind indexes made under it stop matching searches"
			if p == keyring.Token {
				what = "tokens made under it can no longer be detokenized"
			}
			return errcode.New(errcode.InvalidRequest, "nothing counts what still uses %s key v%d: if you %s it, %s; "+
				"re-derive them first (the suite-migration job), then pass force (--force)", p, q.Version, verb, what)
		}
	default:
		return errcode.New(errcode.InvalidRequest, "purpose must be data, index, token or audit")
	}
	if q.Version == 0 {
		return errcode.New(errcode.InvalidRequest, "version must be 1 or more; 'domicile keys status --region %s' lists them", s.name)
	}
	return nil
}

// RetireKey retires a key version (admin): it is no longer handed out. A
// data version is refused while any subject key is wrapped under it, with
// the count and the command that moves them; the current version is
// refused too.
func (s *Service) RetireKey(ctx context.Context, c Caller, q KeyVersionChange) error {
	if err := s.checkRegion(q.Region); err != nil {
		return err
	}
	if err := s.admin(ctx, c); err != nil {
		return err
	}
	if err := s.checkChange(q, "retire"); err != nil {
		return err
	}
	rule := fmt.Sprintf("retire:%s:v%d", q.Purpose, q.Version)
	err := s.v.Keyring().RetireWith(ctx, keyring.Purpose(q.Purpose), q.Version, s.keyCommit(ctx, c, rule))
	if err != nil {
		return s.keyError(err, "the version was not retired")
	}
	s.log.Info("keys: version retired", "request_id", c.RequestID, "purpose", q.Purpose, "version", q.Version)
	return nil
}

// DestroyKey removes a retired key version's sealed material from the
// region's store for good (admin); see keyring.Destroy for what is
// refused. Whatever the version still protected can no longer be opened.
func (s *Service) DestroyKey(ctx context.Context, c Caller, q KeyVersionChange) error {
	if err := s.checkRegion(q.Region); err != nil {
		return err
	}
	if err := s.admin(ctx, c); err != nil {
		return err
	}
	if keyring.Purpose(q.Purpose) == keyring.Audit {
		return errcode.New(errcode.InvalidRequest, "audit key versions are never destroyed: their public keys verify the checkpoints they signed")
	}
	if err := s.checkChange(q, "destroy"); err != nil {
		return err
	}
	rule := fmt.Sprintf("destroy:%s:v%d", q.Purpose, q.Version)
	err := s.v.Keyring().Destroy(ctx, keyring.Purpose(q.Purpose), q.Version, s.keyCommit(ctx, c, rule))
	if err != nil {
		return s.keyError(err, "nothing was destroyed")
	}
	s.log.Warn("keys: version destroyed", "request_id", c.RequestID, "purpose", q.Purpose, "version", q.Version)
	return nil
}

// keyCommit returns the commit of a key change: the batch with the audit
// entry of action key naming rule, or nil (the keyring applies the batch
// itself) when the region keeps no log.
func (s *Service) keyCommit(ctx context.Context, c Caller, rule string) func(b *store.Batch) error {
	log := s.v.Audit()
	if log == nil {
		return nil
	}
	return func(b *store.Batch) error {
		return log.Apply(ctx, b, requestEntry(c, entry.Entry{Action: entry.Key, Decision: "allow", Rule: rule}))
	}
}

// keyError gives the keyring's refusals their codes and a next step;
// nothing tells what is the outcome of the request.
func (s *Service) keyError(err error, outcome string) error {
	var inUse *keyring.InUseError
	switch {
	case errors.As(err, &inUse) && inUse.Current:
		return errcode.Wrap(codeKeyInUse, err, "%s key v%d is current; rotate first ('domicile keys rotate --region %s --key %s'); %s",
			inUse.Purpose, inUse.Version, s.name, inUse.Purpose, outcome)
	case errors.As(err, &inUse):
		return errcode.Wrap(codeKeyInUse, err, "%d subject keys are still wrapped under %s key v%d; run 'domicile keys rewrap --region %s --key %s', "+
			"wait until 'domicile keys status --region %s' shows 0 for v%d, then retry; %s",
			inUse.Count, inUse.Purpose, inUse.Version, s.name, inUse.Purpose, s.name, inUse.Version, outcome)
	case errors.Is(err, keyring.ErrNotRetired):
		return errcode.Wrap(codeKeyInUse, err, "only a retired version can be destroyed; retire it first with 'domicile keys retire'; %s", outcome)
	case errors.Is(err, keyring.ErrTooSoon):
		return errcode.Wrap(codeKeyInUse, err, "the next version was made too recently for every node of the region to have seen it; "+
			"retry in a minute; %s", outcome)
	case errors.Is(err, keyring.ErrNotDestroyable):
		return errcode.Wrap(errcode.InvalidRequest, err, "this version must be kept (index key v1 keys the subject refs; audit keys verify old checkpoints); %s", outcome)
	case errors.Is(err, keyring.ErrDestroyed):
		return errcode.Wrap(errcode.NotFound, err, "that version was destroyed already; %s", outcome)
	case errors.Is(err, keyring.ErrUnknownVersion):
		return errcode.Wrap(errcode.NotFound, err, "no such key version; 'domicile keys status --region %s' lists them; %s", s.name, outcome)
	case errors.Is(err, audit.ErrNotRecorded):
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the change; %s", outcome)
	}
	return domainError(err)
}
