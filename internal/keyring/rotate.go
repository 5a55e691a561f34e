package keyring

import (
	"cmp"
	"context"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Rotate adds a new version of purpose p's KEK and makes it current; it
// returns the new version. It is all-or-nothing: the new version is written
// with one Insert and only becomes current in memory after the store
// accepted it, so on any error the keyring keeps working with its old
// versions. If another process rotated p at the same moment, Rotate fails
// with an error wrapping store.ErrConflict; the versions it added are then
// visible and Rotate may be called again if another version is wanted.
//
// Rotating data does not touch existing DEKs; run Rewrap to move them.
func (k *Keyring) Rotate(ctx context.Context, p Purpose) (uint32, error) {
	return k.RotateWith(ctx, p, nil)
}

// NewVersion describes the version RotateWith is adding.
type NewVersion struct {
	Version uint32
	// AuditKey is the new audit-signing public key (nil for other
	// purposes), so that the rotation's record can name it.
	AuditKey crypto.PublicKey
}

// RotateWith is Rotate with the commit done by apply, if not nil, instead
// of the store's Apply: apply gets the batch holding the new key and a
// description of the version, and must apply it atomically and durably,
// adding its own writes (the audit log's Apply adds the rotation's entry).
// Until apply returns, the previous version is still current. If apply
// fails, the new version is not made current and RotateWith returns its
// error, wrapped.
func (k *Keyring) RotateWith(ctx context.Context, p Purpose, apply func(b *store.Batch, nv NewVersion) error) (uint32, error) {
	if !p.valid() {
		return 0, fmt.Errorf("keyring: unknown purpose %q", p)
	}
	var commit func(b *store.Batch, nvs []NewVersion) error
	if apply != nil {
		commit = func(b *store.Batch, nvs []NewVersion) error { return apply(b, nvs[0]) }
	}
	nvs, err := k.addVersions(ctx, []Purpose{p}, nil, commit)
	if err != nil {
		return 0, err
	}
	return nvs[0].Version, nil
}

// addVersions adds a new version of each of ps, in suite to (nil: each
// purpose's current suite), and makes them current, in one batch committed
// by apply (nil: the store's Apply). Until apply returns, the previous
// versions are current; if it fails, nothing changes in memory and its
// error is returned, wrapped. The versions are described in the order of ps.
func (k *Keyring) addVersions(ctx context.Context, ps []Purpose, to *suite.Suite, apply func(b *store.Batch, nvs []NewVersion) error) ([]NewVersion, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.refreshLocked(ctx)
	if err != nil {
		return nil, err
	}
	if to != nil && r.suite().ID() == to.ID() {
		return nil, fmt.Errorf("keyring: region %s: migrating to %s: %w", k.region, to.ID(), ErrSameSuite)
	}
	next := &ring{keks: map[Purpose]map[uint32]*kek{}, current: map[Purpose]uint32{}}
	for q, vs := range r.keks {
		next.keks[q] = maps(vs)
		next.current[q] = r.current[q]
	}
	made := &ring{keks: map[Purpose]map[uint32]*kek{}}
	var b store.Batch
	nvs := make([]NewVersion, 0, len(ps))
	for _, p := range ps {
		var v uint32
		for have := range r.keks[p] {
			v = max(v, have)
		}
		v++
		s := r.keks[p][r.current[p]].suite
		if to != nil {
			s = *to
		}
		kk, env, err := k.newKEK(p, v, s)
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
		what := fmt.Sprintf("rotating %s key to v%d", ps[0], nvs[0].Version)
		if to != nil {
			what = "migrating to suite " + string(to.ID())
		}
		return nil, fmt.Errorf("keyring: region %s: %s: %w", k.region, what, err)
	}
	k.ring.Store(next)
	return nvs, nil
}

// Retire marks version v of purpose p retired: it is no longer handed out
// (BlindIndex, DeriveKey and the audit key accessors fail with ErrRetired for
// it). The current version cannot be retired, nor a data version that still
// wraps a DEK (run Rewrap first); both fail with an error wrapping ErrInUse.
// Index version 1 may be retired for blind indexes; subject refs keep using
// its sealed subject-ref subkey.
func (k *Keyring) Retire(ctx context.Context, p Purpose, v uint32) error {
	return k.RetireWith(ctx, p, v, nil)
}

// RetireWith is Retire with the commit done by apply, if not nil, instead
// of the store's Apply, as in RotateWith: apply gets the batch that retires
// the version and must apply it atomically, adding its own writes (an
// audit entry). A data version still in use fails with an *InUseError,
// which wraps ErrInUse and holds the count.
func (k *Keyring) RetireWith(ctx context.Context, p Purpose, v uint32, apply func(b *store.Batch) error) error {
	if !p.valid() {
		return fmt.Errorf("keyring: unknown purpose %q", p)
	}
	if k.closed.Load() {
		return ErrClosed
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.refreshLocked(ctx)
	if err != nil {
		return err
	}
	kk := r.keks[p][v]
	switch {
	case kk == nil:
		if gone, err := k.destroyed(ctx, p, v); err == nil && gone {
			return fmt.Errorf("keyring: region %s: retiring %s key v%d: %w", k.region, p, v, ErrDestroyed)
		}
		return fmt.Errorf("keyring: region %s: retiring %s key v%d: %w", k.region, p, v, ErrUnknownVersion)
	case kk.rec.state == Retired:
		return nil
	case r.current[p] == v:
		return &InUseError{Region: k.region, Purpose: p, Version: v, Current: true}
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
	rec := *kk.rec
	rec.state = Retired
	rec.retired = k.now().UTC().Truncate(time.Millisecond)
	env, err := k.sealRecord(p, v, &rec)
	if err != nil {
		return err
	}
	var b store.Batch
	b.Put(kekKey(p, v), env)
	if apply == nil {
		apply = func(b *store.Batch) error { return k.st.Apply(ctx, b) }
	}
	if err := apply(&b); err != nil {
		return fmt.Errorf("keyring: region %s: retiring %s key v%d: %w", k.region, p, v, err)
	}
	_, err = k.refreshLocked(ctx)
	return err
}

// countDEKs scans every wrapped DEK and counts those whose KEK version
// matches.
func (k *Keyring) countDEKs(ctx context.Context, match func(uint32) bool) (int, error) {
	n := 0
	err := k.scanDEKs(ctx, func(_ []byte, env []byte) error {
		if h, _, err := envelope.Parse(env); err == nil && match(h.KeyVersion) {
			n++
		}
		return nil
	})
	return n, err
}

// Status describes a keyring for operators. It holds no key material.
type Status struct {
	Region string
	// Suite is the suite new work is done with; Origin the one the
	// keyring was made with. They differ after Migrate, and versions of
	// the origin suite then remain until the data they protect moved.
	Suite    string
	Origin   string
	Purposes []PurposeStatus
	// SubjectKeys is the number of live subject keys (the sum of the
	// data versions' DEKs).
	SubjectKeys int64
}

// PurposeStatus describes the versions of one purpose.
type PurposeStatus struct {
	Purpose  Purpose
	Current  uint32
	Versions []VersionStatus // ascending
	// Destroyed lists the versions whose material Destroy removed,
	// ascending.
	Destroyed []uint32
}

// VersionStatus describes one key version.
type VersionStatus struct {
	Version uint32
	Suite   string
	State   State
	Created time.Time
	Retired time.Time // zero unless retired
	// DEKs is the number of subject keys wrapped under this version
	// (data only), from store counters.
	DEKs int64
}

// Status reports every purpose's versions, reloading them from the store
// first so that rotations by other processes show.
func (k *Keyring) Status(ctx context.Context) (Status, error) {
	if k.closed.Load() {
		return Status{}, ErrClosed
	}
	r, err := k.refresh(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Region: k.region, Suite: string(r.suite().ID()), Origin: string(k.suite.ID())}
	for _, p := range purposes {
		ps := PurposeStatus{Purpose: p, Current: r.current[p]}
		for v, kk := range r.keks[p] {
			vs := VersionStatus{Version: v, Suite: string(kk.suite.ID()), State: kk.rec.state, Created: kk.rec.created, Retired: kk.rec.retired}
			if p == Data {
				if vs.DEKs, err = k.st.Counter(ctx, dekCounter(v)); err != nil {
					return Status{}, fmt.Errorf("keyring: region %s: reading counters: %w", k.region, err)
				}
				st.SubjectKeys += vs.DEKs
			}
			ps.Versions = append(ps.Versions, vs)
		}
		slices.SortFunc(ps.Versions, func(a, b VersionStatus) int { return cmp.Compare(a.Version, b.Version) })
		if ps.Destroyed, err = k.destroyedVersions(ctx, p); err != nil {
			return Status{}, err
		}
		st.Purposes = append(st.Purposes, ps)
	}
	return st, nil
}

// IndexVersions returns the active index key versions, current first, then
// newest to oldest: search with each, write with the first.
func (k *Keyring) IndexVersions() []uint32 {
	r := k.ring.Load()
	var vs []uint32
	for v, kk := range r.keks[Index] {
		if kk.rec.state == Active && v != r.current[Index] {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b uint32) int { return cmp.Compare(b, a) })
	return append([]uint32{r.current[Index]}, vs...)
}

// BlindIndex returns the blind index of a normalised value of collection's
// field: HMAC, under the blind-index subkey of index KEK version, of the
// length-prefixed (collection, field, normalized). Equal inputs give equal
// outputs across reopens; any other collection, field or version gives an
// unrelated output. Errors wrap ErrRetired or ErrUnknownVersion, or
// ErrClosed.
func (k *Keyring) BlindIndex(version uint32, collection, field, normalized string) ([]byte, error) {
	kk, err := k.activeLookup(Index, version)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, 3*binary.MaxVarintLen64+len(collection)+len(field)+len(normalized))
	msg = appendLP(msg, []byte(collection))
	msg = appendLP(msg, []byte(field))
	msg = appendLP(msg, []byte(normalized))
	h := kk.indexMs.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	out := h.Sum(nil)
	kk.indexMs.Put(h)
	return out, nil
}

// DeriveKey returns n bytes derived with the KDF of version's suite from version of
// purpose p's KEK under label, for packages that need their own keys (for
// example format-preserving tokenization keys). Data KEKs never leave the
// keyring and cannot be derived from. Errors wrap ErrRetired or
// ErrUnknownVersion, or ErrClosed.
func (k *Keyring) DeriveKey(p Purpose, version uint32, label string, n int) ([]byte, error) {
	if p == Data || !p.valid() {
		return nil, fmt.Errorf("keyring: cannot derive keys from purpose %q", p)
	}
	kk, err := k.activeLookup(p, version)
	if err != nil {
		return nil, err
	}
	out, err := kk.suite.KDF().Key(kk.rec.secret, nil, labelDerived+string(p)+" "+label, n)
	if err != nil {
		return nil, fmt.Errorf("keyring: deriving %s key: %v", p, err)
	}
	return out, nil
}

// AuditSigner returns the private key of the current audit version, of its
// suite's signature scheme (that of Suite()); sign with
// Suite().Signature().Sign. It was
// generated with the keyring (or by Rotate(Audit)) and is stored sealed
// under the root key.
func (k *Keyring) AuditSigner() (crypto.Signer, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	r := k.ring.Load()
	return r.keks[Audit][r.current[Audit]].signer, nil
}

// AuditKey is one version of the audit-signing key, public part only.
type AuditKey struct {
	Version uint32
	Suite   suite.Suite // the version's: its signature scheme verifies it
	Public  crypto.PublicKey
	State   State
	Created time.Time
	Current bool
}

// AuditKeys returns every audit key version, oldest first, reloading them
// from the store first so that rotations by other processes show. Retired
// versions are included: they verify the checkpoints they signed.
func (k *Keyring) AuditKeys(ctx context.Context) ([]AuditKey, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	r, err := k.refresh(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AuditKey, 0, len(r.keks[Audit]))
	for v, kk := range r.keks[Audit] {
		out = append(out, AuditKey{Version: v, Suite: kk.suite, Public: kk.signer.Public(), State: kk.rec.state, Created: kk.rec.created, Current: v == r.current[Audit]})
	}
	slices.SortFunc(out, func(a, b AuditKey) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// AuditPublicKey returns the public key of the current audit version.
func (k *Keyring) AuditPublicKey() crypto.PublicKey {
	r := k.ring.Load()
	return r.keks[Audit][r.current[Audit]].signer.Public()
}
