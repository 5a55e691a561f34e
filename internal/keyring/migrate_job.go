package keyring

import (
	"context"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/store"
)

// A MigrationPass is one pass of a suite migration's job over data the
// keyring does not hold (records, token entries). Step reads up to limit
// items from cursor (nil: the start), re-seals under the keyring's current
// suite those of another suite, and hands its batch to commit with where
// the next page starts, how many items it re-sealed and whether the page
// reached the end. commit adds the job's progress, conditioned on the
// job's lease, and applies the batch atomically; Step returns its error.
// A commit failing with store.ErrConflict (an item changed meanwhile, or
// the job moved on) makes the job read its state and run the page again,
// so Step conditions every write on what it read.
type MigrationPass struct {
	Name string
	Step func(ctx context.Context, cursor []byte, limit int, commit func(b *store.Batch, next []byte, resealed int, end bool) error) error
}

// migrationMargin is how long after Migrate, beyond RefreshEvery, the
// passes wait before they start, so that every node of the region seals
// new data with the new suite before the passes look at old data.
const migrationMargin = 5 * time.Second

// SetMigrationPasses sets the passes a migration job runs after its
// rewrap, in order. The region's services call it when they are made (and
// again when a policy reload replaces them); a job reaching a pass this
// node does not have fails with an error naming it.
func (k *Keyring) SetMigrationPasses(ps ...MigrationPass) {
	cp := append([]MigrationPass(nil), ps...)
	k.jobs.passes.Store(&cp)
}

func (k *Keyring) migrationPasses() []MigrationPass {
	if p := k.jobs.passes.Load(); p != nil {
		return *p
	}
	return nil
}

// nextPhase returns the phase after rec's, "" when rec's is the last.
func (k *Keyring) nextPhase(rec *jobRecord) string {
	if rec.Suite == "" {
		return ""
	}
	ps := k.migrationPasses()
	if rec.Phase == "" {
		if len(ps) == 0 {
			return ""
		}
		return ps[0].Name
	}
	for i, p := range ps {
		if p.Name == rec.Phase && i+1 < len(ps) {
			return ps[i+1].Name
		}
	}
	return ""
}

// passStep runs one page of rec's migration pass, once every node can be
// expected to have learnt of the migration.
func (k *Keyring) passStep(ctx context.Context, j *jobRunner, rec *jobRecord, commit func(b *store.Batch, cursor []byte, rewrapped, resealed int, end bool) error) (pageResult, error) {
	var pass *MigrationPass
	for _, p := range k.migrationPasses() {
		if p.Name == rec.Phase {
			pass = &p
			break
		}
	}
	if pass == nil {
		return pageResult{}, fmt.Errorf("keyring: region %s: this node has no %q migration pass", k.region, rec.Phase)
	}
	if wait := k.migrationWait(); wait > 0 {
		sleep(ctx, min(wait, j.ttl/3))
		return pageResult{}, nil
	}
	var pr pageResult
	err := pass.Step(ctx, rec.Cursor, rec.Batch, func(b *store.Batch, next []byte, resealed int, end bool) error {
		pr = pageResult{next: next, rewrapped: resealed, end: end}
		return commit(b, next, 0, resealed, end)
	})
	if err != nil {
		return pageResult{}, fmt.Errorf("keyring: region %s: migration pass %s: %w", k.region, rec.Phase, err)
	}
	return pr, nil
}

// migrationWait is how long the passes must still wait after the current
// data version was made.
func (k *Keyring) migrationWait() time.Duration {
	if k.refreshEvery < 0 {
		return 0 // only this process uses the store (Options.RefreshEvery)
	}
	r := k.ring.Load()
	made := r.keks[Data][r.current[Data]].rec.created
	return made.Add(k.refreshEvery + migrationMargin).Sub(k.now())
}
