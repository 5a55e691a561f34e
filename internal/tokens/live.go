package tokens

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/token/ff1"
	"github.com/domicile/domicile/internal/token/format"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// This file holds what makes fpe tokens revocable: live entries, the
// subject index that erasure follows, the region's fpe mode and the phone
// scheme whose tokens are valid numbers. See the package documentation,
// "Erasure" and "Earlier versions".

// loadFPEMode returns the highest token key version whose fpe tokens follow
// the rules of earlier versions (0: none), writing the region's mode the
// first time a service opens the store (loadMode).
//
// Fpe tokens of a region that served requests before this mode existed
// may have been issued by an earlier version, with no live entry and in
// the old phone shape: the versions up to the current one keep those
// rules, so that such tokens still detokenize, and rotating the token key
// gives the current rules to every later token.
func loadFPEMode(ctx context.Context, st store.Store, cur uint32) (uint32, error) {
	return loadMode(ctx, st, keyFPEMode, "fpe mode", cur)
}

// loadMode returns the token key version mark stored at key, writing it
// the first time a service opens the store: 0 for a new region (one whose
// store holds no token entry, no subject key and no audit entry yet),
// otherwise cur.
func loadMode(ctx context.Context, st store.Store, key, what string, cur uint32) (uint32, error) {
	for attempt := 0; attempt < 2; attempt++ {
		raw, err := st.Get(ctx, []byte(key))
		if err == nil {
			if len(raw) != 4 {
				return 0, fmt.Errorf("tokens: the region's %s is corrupt", what)
			}
			return binary.BigEndian.Uint32(raw), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("tokens: reading the %s: %w", what, err)
		}
		legacy := uint32(0)
		// Prefixes of other packages, read only to tell a new region from
		// one that served requests before this mode existed: audit
		// entries (every tokenize and create is one) and subject keys.
		for _, p := range []string{prefixRandom, prefixDet, "k/dek/", "a/e/"} {
			kvs, err := st.Scan(ctx, []byte(p), store.PrefixEnd([]byte(p)), 1)
			if err != nil {
				return 0, fmt.Errorf("tokens: reading the store: %w", err)
			}
			if len(kvs) > 0 {
				legacy = cur
				break
			}
		}
		var b store.Batch
		b.Insert([]byte(key), binary.BigEndian.AppendUint32(nil, legacy))
		err = st.Apply(ctx, &b)
		if err == nil {
			return legacy, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return 0, fmt.Errorf("tokens: writing the %s: %w", what, err)
		}
	}
	return 0, fmt.Errorf("tokens: the %s kept changing", what)
}

// currentRules reports whether tokens of key version v follow the current
// rules, having been written only by code that has them: their fpe tokens
// need a live entry (and, for e164 fields, use the valid-number scheme),
// and their every deterministic entry has an anchor.
func (s *Service) currentRules(v uint32) bool { return v > s.legacyFPE }

// Phone scheme of strict versions, for e164 fields: the "+", the country
// calling code and all but the last phoneDigits digits of the national
// number stay in clear; the last phoneDigits digits (all of them for a
// national number of 6 or 7 digits) are FF1-encrypted with the clear part
// in the tweak, and encryption is repeated (cycle walking) until the
// result is a valid number for its country by the same check the phone
// normaliser applies. FF1 is a permutation of the encrypted digits, so
// decryption walks back the same way and stops at the value.
const (
	phoneDigits  = 7
	phoneMaxWalk = 4096
	phoneTweak   = "tokens e164 v2 "
)

// phoneCrypt encrypts (or decrypts) the last digits of phone number s,
// cycle-walking until the result is a valid number in normal form. With
// normal, s is already the phone normaliser's output (valid and in normal
// form) and is not checked again.
func phoneCrypt(c *ff1.Cipher, s string, decrypt, normal bool) (string, error) {
	cc, err := format.SplitE164(s)
	if err != nil {
		return "", err
	}
	nsn := len(s) - 1 - cc
	n := min(nsn, phoneDigits)
	if n < 6 {
		return "", fmt.Errorf("the national number has %d digits, fpe needs at least 6: %w", nsn, ff1.ErrLength)
	}
	check := normalize.NewE164Check(s, cc)
	if !decrypt && !normal && !check.Valid(s) {
		return "", fmt.Errorf("%w: not a valid number for its country", format.ErrInvalid)
	}
	keep := s[:len(s)-n]
	tweak := []byte(phoneTweak + keep)
	x := make([]uint16, n)
	for i := range x {
		x[i] = uint16(s[len(keep)+i] - '0')
	}
	buf := []byte(s)
	for range phoneMaxWalk {
		if decrypt {
			x, err = c.DecryptTweak(x, tweak)
		} else {
			x, err = c.EncryptTweak(x, tweak)
		}
		if err != nil {
			return "", err
		}
		for i, d := range x {
			buf[len(keep)+i] = byte('0' + d)
		}
		if check.Valid(string(buf)) {
			return string(buf), nil
		}
	}
	return "", fmt.Errorf("%w: no valid number within %d steps", format.ErrInvalid, phoneMaxWalk)
}

// fpeEncrypt returns the fpe token of a normalised value under key version
// v.
func (s *Service) fpeEncrypt(c *ff1.Cipher, fi *fieldInfo, v uint32, norm string) (string, error) {
	if fi.phone && s.currentRules(v) {
		// The phone normaliser's output is valid and in normal form.
		return phoneCrypt(c, norm, false, fi.p.Normalizer == normalize.Phone)
	}
	return fi.fpe.Encrypt(c, nil, norm)
}

