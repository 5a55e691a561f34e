package access

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/access/bearer"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// State is a principal's state.
type State string

// Principal states.
const (
	Active   State = "active"
	Disabled State = "disabled"
	Locked   State = "locked" // by the guard; an admin unlocks it
)

// TokenPrefix marks Domicile API tokens, so that secret scanners can
// recognise a leaked one. The token format is package bearer's.
const TokenPrefix = bearer.Prefix

// NewToken returns a fresh API token: the prefix and 256 random bits. It
// is bearer.New.
func NewToken() string { return bearer.New() }

// WellFormed reports whether tok looks like a Domicile token. It is
// bearer.WellFormed.
func WellFormed(tok string) bool { return bearer.WellFormed(tok) }

// TokenID is the public part of a token shown in listings: the prefix and
// its first 8 characters. It is bearer.ID.
func TokenID(tok string) string { return bearer.ID(tok) }

// Account is a principal as the directory stores it. It holds no token:
// only keyed MACs of tokens, under the region's key.
type Account struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"` // person or service
	Roles    []string `json:"roles"`
	Location string   `json:"location"`
	// Organisation is the legal entity the principal acts for (a
	// subsidiary, a processor), which transfer mechanisms name as their
	// recipients; empty: the data controller itself.
	Organisation string    `json:"organisation,omitempty"`
	Regions      []string  `json:"regions,omitempty"`
	State        State     `json:"state"`
	Created      time.Time `json:"created"`
	Tokens       []Token   `json:"tokens"`
}

// Token is what the directory keeps of one token.
type Token struct {
	ID      string    `json:"id"`
	MAC     []byte    `json:"mac"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
}

// Principal returns the account as the decision sees it.
func (a *Account) Principal() Principal {
	return Principal{ID: a.ID, Roles: a.Roles, Location: a.Location, Regions: a.Regions}
}

// Errors of the directory.
var (
	// ErrUnauthenticated covers every failed authentication: unknown,
	// malformed, expired or revoked token, disabled principal. Callers
	// answer 401 and never say which.
	ErrUnauthenticated = errors.New("access: invalid or expired token")
	// ErrLocked is returned for a valid token of a locked principal.
	ErrLocked = errors.New("access: principal is locked")
	// ErrExists and ErrNoPrincipal are for the admin API.
	ErrExists      = errors.New("access: principal already exists")
	ErrNoPrincipal = errors.New("access: no such principal")
	// ErrInvalid wraps every rejected principal definition.
	ErrInvalid = errors.New("access: invalid principal")
)

// Directory keeps one region's principals in the region's store. Every
// region holds the principals that may reach it, so each authenticates on
// its own; the gateway fans admin changes out to every region.
type Directory struct {
	st   store.Store
	macs sync.Pool // of hash.Hash: keyed token MACs, one per request
	now  func() time.Time
	pol  *policy.Policy

	cache authCache
}

// NewDirectory returns the directory over st. newMAC returns a MAC keyed
// with the region's token-authentication key.
func NewDirectory(st store.Store, pol *policy.Policy, newMAC func() hash.Hash, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	d := &Directory{st: st, now: now, pol: pol}
	d.macs.New = func() any { return newMAC() }
	return d
}

func (d *Directory) tokenMAC(tok string) []byte {
	h := d.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(tok))
	out := h.Sum(nil)
	d.macs.Put(h)
	return out
}

func accountKey(id string) []byte { return []byte("p/" + id) }
func tokenKey(mac []byte) []byte  { return append([]byte("t/"), mac...) }

var principalID = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,127}$`)

