// Package vault is the domain core of one region: it creates, reads,
// patches, deletes, searches and erases records, encrypting every field with
// the subject's data key under the region's suite and binding each
// ciphertext to its region, collection, record and field.
//
// Store layout (all under the region's own store):
//
//	r/<record id>                                  stored record (recordfmt)
//	s/<subject ref>/<record id>                    subject index
//	i/<collection>/<field>/<ver>/<mac>/<record id> blind index (ver: 4 bytes BE)
//	d/<idempotency hash>                           idempotency entry
//	k/...                                          the keyring's sealed keys
//
// and the counter n/<collection> (records per collection).
package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
)

// Limits on requests.
const (
	// MaxBatch is the most records one Create takes.
	MaxBatch = 1000
	// MaxSubjectLen is the longest subject id, in bytes.
	MaxSubjectLen = 256
	// DefaultPageSize and MaxPageSize bound listings and searches; they
	// are package paging's.
	DefaultPageSize = paging.DefaultPageSize
	MaxPageSize     = paging.MaxPageSize
)

// Options configure a Vault.
type Options struct {
	Policy  *policy.Policy
	Region  string // the region this vault serves; must be in Policy
	Keyring *keyring.Keyring
	Store   store.Store
	// Audit, when set, records every write in the same batch as the
	// write; a write it cannot record fails. It must be a log over Store:
	// the vault's writes are applied through it.
	Audit *audit.Log
	// Tokens, when set, gives every created record the tokens of its
	// fields that have a token kind, committed with the record.
	Tokens *tokens.Service
	Rand   io.Reader        // nil: crypto/rand
	Now    func() time.Time // nil: time.Now
}

// Vault is one region's records. It is safe for concurrent use.
type Vault struct {
	pol    *policy.Policy
	region *policy.Region
	keys   *keyring.Keyring
	st     store.Store
	tokens *tokens.Service
	audit  *audit.Log
	rand   io.Reader
	now    func() time.Time
	colls  map[string]*collection
	locks  [64]sync.Mutex // serialise read-modify-write of one record (patch, delete)
	// decrypted counts ciphertexts opened (Decrypted).
	decrypted atomic.Uint64
}

type collection struct {
	p      *policy.Collection
	fields map[string]*field
}

type field struct {
	p    *policy.Field
	norm normalize.Func
}

// New returns the vault of o.Region.
func New(o Options) (*Vault, error) {
	r, ok := o.Policy.Region(o.Region)
	if !ok {
		return nil, fmt.Errorf("vault: region %q is not in the policy", o.Region)
	}
	// A region that migrated suite may still be named with its old one
	// until its policy file is edited.
	if s := r.Suite; o.Keyring.Region() != r.Name || (o.Keyring.Suite().ID() != s && o.Keyring.Origin().ID() != s) {
		return nil, fmt.Errorf("vault: keyring of %s/%s does not match region %s/%s",
			o.Keyring.Region(), o.Keyring.Suite().ID(), r.Name, r.Suite)
	}
	v := &Vault{pol: o.Policy, region: r, keys: o.Keyring, st: o.Store, tokens: o.Tokens, audit: o.Audit,
		rand: o.Rand, now: o.Now, colls: map[string]*collection{}}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	if v.now == nil {
		v.now = time.Now
	}
	for i := range o.Policy.Collections {
		pc := &o.Policy.Collections[i]
		c := &collection{p: pc, fields: map[string]*field{}}
		for j := range pc.Fields {
			pf := &pc.Fields[j]
			n, err := normalize.ByName(pf.Normalizer)
			if err != nil {
				return nil, fmt.Errorf("vault: collection %s field %s: %w", pc.Name, pf.Name, err)
			}
			c.fields[pf.Name] = &field{p: pf, norm: n}
		}
		v.colls[pc.Name] = c
	}
	return v, nil
}

// Region returns the policy region this vault serves.
func (v *Vault) Region() *policy.Region { return v.region }

// Tokens returns the region's token service (nil when off).
func (v *Vault) Tokens() *tokens.Service { return v.tokens }

// Audit returns the region's audit log (nil when off).
func (v *Vault) Audit() *audit.Log { return v.audit }

// Keyring returns the region's keyring.
func (v *Vault) Keyring() *keyring.Keyring { return v.keys }

// Record is a record in clear, as the vault returns it.
type Record struct {
	ID           string
	Collection   string
	Subject      string
	Jurisdiction string
	Region       string
	Fields       map[string]string
	Created      time.Time
	Updated      time.Time
}

// NewRecord is a record to create.
type NewRecord struct {
	Collection   string
	Subject      string
	Jurisdiction string
	Fields       map[string]string
}

func (v *Vault) collection(name string) (*collection, error) {
	c, ok := v.colls[name]
	if !ok {
		return nil, errorf(CodeUnknownCollection, "collection %q is not in the policy", name)
	}
	return c, nil
}

// checkJurisdiction resolves j and requires it to map to this region.
func (v *Vault) checkJurisdiction(j string) (string, error) {
	r, err := v.pol.RegionFor(j)
	if err != nil {
		return "", errorf(CodeUnknownJurisdiction, "jurisdiction %q is not an ISO 3166-1 alpha-2 code", truncate(j, 8))
	}
	if r.Name != v.region.Name {
		return "", errorf(CodeWrongRegion, "jurisdiction %s belongs to region %s, not %s", upper(j), r.Name, v.region.Name)
	}
	return upper(j), nil
}

func checkSubject(s string) error {
	if s == "" || len(s) > MaxSubjectLen {
		return errorf(CodeInvalidSubject, "subject id must be 1 to %d bytes", MaxSubjectLen)
	}
	return nil
}

func (v *Vault) checkRecordID(id string) error {
	r, ok := RegionOfID(id)
	if !ok {
		return errorf(CodeInvalidRecordID, "record id is malformed")
	}
	if r != v.region.Name {
		return errorf(CodeWrongRegion, "record belongs to region %s, not %s", r, v.region.Name)
	}
	return nil
}

// Close releases nothing the vault owns alone; the store and keyring are
// closed by their owner.
func (v *Vault) Close() error { return nil }

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// truncate keeps error messages short; it is only used on non-personal
// inputs such as jurisdiction codes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

var errRetry = errors.New("vault: retry")