// fpeDecrypt returns the normalised value of an fpe token of key version v.
func (s *Service) fpeDecrypt(c *ff1.Cipher, fi *fieldInfo, v uint32, tok string) (string, error) {
	if fi.phone && s.currentRules(v) {
		return phoneCrypt(c, tok, true, false)
	}
	return fi.fpe.Decrypt(c, nil, tok)
}

// liveKeyOf returns the prefix of the live entries of fpe token tok.
func liveKeyOf(vk *verKeys, fi *fieldInfo, tok string) []byte {
	var mac [tokfmt.IDSize]byte
	vk.liveMAC(mac[:], fi.coll, fi.name, tok)
	return livePrefix(vk.version, mac[:])
}

// putLive adds to b the live entry of an fpe token (prefix from
// liveKeyOf): the region's when sk is nil, else the subject's, which holds
// the generation of the subject's key and is listed in the subject's index
// so that EraseSubject removes it.
func putLive(b *store.Batch, prefix, ref []byte, sk *keyring.SubjectKey) {
	if sk == nil {
		b.Put(prefix, []byte{})
		return
	}
	key := append(bytes.Clone(prefix), ref...)
	b.Put(key, binary.BigEndian.AppendUint32(nil, sk.Version))
	b.Put(append(subjectIndexPrefix(ref), key...), []byte{})
}

// pendingLive is an fpe result of a Detokenize batch whose live entry is
// still to be checked: item i, its key version and field, and the prefix
// of its live entries (liveKeyOf).
type pendingLive struct {
	i      int
	vk     *verKeys
	fi     *fieldInfo
	prefix []byte
}

// checkLiveMany runs checkLive for every pending result, replacing those
// that fail by their error. The region's entry sits at the prefix itself,
// so one multi-key read settles every token that has one; the others
// (subjects' entries, tokens of earlier versions, revoked tokens) take
// checkLive's scan, which gives the same answer for a token with a region
// entry: that entry sorts first and makes it live.
func (s *Service) checkLiveMany(ctx context.Context, out []DResult, pend []pendingLive) {
	if len(pend) == 0 {
		return
	}
	keys := make([][]byte, len(pend))
	for j := range pend {
		keys[j] = pend[j].prefix
	}
	vals, err := store.GetMany(ctx, s.st, keys)
	if err != nil {
		vals = nil // each token takes the scan, which reports the error
	}
	for j := range pend {
		if vals != nil && vals[j] != nil {
			continue
		}
		p := &pend[j]
		if e := s.checkLive(ctx, p.vk, p.prefix); e != nil {
			out[p.i] = DResult{Err: e}
		}
	}
}

// checkLive reports whether an fpe token (of key version vk) is live: it
// has the region's entry, or a subject's whose key still exists. A token
// with no entry at all is live only in a version that follows the rules of
// earlier versions; otherwise the error is CodeSubjectErased when every
// entry belonged to erased subjects, else CodeNotFound.
// prefix is the prefix of the token's live entries (liveKeyOf).
func (s *Service) checkLive(ctx context.Context, vk *verKeys, prefix []byte) *Error {
	end := store.PrefixEnd(prefix)
	start := prefix
	refLen := s.suite.MAC().Size()
	seen, erased := false, false
	for {
		kvs, err := s.st.Scan(ctx, start, end, detPage)
		if err != nil {
			return wrapf(CodeInternal, err, "reading the token's live entries")
		}
		for _, kv := range kvs {
			seen = true
			suffix := kv.Key[len(prefix):]
			if len(suffix) == 0 {
				return nil
			}
			if len(suffix) != refLen || len(kv.Value) != 4 {
				return errorf(CodeIntegrity, "a live token entry is malformed")
			}
			_, kerr := s.keys.SubjectKeyByRef(ctx, suffix, binary.BigEndian.Uint32(kv.Value), "")
			switch {
			case kerr == nil:
				return nil
			case errors.Is(kerr, keyring.ErrNoSubjectKey):
				erased = true
			default:
				return wrapf(CodeInternal, kerr, "subject key")
			}
		}
		if len(kvs) < detPage {
			break
		}
		start = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
	}
	switch {
	case erased:
		return errorf(CodeSubjectErased, "the token's subject was erased")
	case !seen && !s.currentRules(vk.version):
		return nil // issued by an earlier version, which kept no entry
	}
	return errorf(CodeNotFound, "no such token in region %s", s.region)
}

// EraseSubject adds to b the deletion of every live entry of the subject
// with keyed reference ref (keyring.SubjectRef), and of its index, so that
// none of its fpe tokens detokenizes once b is applied, on any node. The
// vault's erasure calls it with the batch that destroys the subject's key;
// random and deterministic entries of the subject need nothing more: they
// are sealed with that key.
func (s *Service) EraseSubject(ctx context.Context, b *store.Batch, ref []byte) error {
	prefix := subjectIndexPrefix(ref)
	kvs, err := s.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return wrapf(CodeInternal, err, "reading the subject's token entries")
	}
	for _, kv := range kvs {
		b.Delete(kv.Key[len(prefix):])
		b.Delete(kv.Key)
	}
	return nil
}
