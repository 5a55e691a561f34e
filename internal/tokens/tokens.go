// Package tokens is the token service of one region: it turns field values
// into tokens that global systems can hold in place of the data, and tokens
// back into values, for the field token kinds of the policy (random,
// deterministic, fpe). Access control is not here: the API decides whether
// a principal may detokenize (and masks per field) before it shows what
// Detokenize returns.
//
// # Kinds
//
//	random         tkr_<region>_<26 base32>     128 random bits; maps to the
//	                                            value in the region's store
//	deterministic  tkd_<region>_v<ver>_<26 b32> HMAC (suite MAC) under a key
//	                                            derived from token KEK <ver>
//	                                            of (collection, field,
//	                                            normalised value), truncated
//	                                            to 128 bits; maps to the value
//	fpe            the value's own shape        FF1 (NIST SP 800-38G) over the
//	                                            region's block cipher (SM4 in
//	                                            cn, AES-256 in intl) under a
//	                                            key derived from token KEK
//	                                            <ver> for (collection, field)
//
// Random and deterministic tokens name their region (package tokfmt), so a
// gateway routes a detokenize by the token alone. An fpe token names
// nothing: its detokenize must say the collection and field, be sent to the
// right region by the caller (which knows the record's jurisdiction or
// region), and say the key version unless it is the current one; Tokenize
// returns the version in Result.KeyVersion for callers to keep.
//
// Deterministic and fpe tokens are computed from the normalised value (the
// field's normaliser), so "Ana@Example.com " and "ana@example.com" share a
// token. Deterministic entries keep the value as first submitted; fpe
// detokenizes to the normalised value (for a phone, its E.164 form).
//
// # Storage
//
// In the region's store, beside the vault's keys:
//
//	x/r/<id, 16 bytes>                       entry of a random token
//	x/d/<ver, 4B BE><mac, 16 bytes>/         entry of a deterministic token,
//	                                         sealed with the region token key
//	x/d/<ver, 4B BE><mac, 16 bytes>/<ref>    one entry per subject whose
//	                                         records hold the value, sealed
//	                                         with that subject's DEK
//
// Entries are tokfmt.Entry values: collection, field, jurisdiction (and for
// subject-sealed ones the subject ref and record id) in clear, and an
// envelope of the value whose binding names the region, collection, field
// and a digest of the token and of that metadata, so entries cannot be moved
// between tokens or edited. Region-sealed envelopes use a key derived from
// the token KEK (label "tokens seal v1") and name its version.
//
// # Erasure
//
// Record-bound tokens (TokenizeRecordFields, called by the vault's create)
// follow the subject:
//
//   - random: the entry is sealed with the subject's DEK; after
//     keyring.DestroySubjectKey the token fails with CodeSubjectErased.
//   - deterministic: one entry per subject (x/d/.../<ref>), each sealed with
//     that subject's DEK. Detokenize opens the first entry that still opens,
//     so the token keeps working while any other subject (or a stand-alone
//     Tokenize) still holds the same value, and fails with CodeSubjectErased
//     once every holder was erased. The token itself stays computable by
//     anyone who can tokenize the value again: it is a keyed digest, not a
//     secret.
//   - fpe: nothing is stored; the token is the value encrypted under a
//     region-wide key, so erasing a subject cannot revoke it. Only rotating
//     the token key and retiring the old version (which retires every fpe
//     token of that version) does. Choose fpe only for fields where that is
//     acceptable, or have the API check that a live record still holds the
//     detokenized value (a blind-index lookup) before showing it.
//
// Stand-alone tokens (Tokenize) are not bound to a subject: their entries
// are sealed with the region token key and outlive any erasure until their
// key version is retired.
//
// # Key rotation
//
// Token keys are the keyring's token KEK versions (keyring.Rotate(ctx,
// keyring.Token)). New tokens use the current version; deterministic tokens
// carry theirs, fpe tokens take it from the caller, region-sealed entries
// name it in their envelope. Every version keeps working until it is
// retired (keyring.Retire), after which its tokens fail with CodeRetired.
// Subject-sealed entries do not depend on the token key.
//
// A Service holds no global state and is safe for concurrent use.
package tokens

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/token/format"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// MaxBatch is the most items one Tokenize or Detokenize takes.
const MaxBatch = tokfmt.MaxBatch

// Kinds, as the policy names them.
const (
	KindRandom        = policy.TokenRandom
	KindDeterministic = policy.TokenDeterministic
	KindFPE           = policy.TokenFPE
)

// NormalizeFunc returns the normal form of a value of field f, or an error
// (any error: the service reports CodeInvalidValue). It must not quote the
// value in its error.
type NormalizeFunc func(f *policy.Field, value, jurisdiction string) (string, error)

// Options configure New.
type Options struct {
	// Region is the region this service serves; it must be in Policy and
	// match Keyring.
	Region  string
	Policy  *policy.Policy
	Keyring *keyring.Keyring
	Store   store.Store
	// Rand is the source of token ids and nonces; nil means crypto/rand.
	Rand io.Reader
	// Normalize normalises values before deterministic MACs and fpe; nil
	// means the field's policy normaliser (internal/normalize), as the
	// vault uses for blind indexes.
	Normalize NormalizeFunc
	// SeenCacheSize is the number of deterministic entries the service
	// remembers as stored, to skip a store read when the same value is
	// tokenized again; 0 means 1<<16, negative disables the cache.
	SeenCacheSize int
}

// Service is the token service of one region.
type Service struct {
	region string
	pol    *policy.Policy
	keys   *keyring.Keyring
	st     store.Store
	suite  suite.Suite
	rand   io.Reader
	norm   NormalizeFunc
	fields map[string]map[string]*fieldInfo // collection -> field
	vers   versionCache
	seen   *seenSet
}

