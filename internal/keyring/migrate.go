package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// ErrSameSuite is wrapped by Migrate when the keyring already works with
// the suite asked for.
var ErrSameSuite = errors.New("keyring: already on that suite")

// Migrate adds a version of every purpose (data, index, token, audit) in
// suite target and makes them all current, in one store batch: from then on
// new DEKs, blind indexes, derived keys and audit signatures use target,
// while what the older versions protect stays readable under their own
// suites (every envelope names its suite, every version knows its own). The
// new versions are sealed under a root derived for target (rootFor).
//
// Migrate moves no data: DEKs of the old suite stay under their data
// versions, which Rewrap leaves alone, until their records are sealed again
// under DEKs of the new suite; blind indexes and tokens of the old versions
// keep answering until those versions are retired. It returns the new
// versions in the order of the purposes. It fails with an error wrapping
// ErrSameSuite if target is already the suite of the current versions, and
// with one wrapping store.ErrConflict if another process rotated a purpose
// at the same moment (nothing is then changed).
func (k *Keyring) Migrate(ctx context.Context, target suite.Suite) ([]NewVersion, error) {
	return k.MigrateWith(ctx, target, nil)
}

// MigrateWith is Migrate with the commit done by apply, if not nil, instead
// of the store's Apply, as in RotateWith: apply gets the batch holding the
// four new versions and their descriptions (data, index, token, audit), and
// must apply it atomically and durably, adding its own writes.
func (k *Keyring) MigrateWith(ctx context.Context, target suite.Suite, apply func(b *store.Batch, nvs []NewVersion) error) ([]NewVersion, error) {
	if target.ID() == "" {
		return nil, errors.New("keyring: no suite given")
	}
	if k.closed.Load() {
		return nil, ErrClosed
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.refreshLocked(ctx)
	if err != nil {
		return nil, err
	}
	if cur := r.suite(); cur.ID() == target.ID() {
		return nil, fmt.Errorf("keyring: region %s: migrating to %s: %w", k.region, target.ID(), ErrSameSuite)
	}
	next := &ring{keks: map[Purpose]map[uint32]*kek{}, current: map[Purpose]uint32{}}
	for q, vs := range r.keks {
		next.keks[q] = maps(vs)
		next.current[q] = r.current[q]
	}
	made := &ring{keks: map[Purpose]map[uint32]*kek{}}
	var b store.Batch
	nvs := make([]NewVersion, 0, len(purposes))
	for _, p := range purposes {
		var v uint32
		for have := range r.keks[p] {
			v = max(v, have)
		}
		v++
		kk, env, err := k.newKEK(p, v, target)
		if err != nil {
			k.zeroRing(made)
			return nil, err
		}
		made.keks[p] = map[uint32]*kek{v: kk}
		b.Insert(kekKey(p, v), env)
		nv := NewVersion{Version: v}
		if kk.signer != nil {
			nv.AuditKey = kk.signer.Public()
		}
		nvs = append(nvs, nv)
		next.keks[p][v] = kk
		next.current[p] = v
	}
	if apply == nil {
		apply = func(b *store.Batch, _ []NewVersion) error { return k.st.Apply(ctx, b) }
	}
	if err := apply(&b, nvs); err != nil {
		k.zeroRing(made)
		if errors.Is(err, store.ErrConflict) {
			_, _ = k.refreshLocked(ctx) // best effort: learn the winner's versions
		}
		return nil, fmt.Errorf("keyring: region %s: migrating to suite %s: %w", k.region, target.ID(), err)
	}
	k.ring.Store(next)
	return nvs, nil
}
