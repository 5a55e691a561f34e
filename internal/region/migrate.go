package region

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// MigrateSuite is a request to move the region to another suite
// (docs/suite-migration.md).
type MigrateSuite struct {
	Region, Suite string
	// Batch and Pause throttle the job as for a rewrap.
	Batch int
	Pause string
}

// MigrateSuite moves the region to suite q.Suite online (admin), in three
// steps, each done once however often the request is repeated:
//
//  1. the keys: a version of every purpose in the new suite, current at
//     once (keyring.MigrateWith), recorded in the audit log with the new
//     audit key's introduction, in the same batch, and signed by the
//     outgoing audit key;
//  2. the audit log: its tree moves to the new suite's hash
//     (audit.Rehash), and an entry names the old tree's size and root, so
//     the first checkpoint under the new hash, signed by the new key, links
//     both;
//  3. the data: the migration job (rewrap, then records and token entries
//     sealed again under the new suite), started as a rewrap job is.
//
// It returns the job, with started false when it was already running.
func (s *Service) MigrateSuite(ctx context.Context, c Caller, q MigrateSuite) (RewrapJob, bool, error) {
	if err := s.checkRegion(q.Region); err != nil {
		return RewrapJob{}, false, err
	}
	if err := s.admin(ctx, c); err != nil {
		return RewrapJob{}, false, err
	}
	target, err := suite.ByID(suite.ID(q.Suite))
	if err != nil {
		return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, "suite must be cn or intl")
	}
	o := keyring.RewrapOptions{Batch: q.Batch}
	if q.Pause != "" {
		if o.Pause, err = time.ParseDuration(q.Pause); err != nil {
			return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, "pause must be a duration such as 50ms")
		}
	}
	if err := o.Validate(); err != nil {
		return RewrapJob{}, false, errcode.New(errcode.InvalidRequest, "batch must be 0 (the default, %d) to %d and pause 0 to %s",
			keyring.DefaultRewrapBatch, keyring.MaxRewrapBatch, keyring.MaxRewrapPause)
	}
	kr, log := s.v.Keyring(), s.v.Audit()
	if from := kr.Suite(); from.ID() != target.ID() {
		if err := s.migrateKeys(ctx, c, kr, log, from, target); err != nil {
			return RewrapJob{}, false, err
		}
	}
	if log != nil && log.Hash().ID() != target.Hash().ID() {
		from := log.Hash()
		size, root, err := log.Rehash(ctx, target.Hash())
		if err != nil {
			return RewrapJob{}, false, errcode.Wrap(errcode.Internal, err, "the keys moved to suite %s, the audit log's tree did not; repeat the request", target.ID())
		}
		rule := fmt.Sprintf("migrate:audit:%s->%s:size:%d:root:%s", from.ID(), target.Hash().ID(), size, hex.EncodeToString(root))
		if err := log.AppendNow(ctx, requestEntry(c, entry.Entry{Action: entry.Key, Decision: "allow", Rule: rule})); err != nil {
			return RewrapJob{}, false, errcode.Wrap(errcode.Internal, err, "the audit log moved to %s; the entry linking its trees was not written; repeat the request", target.Hash().ID())
		}
		s.log.Info("keys: audit log moved to a new hash", "request_id", c.RequestID, "from", from.ID(), "to", target.Hash().ID(), "size", size)
	}
	job, started, err := kr.StartMigration(ctx, o, s.keyCommit(ctx, c, "migrate:suite:"+string(target.ID())+":start"))
	if err != nil {
		return RewrapJob{}, false, s.keyError(err, "the migration job was not started; repeat the request")
	}
	if started {
		s.log.Info("keys: suite migration job started", "request_id", c.RequestID, "job", job.ID, "suite", target.ID(), "total", job.Total)
	}
	return job, started, nil
}

// migrateKeys is step 1 of MigrateSuite.
func (s *Service) migrateKeys(ctx context.Context, c Caller, kr *keyring.Keyring, log *audit.Log, from, to suite.Suite) error {
	var apply func(b *store.Batch, nvs []keyring.NewVersion) error
	if log != nil {
		apply = func(b *store.Batch, nvs []keyring.NewVersion) error {
			rule := fmt.Sprintf("migrate:suite:%s->%s:data:v%d:index:v%d:token:v%d:audit:v%d", from.ID(), to.ID(),
				nvs[0].Version, nvs[1].Version, nvs[2].Version, nvs[3].Version)
			es := []entry.Entry{requestEntry(c, entry.Entry{Action: entry.Key, Decision: "allow", Rule: rule})}
			intro, err := audit.KeyIntroRule(log.Origin(), nvs[3].Version, nvs[3].AuditKey, to.Signature(), log.Hash())
			if err != nil {
				return err
			}
			es = append(es, requestEntry(c, entry.Entry{Action: entry.Key, Decision: "allow", Rule: intro}))
			if err := log.Apply(ctx, b, es...); err != nil {
				return err
			}
			// As for a rotation: the outgoing key signs the entries naming
			// its successor.
			if _, err := log.Checkpoint(ctx); err != nil {
				s.log.Warn("audit: cannot sign the checkpoint introducing the new suite's audit key", "err", err)
			}
			return nil
		}
	}
	if _, err := kr.MigrateWith(ctx, to, apply); err != nil && !errors.Is(err, keyring.ErrSameSuite) {
		return s.keyError(err, "the region stays on suite "+string(from.ID()))
	}
	s.log.Info("keys: region moved to a new suite", "request_id", c.RequestID, "from", from.ID(), "to", to.ID())
	return nil
}
