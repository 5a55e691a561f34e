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
//	                                            <ver> for (collection, field);
//	                                            honoured only while a live
//	                                            entry for it exists
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
// token. A deterministic token detokenizes to the value as first submitted,
// by whichever path (a record's create or Tokenize) submitted it first, and
// later submissions in another spelling never change it; fpe detokenizes to
// the normalised value (for a phone, its E.164 form).
//
// # Phone numbers
//
// fpe tokens of e164 fields are valid numbers of the value's country, by
// the same check the phone normaliser applies (libphonenumber metadata):
// the "+", the country calling code and all but the last 7 digits of the
// national number stay in clear (a national number of 6 or 7 digits is
// encrypted whole); those digits are encrypted with FF1, the clear part in
// the tweak, and encryption is repeated (cycle walking: FF1 is a
// permutation, so decryption walks back to the value) until the result is
// a valid number. Values the normaliser accepts always have a token.
//
// # Storage
//
// In the region's store, beside the vault's keys:
//
//	x/r/<id, 16 bytes>                       entry of a random token
//	x/d/<ver, 4B BE><mac, 16 bytes>          anchor of a deterministic token:
//	                                         a generation (4B BE), then the
//	                                         region entry when it is folded
//	                                         in (see below)
//	x/d/<ver, 4B BE><mac, 16 bytes>/         entry of a deterministic token,
//	                                         sealed with the region token key,
//	                                         when not in the anchor
//	x/d/<ver, 4B BE><mac, 16 bytes>/<ref>    one entry per subject whose
//	                                         records (or subject-bound
//	                                         tokenizes) hold the value, sealed
//	                                         with that subject's DEK
//	x/f/<ver, 4B BE><live, 16 bytes>/        live entry of an fpe token made
//	                                         without a subject (empty)
//	x/f/<ver, 4B BE><live, 16 bytes>/<ref>   live entry of a subject's fpe
//	                                         token: its DEK generation (4B BE)
//	x/s/<ref>/<live entry key>               the subject's live entries, for
//	                                         erasure (empty)
//	x/m/fpe                                  the region's fpe mode (4B BE)
//	x/m/fold                                 the region's anchor mode (4B BE)
//
// where live is a MAC of (collection, field, token) under a key derived from
// token KEK <ver> (label "tokens fpe live v1"): live entries hold no value,
// and without the token key nobody can tell which token or value an entry
// stands for, nor enumerate them.
//
// Entries of random and deterministic tokens are tokfmt.Entry values:
// collection, field, jurisdiction (and for subject-sealed ones the subject
// ref and record id) in clear, and an envelope of the value whose binding
// names the region, collection, field and a digest of the token and of that
// metadata, so entries cannot be moved between tokens or edited.
// Region-sealed envelopes use a key derived from the token KEK (label
// "tokens seal v1") and name its version.
//
// A new deterministic token that a stand-alone Tokenize makes (no subject)
// holds its region entry in its anchor, after the generation: one key
// rather than two. Only in key versions above the region's anchor mode:
// builds before this layout read such an anchor as corrupt, so a region
// that served requests before it keeps the old layout until its token key
// is rotated (a new region folds from the start). Readers take both.
//
// Every write of a deterministic entry reads the token's anchor and
// entries, seals the value of the first entry that still opens (or, when
// none does, the submitted value) and, in the same batch, creates the
// anchor (Insert) or expects its generation (bumping it when no entry
// opened any more), so that concurrent first submissions on any node
// serialise: the loser's batch fails with store.ErrConflict and is rebuilt.
//
// # Erasure
//
// Record-bound tokens (TokenizeRecordFields, called by the vault's create)
// and stand-alone tokens that name a subject (Item.Subject) follow the
// subject:
//
//   - random: the entry is sealed with the subject's DEK; after
//     keyring.DestroySubjectKey the token fails with CodeSubjectErased.
//   - deterministic: one entry per subject (x/d/.../<ref>), each sealed with
//     that subject's DEK. Detokenize opens the first entry that still opens,
//     so the token keeps working while any other subject (or a stand-alone
//     Tokenize without a subject) still holds the same value, and fails with
//     CodeSubjectErased once every holder was erased. The token itself stays
//     computable by anyone who can tokenize the value again: it is a keyed
//     digest, not a secret.
//   - fpe: the token is the value encrypted under a region-wide key, so
//     decryption alone cannot know the subject is gone. A token is honoured
//     only while a live entry for it exists: the region's, or a subject's
//     whose DEK generation still exists. The vault's erasure calls
//     EraseSubject, which deletes the subject's live entries (found through
//     x/s/<ref>/) in the batch that destroys its key, so the token fails on
//     every node at once (CodeNotFound; CodeSubjectErased while an entry
//     of the destroyed key generation is still there, as after an erasure
//     that raced with a create). Like a deterministic token, an fpe token
//     keeps working while another subject holds the same value.
//
// Stand-alone tokens made without a subject are bound to nobody: their
// entries (region-sealed, or the region's live entry) outlive any erasure
// and live until their token key version is retired.
//
// # Earlier versions
//
// Regions created by versions before live entries kept no entry for fpe
// tokens and encrypted whole national numbers (tokens that are not always
// valid numbers). The first service to open such a region (one whose store
// already holds token entries, subject keys or audit entries) records in
// x/m/fpe the token key version current then: fpe tokens of that version
// and earlier ones keep the earlier rules (no live entry needed: an
// erasure revokes only the tokens whose live entries it deletes, never one
// with no entry; the earlier phone shape), so that tokens handed out before
// the upgrade still detokenize. Rotate the token key after the upgrade
// (keyring.Rotate(ctx, keyring.Token)) to give every new fpe token the
// current rules, and retire the old version once its tokens are no longer
// needed. A new region records 0: every version follows the current rules.
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
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
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
	// SeenCacheSize is the number of region entries (deterministic
	// entries, live entries of fpe tokens made without a subject) the
	// service remembers as stored, to skip a store read or write when the
	// same value is tokenized again; 0 means 1<<16, negative disables the
	// cache.
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
	// claimFirst says the last batches found no stored token among the
	// new values they claimed or probed: lookUp then claims without
	// probing (see probe).
	claimFirst atomic.Bool
	// legacyFPE is the highest token key version whose fpe tokens follow
	// the rules of earlier versions (loadFPEMode); 0 for none.
	legacyFPE uint32
	// apartAnchor is the highest token key version whose new
	// deterministic tokens keep their region entry apart from their
	// anchor (loadFoldMode); 0 for none.
	apartAnchor uint32
}

// fieldInfo is one tokenized field, resolved once.
type fieldInfo struct {
	coll, name string
	p          *policy.Field
	kind       string
	fpe        format.Format // fpe only
	phone      bool          // fpe with token format e164
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
	// A region that migrated suite may still be named with its old one
	// until its policy file is edited.
	if s := r.Suite; o.Keyring.Region() != r.Name || (o.Keyring.Suite().ID() != s && o.Keyring.Origin().ID() != s) {
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
				fi.phone = name == format.NameE164
			}
			fs[pf.Name] = fi
		}
		s.fields[pc.Name] = fs
	}
	var err error
	cur := s.keys.CurrentVersion(keyring.Token)
	if s.legacyFPE, err = loadFPEMode(context.Background(), s.st, cur); err != nil {
		return nil, err
	}
	if s.apartAnchor, err = loadFoldMode(context.Background(), s.st, cur); err != nil {
		return nil, err
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