// fieldInfo is one tokenized field, resolved once.
type fieldInfo struct {
	coll, name string
	p          *policy.Field
	kind       string
	fpe        format.Format // fpe only
	norm       normalize.Func
}

// fpeFormats maps the policy's token_format names to internal/token/format.
var fpeFormats = map[string]string{
	"cn_resident_id": format.NameCNResidentID,
	"e164":           format.NameE164,
	"pan":            format.NamePAN,
	"digits":         format.NameDigits,
	"alphanumeric":   format.NameAlphanumeric,
}

// New returns the token service of o.Region. It fails if the region is not
// in the policy, the keyring belongs to another region or suite, or a
// field's normaliser or fpe format is unknown.
func New(o Options) (*Service, error) {
	if o.Policy == nil || o.Keyring == nil || o.Store == nil {
		return nil, errors.New("tokens: Policy, Keyring and Store are required")
	}
	r, ok := o.Policy.Region(o.Region)
	if !ok {
		return nil, fmt.Errorf("tokens: region %q is not in the policy", o.Region)
	}
	if err := tokfmt.ValidRegion(r.Name); err != nil {
		return nil, fmt.Errorf("tokens: region %q: %w", r.Name, err)
	}
	if o.Keyring.Region() != r.Name || o.Keyring.Suite().ID() != r.Suite {
		return nil, fmt.Errorf("tokens: keyring of %s/%s does not match region %s/%s",
			o.Keyring.Region(), o.Keyring.Suite().ID(), r.Name, r.Suite)
	}
	s := &Service{region: r.Name, pol: o.Policy, keys: o.Keyring, st: o.Store, suite: o.Keyring.Suite(),
		rand: o.Rand, norm: o.Normalize, fields: map[string]map[string]*fieldInfo{}}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.suite.BlockKeySize() == 0 {
		return nil, fmt.Errorf("tokens: suite %s has no block cipher", s.suite.ID())
	}
	switch {
	case o.SeenCacheSize == 0:
		s.seen = newSeenSet(1 << 16)
	case o.SeenCacheSize > 0:
		s.seen = newSeenSet(o.SeenCacheSize)
	}
	for i := range o.Policy.Collections {
		pc := &o.Policy.Collections[i]
		fs := map[string]*fieldInfo{}
		for j := range pc.Fields {
			pf := &pc.Fields[j]
			fi := &fieldInfo{coll: pc.Name, name: pf.Name, p: pf, kind: pf.Token}
			n, err := normalize.ByName(pf.Normalizer)
			if err != nil {
				return nil, fmt.Errorf("tokens: collection %s field %s: %w", pc.Name, pf.Name, err)
			}
			fi.norm = n
			if pf.Token == KindFPE {
				name, ok := fpeFormats[pf.TokenFormat]
				if !ok {
					return nil, fmt.Errorf("tokens: collection %s field %s: unknown token format %q", pc.Name, pf.Name, pf.TokenFormat)
				}
				if fi.fpe, err = format.ByName(name); err != nil {
					return nil, fmt.Errorf("tokens: collection %s field %s: %w", pc.Name, pf.Name, err)
				}
			}
			fs[pf.Name] = fi
		}
		s.fields[pc.Name] = fs
	}
	return s, nil
}

// Region returns the region the service serves.
func (s *Service) Region() string { return s.region }

// field resolves a collection and field name.
func (s *Service) field(coll, name string) (*fieldInfo, *Error) {
	fs, ok := s.fields[coll]
	if !ok {
		return nil, errorf(CodeUnknownCollection, "collection %q is not in the policy", truncate(coll, 64))
	}
	fi, ok := fs[name]
	if !ok {
		return nil, errorf(CodeUnknownField, "field %q is not in collection %s", truncate(name, 64), coll)
	}
	return fi, nil
}

// tokenField resolves a field that must have a token kind.
func (s *Service) tokenField(coll, name string) (*fieldInfo, *Error) {
	fi, err := s.field(coll, name)
	if err != nil {
		return nil, err
	}
	if fi.kind == "" {
		return nil, errorf(CodeNotTokenized, "field %s of collection %s has no token kind", fi.name, fi.coll)
	}
	return fi, nil
}

// checkJurisdiction resolves j and requires it to belong to this region.
func (s *Service) checkJurisdiction(j string) (string, *Error) {
	r, err := s.pol.RegionFor(j)
	if err != nil {
		if len(j) > 8 {
			j = j[:8] + "..."
		}
		return "", wrapf(CodeUnknownJurisdiction, err, "jurisdiction %q is not an ISO 3166-1 alpha-2 code", j)
	}
	if r.Name != s.region {
		return "", errorf(CodeWrongRegion, "jurisdiction %s belongs to region %s, not %s", upper(j), r.Name, s.region)
	}
	return upper(j), nil
}

// normalize checks and normalises one value.
func (s *Service) normalize(fi *fieldInfo, value, jurisdiction string) (string, *Error) {
	if len(value) > fi.p.MaxLength {
		return "", errorf(CodeFieldTooLarge, "field %s is %d bytes, at most %d allowed", fi.name, len(value), fi.p.MaxLength)
	}
	if !utf8.ValidString(value) {
		return "", errorf(CodeInvalidValue, "field %s is not valid UTF-8", fi.name)
	}
	var (
		norm string
		err  error
	)
	if s.norm != nil {
		norm, err = s.norm(fi.p, value, jurisdiction)
	} else {
		norm, err = fi.norm(value, jurisdiction)
	}
	if err != nil {
		return "", wrapf(CodeInvalidValue, err, "field %s is not a valid %s", fi.name, fi.p.Type)
	}
	return norm, nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