// Validate checks an account definition against the policy.
func (d *Directory) Validate(a *Account) error {
	if !principalID.MatchString(a.ID) {
		return fmt.Errorf("%w: id must be 1 to 128 lower-case letters, digits, '.', '_', '@' or '-'", ErrInvalid)
	}
	if a.Kind != "person" && a.Kind != "service" {
		return fmt.Errorf("%w: kind must be person or service", ErrInvalid)
	}
	if len(a.Roles) == 0 {
		return fmt.Errorf("%w: a principal needs at least one role", ErrInvalid)
	}
	for _, r := range a.Roles {
		if _, ok := d.pol.Role(r); !ok {
			return fmt.Errorf("%w: role %q is not in the policy", ErrInvalid, r)
		}
	}
	a.Location = strings.ToUpper(a.Location)
	if !policy.IsCountry(a.Location) {
		return fmt.Errorf("%w: location must be an ISO 3166-1 alpha-2 country code", ErrInvalid)
	}
	if a.Organisation != "" && !principalID.MatchString(a.Organisation) {
		return fmt.Errorf("%w: organisation must be 1 to 128 lower-case letters, digits, '.', '_', '@' or '-', as the policy's mechanisms name recipients", ErrInvalid)
	}
	for _, r := range a.Regions {
		if _, ok := d.pol.Region(r); !ok {
			return fmt.Errorf("%w: region %q is not in the policy", ErrInvalid, r)
		}
	}
	return nil
}

// Create stores a new principal with its first token (which the caller
// made with NewToken and shows once). expires zero means no expiry.
func (d *Directory) Create(ctx context.Context, a Account, tok string, expires time.Time) (*Account, error) {
	return d.CreateWith(ctx, a, tok, expires, nil)
}

// CreateWith is Create committed by commit (nil: the store's Apply).
func (d *Directory) CreateWith(ctx context.Context, a Account, tok string, expires time.Time, commit Commit) (*Account, error) {
	if err := d.Validate(&a); err != nil {
		return nil, err
	}
	if !WellFormed(tok) {
		return nil, fmt.Errorf("%w: malformed token", ErrInvalid)
	}
	a.State, a.Created = Active, d.now().UTC()
	t := Token{ID: TokenID(tok), MAC: d.tokenMAC(tok), Created: a.Created, Expires: expires}
	a.Tokens = []Token{t}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	var batch store.Batch
	batch.Insert(accountKey(a.ID), b)
	batch.Insert(tokenKey(t.MAC), []byte(a.ID))
	if commit == nil {
		commit = d.st.Apply
	}
	if err := commit(ctx, &batch); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: %s", ErrExists, a.ID)
		}
		return nil, fmt.Errorf("access: create principal: %w", err)
	}
	return &a, nil
}

// Get returns the principal id.
func (d *Directory) Get(ctx context.Context, id string) (*Account, error) {
	b, err := d.st.Get(ctx, accountKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoPrincipal, id)
	}
	if err != nil {
		return nil, fmt.Errorf("access: read principal: %w", err)
	}
	var a Account
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("access: principal %s is corrupt: %w", id, err)
	}
	return &a, nil
}

