package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store/pebble"
)

// BreakGlassConfig says which region an offline break-glass repairs, and
// proves the right to: the region's unseal secret.
type BreakGlassConfig struct {
	Policy *policy.Policy
	Region string
	// Location is the region's embedded store directory (its node must be
	// stopped: one process holds it) or its postgres:// URL (nodes may run;
	// they see the change within access.AuthCacheTTL).
	Location string
	// Secret is the region's unseal secret: only who can open the
	// region's keyring may break the glass.
	Secret []byte
	KDF    keyring.KDFParams
	Logger *slog.Logger
}

// ErrNodeRunning is returned when the region's embedded store is held by
// a running node.
var ErrNodeRunning = errors.New("the region's data directory is in use by a running domicile node; stop the node first (the embedded store allows one process), then run this again and start the node")

// openBreakGlass opens the region as its node would, refusing a wrong or
// missing secret, and never creating a store where none was.
func openBreakGlass(ctx context.Context, c BreakGlassConfig) (*Region, error) {
	rc := RegionConfig{Policy: c.Policy, Name: c.Region, Secret: c.Secret, KDF: c.KDF, Logger: c.Logger}
	if IsPostgresURL(c.Location) {
		rc.Store = c.Location
	} else {
		if m, _ := filepath.Glob(filepath.Join(c.Location, "MANIFEST-*")); len(m) == 0 {
			if _, err := os.Stat(c.Location); err != nil {
				return nil, fmt.Errorf("region %s: %w", c.Region, err)
			}
			return nil, fmt.Errorf("region %s: %s holds no store", c.Region, c.Location)
		}
		rc.Dir = c.Location
	}
	if len(c.Secret) == 0 {
		return nil, fmt.Errorf("region %s: no unseal secret: break-glass needs it (set %s or pass --unseal-file)", c.Region, SecretEnv(c.Region))
	}
	r, err := OpenRegion(ctx, rc)
	if errors.Is(err, pebble.ErrInUse) {
		return nil, fmt.Errorf("region %s: %w", c.Region, ErrNodeRunning)
	}
	if err != nil {
		return nil, err
	}
	if r.Sealed != nil {
		r.Close()
		return nil, fmt.Errorf("%w: break-glass needs the secret that opens the region's keys", r.Sealed)
	}
	return r, nil
}

// BreakGlassUnlock unlocks principal id of the region offline, for when no
// administrator can act over the API (the last one is locked by the guard,
// or disabled): it makes the principal active, records the break-glass in
// the region's audit log in the same commit (rule break-glass:unlock) and
// resets the guard's lock state for it. It signs an audit checkpoint over
// it when it closes the region.
func BreakGlassUnlock(ctx context.Context, c BreakGlassConfig, id string) (*access.Account, error) {
	r, err := openBreakGlass(ctx, c)
	if err != nil {
		return nil, err
	}
	a, err := r.Service.BreakGlassUnlock(ctx, id)
	if cerr := r.Close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return a, err
}

// BreakGlassRescue creates a new administrator a in the region offline
// and returns it with its token, shown this once; the creation is
// recorded in the region's audit log in the same commit (rule
// break-glass:rescue). expires zero means no expiry.
func BreakGlassRescue(ctx context.Context, c BreakGlassConfig, a access.Account, expires time.Time) (*access.Account, string, error) {
	r, err := openBreakGlass(ctx, c)
	if err != nil {
		return nil, "", err
	}
	out, tok, err := r.Service.BreakGlassRescue(ctx, a, expires)
	if cerr := r.Close(); err == nil && cerr != nil {
		return nil, "", cerr
	}
	return out, tok, err
}
