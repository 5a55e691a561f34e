package keyring

import (
	"context"
	"errors"

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
	return k.addVersions(ctx, purposes[:], &target, apply)
}