// List returns every principal, in id order.
func (d *Directory) List(ctx context.Context) ([]Account, error) {
	kvs, err := d.st.Scan(ctx, []byte("p/"), store.PrefixEnd([]byte("p/")), 0)
	if err != nil {
		return nil, fmt.Errorf("access: list principals: %w", err)
	}
	out := make([]Account, 0, len(kvs))
	for _, kv := range kvs {
		var a Account
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, fmt.Errorf("access: a principal is corrupt: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Commit applies a batch of principal changes. The directory's own commit
// is the store's Apply; an audited caller passes one that applies the
// batch together with its audit entry (audit.Log.Apply), so that the change
// is never stored without its record.
type Commit func(ctx context.Context, b *store.Batch) error

func (d *Directory) put(ctx context.Context, a *Account, b *store.Batch, commit Commit) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	b.Put(accountKey(a.ID), v)
	// Forget after the write; an Authenticate that read the old state
	// while the write went on does not keep it (see authCache.put).
	defer d.cache.reset()
	if commit == nil {
		commit = d.st.Apply
	}
	if err := commit(ctx, b); err != nil {
		return fmt.Errorf("access: update principal: %w", err)
	}
	return nil
}

// Change is a change to a principal's attributes; nil fields stay as they
// are.
type Change struct {
	Roles        []string
	Location     *string
	Organisation *string
	Regions      *[]string
}

// Update applies ch to principal id, validated as at creation, and
// returns the account as it is now.
//
// Errors: ErrNoPrincipal; ErrInvalid (wrapped) for a change that makes an
// invalid principal, nothing changed; the store's.
func (d *Directory) Update(ctx context.Context, id string, ch Change, commit Commit) (*Account, error) {
	a, err := d.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ch.Roles != nil {
		a.Roles = slices.Clone(ch.Roles)
	}
	if ch.Location != nil {
		a.Location = *ch.Location
	}
	if ch.Organisation != nil {
		a.Organisation = *ch.Organisation
	}
	if ch.Regions != nil {
		a.Regions = slices.Clone(*ch.Regions)
	}
	if err := d.Validate(a); err != nil {
		return nil, err
	}
	return a, d.put(ctx, a, &store.Batch{}, commit)
}

// Delete removes principal id and with it its tokens, at once on every
// node (each node's cache of authentications is reset by the write here,
// and the others' within AuthCacheTTL).
//
// Errors: ErrNoPrincipal; the store's.
func (d *Directory) Delete(ctx context.Context, id string, commit Commit) error {
	if _, err := d.Get(ctx, id); err != nil {
		return err
	}
	var b store.Batch
	b.Delete(accountKey(id))
	defer d.cache.reset()
	if commit == nil {
		commit = d.st.Apply
	}
	if err := commit(ctx, &b); err != nil {
		return fmt.Errorf("access: delete principal: %w", err)
	}
	return nil
}

// Filter selects principals for a listing; zero fields match every one.
type Filter struct {
	Role, Location, Organisation string
	State                        State
}

// Match reports whether a is selected by f.
func (f Filter) Match(a *Account) bool {
	return (f.Role == "" || slices.Contains(a.Roles, f.Role)) &&
		(f.Location == "" || strings.EqualFold(a.Location, f.Location)) &&
		(f.Organisation == "" || a.Organisation == f.Organisation) &&
		(f.State == "" || a.State == f.State)
}

// SetState enables, disables, locks or unlocks a principal.
func (d *Directory) SetState(ctx context.Context, id string, s State) (*Account, error) {
	return d.SetStateWith(ctx, id, s, nil)
}

// SetStateWith is SetState committed by commit (nil: the store's Apply).
func (d *Directory) SetStateWith(ctx context.Context, id string, s State, commit Commit) (*Account, error) {
	a, err := d.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	a.State = s
	return a, d.put(ctx, a, &store.Batch{}, commit)
}

// MaxOverlap is the longest overlap window of a token rotation.
const MaxOverlap = 30 * 24 * time.Hour

// MaxTokens is how many tokens a principal holds at most: a rotation
// with an overlap that would keep more drops the oldest.
const MaxTokens = 4

// RotateToken replaces every token of the principal with tok.
func (d *Directory) RotateToken(ctx context.Context, id, tok string, expires time.Time) (*Account, error) {
	return d.RotateTokenOverlap(ctx, id, tok, expires, 0)
}

// RotateTokenOverlap makes tok the principal's newest token. The tokens it
// held stay valid for overlap more (never longer than they were valid
// anyway), so that services can roll to the new token without downtime;
// overlap zero revokes them at once. Expired tokens are dropped, and so
// are the oldest beyond MaxTokens. overlap is at most MaxOverlap.
func (d *Directory) RotateTokenOverlap(ctx context.Context, id, tok string, expires time.Time, overlap time.Duration) (*Account, error) {
	if !WellFormed(tok) {
		return nil, fmt.Errorf("%w: malformed token", ErrInvalid)
	}
	if overlap < 0 || overlap > MaxOverlap {
		return nil, fmt.Errorf("%w: the overlap must be between 0 and %v", ErrInvalid, MaxOverlap)
	}
	a, err := d.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := d.now().UTC()
	// A repeat of a rotation this region applied already (the gateway
	// tells callers to repeat one that reached only some regions) is a
	// no-op: the token must not be held twice, taking a MaxTokens slot and
	// perhaps pushing out a legitimate older token, nor revoke tokens that
	// a later rotation kept. A held token that expired is replaced as if
	// new.
	mac := d.tokenMAC(tok)
	for _, t := range a.Tokens {
		if hmac.Equal(t.MAC, mac) && (t.Expires.IsZero() || now.Before(t.Expires)) {
			return a, nil
		}
	}
	var b store.Batch
	var kept []Token
	if overlap > 0 {
		until := now.Add(overlap)
		for _, t := range a.Tokens {
			if !t.Expires.IsZero() && !now.Before(t.Expires) || hmac.Equal(t.MAC, mac) {
				continue // expired already (and replaced, if it is tok)
			}
			if t.Expires.IsZero() || t.Expires.After(until) {
				t.Expires = until
			}
			kept = append(kept, t)
		}
		// The newest first, at most MaxTokens with the new one.
		slices.SortStableFunc(kept, func(x, y Token) int { return y.Created.Compare(x.Created) })
		kept = kept[:min(len(kept), MaxTokens-1)]
	}
	keep := map[string]bool{}
	for _, t := range kept {
		keep[string(t.MAC)] = true
	}
	for _, t := range a.Tokens {
		if !keep[string(t.MAC)] {
			b.Delete(tokenKey(t.MAC))
		}
	}
	t := Token{ID: TokenID(tok), MAC: mac, Created: now, Expires: expires}
	a.Tokens = append([]Token{t}, kept...)
	b.Put(tokenKey(t.MAC), []byte(a.ID))
	return a, d.put(ctx, a, &b, nil)
}

// Ensure creates the principal with tok if it does not exist, or makes tok
// its token if it does; dev mode and `serve` use it for the bootstrap
// administrator.
func (d *Directory) Ensure(ctx context.Context, a Account, tok string) (*Account, error) {
	got, err := d.Create(ctx, a, tok, time.Time{})
	if errors.Is(err, ErrExists) {
		if acc, aerr := d.Authenticate(ctx, tok); aerr == nil && acc.ID == a.ID {
			return acc, nil
		}
		return d.RotateToken(ctx, a.ID, tok, time.Time{})
	}
	return got, err
}

// Authenticate returns the active principal holding tok. Every failure is
// ErrUnauthenticated, but for a locked principal (ErrLocked). A success is
// remembered for AuthCacheTTL (see there); failures are not. The returned
// Account may be shared with concurrent requests: callers must not modify
// it.
func (d *Directory) Authenticate(ctx context.Context, tok string) (*Account, error) {
	if !WellFormed(tok) {
		return nil, ErrUnauthenticated
	}
	mac := d.tokenMAC(tok)
	now := d.now()
	a, ok, epoch := d.cache.get(mac, now)
	if ok {
		if tokenValid(a, mac, now) {
			return a, nil
		}
		return nil, ErrUnauthenticated
	}
	id, err := d.st.Get(ctx, tokenKey(mac))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("access: authenticate: %w", err)
	}
	a, err = d.Get(ctx, string(id))
	if errors.Is(err, ErrNoPrincipal) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !tokenValid(a, mac, now), a.State == Disabled:
		return nil, ErrUnauthenticated
	case a.State == Locked:
		return a, ErrLocked
	case a.State != Active:
		return nil, ErrUnauthenticated
	}
	d.cache.put(mac, a, now, epoch)
	return a, nil
}

// tokenValid reports whether a holds an unexpired token with the MAC mac,
// comparing in constant time (the store lookup found the MAC already).
func tokenValid(a *Account, mac []byte, now time.Time) bool {
	found := false
	for _, t := range a.Tokens {
		if hmac.Equal(t.MAC, mac) && (t.Expires.IsZero() || now.Before(t.Expires)) {
			found = true
		}
	}
	return found
}
