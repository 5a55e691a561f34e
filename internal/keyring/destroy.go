package keyring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/domicile/domicile/internal/store"
)

// prefixGone holds one marker per destroyed KEK version,
// k/gone/<purpose>/<v, 4B BE>, whose value is the destruction time (unix
// ms, 8 bytes BE). It holds no key material; it lets the keyring say
// "destroyed" rather than "unknown" for what a destroyed version protected.
const prefixGone = "k/gone/"

func goneKey(p Purpose, v uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(prefixGone+string(p)+"/"), v)
}

// InUseError is returned by RetireWith (and Destroy) when a version is
// still in use: it is current, or Count subject keys are still wrapped
// under it. It wraps ErrInUse.
type InUseError struct {
	Region  string
	Purpose Purpose
	Version uint32
	Count   int  // subject keys wrapped under the version (data only)
	Current bool // the version is current
}

// Error says what uses the version.
func (e *InUseError) Error() string {
	if e.Current {
		return fmt.Sprintf("keyring: region %s: %s key v%d: it is current: %v", e.Region, e.Purpose, e.Version, ErrInUse)
	}
	return fmt.Sprintf("keyring: region %s: %s key v%d: %d subject keys still use it: %v", e.Region, e.Purpose, e.Version, e.Count, ErrInUse)
}

// Is makes errors.Is(err, ErrInUse) hold.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// destroyed reports whether version v of p was destroyed.
func (k *Keyring) destroyed(ctx context.Context, p Purpose, v uint32) (bool, error) {
	_, err := k.st.Get(ctx, goneKey(p, v))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("keyring: region %s: reading destroyed versions: %w", k.region, err)
}

// destroyedVersions lists the destroyed versions of p, ascending.
func (k *Keyring) destroyedVersions(ctx context.Context, p Purpose) ([]uint32, error) {
	prefix := []byte(prefixGone + string(p) + "/")
	kvs, err := k.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: reading destroyed versions: %w", k.region, err)
	}
	var out []uint32
	for _, kv := range kvs {
		if rest := kv.Key[len(prefix):]; len(rest) == 4 {
			out = append(out, binary.BigEndian.Uint32(rest))
		}
	}
	return out, nil
}

// Destroy removes the sealed material of version v of purpose p from the
// store for good, with apply (nil: the store's Apply) committing the batch
// atomically together with the caller's own writes (an audit entry). After
// it, whatever v protected fails to open with an error wrapping
// ErrDestroyed: subject keys wrapped under a data version, blind indexes and
// tokens made under an index or token version. Backups made before keep
// the material, sealed under the root key.
//
// Destroy refuses, wrapping:
//   - ErrNotDestroyable for audit versions (their public keys verify the
//     checkpoints they signed) and index version 1 (subject refs);
//   - ErrUnknownVersion, or ErrDestroyed when v is already destroyed;
//   - ErrNotRetired unless v was retired (RetireWith);
//   - ErrTooSoon when the version after v was made less than
//     Options.RefreshEvery ago: another node of the region may not have
//     reloaded its keys yet and could still wrap new subject keys under v;
//   - ErrInUse (an *InUseError) for a data version that still wraps
//     subject keys, counted by a full scan at this moment.
func (k *Keyring) Destroy(ctx context.Context, p Purpose, v uint32, apply func(b *store.Batch) error) error {
	if !p.valid() {
		return fmt.Errorf("keyring: unknown purpose %q", p)
	}
	if k.closed.Load() {
		return ErrClosed
	}
	what := fmt.Sprintf("keyring: region %s: destroying %s key v%d", k.region, p, v)
	if p == Audit || (p == Index && v == 1) {
		return fmt.Errorf("%s: %w", what, ErrNotDestroyable)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.refreshLocked(ctx)
	if err != nil {
		return err
	}
	kk := r.keks[p][v]
	if kk == nil {
		gone, err := k.destroyed(ctx, p, v)
		if err != nil {
			return err
		}
		if gone {
			return fmt.Errorf("%s: %w", what, ErrDestroyed)
		}
		return fmt.Errorf("%s: %w", what, ErrUnknownVersion)
	}
	if kk.rec.state != Retired {
		return fmt.Errorf("%s: %w", what, ErrNotRetired)
	}
	if k.refreshEvery > 0 {
		var next *kek
		for w, nk := range r.keks[p] {
			if w > v && (next == nil || w < next.version) {
				next = nk
			}
		}
		if next != nil {
			if wait := next.rec.created.Add(k.refreshEvery).Sub(k.now()); wait > 0 {
				return fmt.Errorf("%s: %s key v%d was made %s ago; every node reloads its keys within %s: %w",
					what, p, next.version, k.now().Sub(next.rec.created).Round(time.Second), k.refreshEvery, ErrTooSoon)
			}
		}
	}
	if p == Data {
		n, err := k.countDEKs(ctx, func(kv uint32) bool { return kv == v })
		if err != nil {
			return err
		}
		if n > 0 {
			return &InUseError{Region: k.region, Purpose: p, Version: v, Count: n}
		}
	}
	sealed, err := k.st.Get(ctx, kekKey(p, v))
	if err != nil {
		return fmt.Errorf("%s: reading it: %w", what, err)
	}
	var b store.Batch
	b.Expect(kekKey(p, v), sealed)
	b.Delete(kekKey(p, v))
	b.Insert(goneKey(p, v), binary.BigEndian.AppendUint64(nil, uint64(k.now().UnixMilli())))
	if apply == nil {
		apply = func(b *store.Batch) error { return k.st.Apply(ctx, b) }
	}
	if err := apply(&b); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err = k.refreshLocked(ctx)
	return err
}
