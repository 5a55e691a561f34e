package tokens

import (
	"bytes"
	"context"
	"errors"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// DItem is one token to turn back into its value.
type DItem struct {
	Token string
	// Collection and Field say where the token belongs. They are required
	// for fpe tokens, which do not name them. For random and deterministic
	// tokens they are optional; when given, a token of another collection
	// or field fails with CodeFieldMismatch.
	Collection string
	Field      string
	// KeyVersion is the token key version of an fpe token (0: the current
	// version). Random and deterministic tokens carry theirs; it is
	// ignored for them.
	KeyVersion uint32
}

// DResult is the outcome of one DItem. The caller (the API) runs the
// access decision on Collection, Field and Jurisdiction and masks Value
// before showing anything.
type DResult struct {
	// Value is the value: as first submitted for random and
	// deterministic tokens, normalised for fpe tokens.
	Value      string
	Kind       string
	Collection string
	Field      string
	// Jurisdiction is the subject's jurisdiction as recorded with a
	// random or deterministic token; "" for fpe tokens.
	Jurisdiction string
	// RecordID is the record a record-bound token came from ("" for
	// stand-alone and fpe tokens).
	RecordID string
	// KeyVersion is the token key version that opened the token (0 for
	// subject-sealed entries of random tokens).
	KeyVersion uint32
	// Err is nil or an *Error.
	Err error
}

// Detokenize returns the value of every item's token, in order, each with
// its own error. It reads the store but never writes.
//
// Item errors are *Error values with codes CodeMalformedToken (not a token
// of any format, or an fpe token that does not fit its field's format),
// CodeNeedField (an fpe token without collection and field),
// CodeUnknownCollection, CodeUnknownField, CodeNotTokenized,
// CodeFieldMismatch, CodeWrongRegion (a token naming another region),
// CodeNotFound (no entry in this region), CodeUnknownVersion, CodeRetired,
// CodeSubjectErased, CodeIntegrity (a stored entry failed to authenticate)
// or CodeInternal. The returned error is non-nil only for the whole batch:
// CodeTooMany, or ctx's error when it is already done.
//
// An fpe token is honoured only while a live entry for it exists (see the
// package documentation, "Erasure"), so a wrong key version, collection or
// field gives CodeNotFound; in the key versions that keep the rules of
// earlier versions it is not detected: FF1 then returns another
// well-formed value. Callers must pass what Tokenize returned.
func (s *Service) Detokenize(ctx context.Context, items []DItem) ([]DResult, error) {
	if len(items) > MaxBatch {
		return nil, errorf(CodeTooMany, "at most %d items per request, got %d", MaxBatch, len(items))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]DResult, len(items))
	memo := versionMemo{s: s}
	var pend []pendingLive
	for i := range items {
		out[i] = s.detokenizeOne(ctx, &memo, &items[i], &pend, i)
	}
	s.checkLiveMany(ctx, out, pend)
	return out, nil
}

func (s *Service) detokenizeOne(ctx context.Context, memo *versionMemo, it *DItem, pend *[]pendingLive, i int) DResult {
	if !tokfmt.IsToken(it.Token) {
		return s.detokenizeFPE(memo, it, pend, i)
	}
	t, err := tokfmt.Parse(it.Token)
	if err != nil {
		return DResult{Err: wrapf(CodeMalformedToken, err, "the token is malformed")}
	}
	if t.Region != s.region {
		return DResult{Err: errorf(CodeWrongRegion, "the token belongs to region %s, not %s", t.Region, s.region)}
	}
	var want *fieldInfo
	if it.Collection != "" || it.Field != "" {
		fi, e := s.tokenField(it.Collection, it.Field)
		if e != nil {
			return DResult{Err: e}
		}
		want = fi
	}
	var r DResult
	switch t.Kind {
	case tokfmt.Random:
		r = s.detokenizeRandom(ctx, memo, it.Token, &t)
	case tokfmt.Deterministic:
		r = s.detokenizeDet(ctx, memo, it.Token, &t)
	}
	if r.Err == nil && want != nil && (r.Collection != want.coll || r.Field != want.name) {
		return DResult{Err: errorf(CodeFieldMismatch, "the token does not belong to field %s of collection %s", want.name, want.coll)}
	}
	return r
}

func (s *Service) detokenizeRandom(ctx context.Context, memo *versionMemo, tok string, t *tokfmt.Token) DResult {
	raw, err := s.st.Get(ctx, randomKey(t.ID[:]))
	if errors.Is(err, store.ErrNotFound) {
		return DResult{Err: errorf(CodeNotFound, "no such token in region %s", s.region)}
	}
	if err != nil {
		return DResult{Err: wrapf(CodeInternal, err, "reading the token entry")}
	}
	e, err := tokfmt.ParseEntry(raw)
	if err != nil {
		return DResult{Err: wrapf(CodeIntegrity, err, "the token entry is corrupt")}
	}
	r := s.open(ctx, memo, tok, e)
	r.Kind = KindRandom
	return r
}

// detPage is the number of entries of one deterministic token read at a
// time.
const detPage = 16

func (s *Service) detokenizeDet(ctx context.Context, memo *versionMemo, tok string, t *tokfmt.Token) DResult {
	if _, e := memo.get(t.Version); e != nil {
		return DResult{Err: e}
	}
	prefix := detPrefix(t.Version, t.ID[:])
	var last *Error
	// Most tokens have a region entry: a point read costs less than a
	// scan, so it comes first. New tokens of versions that fold it hold it
	// in their anchor; otherwise it is at the prefix itself, where the
	// scan below starts, so a token of such a version whose anchor holds
	// none is not read twice.
	inAnchor := s.foldsAnchor(t.Version)
	key := prefix
	if inAnchor {
		key = detAnchor(t.Version, t.ID[:])
	}
	if raw, err := s.st.Get(ctx, key); err == nil {
		entry := raw
		if inAnchor {
			_, entry, _ = splitAnchor(raw)
		}
		if entry != nil {
			r := s.openDet(ctx, memo, tok, prefix, store.KV{Key: prefix, Value: entry})
			if r.Err == nil {
				r.Kind = KindDeterministic
				return r
			}
			if inAnchor { // the scan below does not see it again
				last = r.Err.(*Error)
			}
		}
	}
	end := store.PrefixEnd(prefix)
	start := prefix
	for {
		kvs, err := s.st.Scan(ctx, start, end, detPage)
		if err != nil {
			return DResult{Err: wrapf(CodeInternal, err, "reading the token entries")}
		}
		for _, kv := range kvs {
			r := s.openDet(ctx, memo, tok, prefix, kv)
			if r.Err == nil {
				r.Kind = KindDeterministic
				return r
			}
			// An integrity failure outranks an erased subject.
			if e := r.Err.(*Error); last == nil || e.Code == CodeIntegrity || last.Code != CodeIntegrity {
				last = e
			}
		}
		if len(kvs) < detPage {
			break
		}
		start = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
	}
	if last == nil {
		return DResult{Err: errorf(CodeNotFound, "no such token in region %s", s.region)}
	}
	return DResult{Err: last}
}

// openDet opens one entry of a deterministic token, checking that its key
// matches its sealer: the region entry sits at the prefix itself, a
// subject's at prefix || subject ref.
func (s *Service) openDet(ctx context.Context, memo *versionMemo, tok string, prefix []byte, kv store.KV) DResult {
	e, err := tokfmt.ParseEntry(kv.Value)
	if err != nil {
		return DResult{Err: wrapf(CodeIntegrity, err, "a token entry is corrupt")}
	}
	suffix := kv.Key[len(prefix):]
	if (e.Sealer == tokfmt.SealerRegion) != (len(suffix) == 0) || (e.Sealer == tokfmt.SealerSubject && !bytes.Equal(suffix, e.SubjectRef)) {
		return DResult{Err: errorf(CodeIntegrity, "a token entry is filed under the wrong key")}
	}
	return s.open(ctx, memo, tok, e)
}

// open authenticates and decrypts an entry of token tok.
func (s *Service) open(ctx context.Context, memo *versionMemo, tok string, e *tokfmt.Entry) DResult {
	h, ct, err := envelope.Parse(e.Envelope)
	if err != nil {
		return DResult{Err: wrapf(CodeIntegrity, err, "the token entry is corrupt")}
	}
	// An entry is sealed in the suite of its token version, or of the
	// region when its subject's DEK sealed it (a region that migrated
	// suite holds entries of both). A header naming another suite than
	// the one sealed with fails to authenticate below.
	if _, err := suite.ByID(h.Suite); err != nil {
		return DResult{Err: errorf(CodeIntegrity, "the token entry is sealed under suite %s, unknown to this region", truncate(string(h.Suite), 16))}
	}
	r := DResult{Collection: e.Collection, Field: e.Field, Jurisdiction: e.Jurisdiction, RecordID: e.RecordID}
	var pt []byte
	switch e.Sealer {
	case tokfmt.SealerRegion:
		vk, ee := memo.get(h.KeyVersion)
		if ee != nil {
			return DResult{Err: ee}
		}
		pt, err = envelope.Open(vk.seal, h, ct, s.binding(tok, e))
		r.KeyVersion = h.KeyVersion
	case tokfmt.SealerSubject:
		a, kerr := s.keys.SubjectKeyByRef(ctx, e.SubjectRef, h.KeyVersion, h.Suite)
		if errors.Is(kerr, keyring.ErrNoSubjectKey) {
			return DResult{Err: wrapf(CodeSubjectErased, kerr, "the token's subject was erased")}
		}
		if kerr != nil {
			return DResult{Err: wrapf(CodeInternal, kerr, "subject key")}
		}
		pt, err = envelope.Open(a, h, ct, s.binding(tok, e))
	}
	if err != nil {
		return DResult{Err: wrapf(CodeIntegrity, err, "the token entry failed to authenticate")}
	}
	r.Value = string(pt)
	return r
}

// detokenizeFPE decrypts an fpe token. The live entry is checked after
// the whole batch is decrypted (checkLiveMany), so that the region entries
// of every token are read at once: a successful result is appended to pend
// and holds its value only once the check passes.
func (s *Service) detokenizeFPE(memo *versionMemo, it *DItem, pend *[]pendingLive, i int) DResult {
	if it.Collection == "" || it.Field == "" {
		return DResult{Err: errorf(CodeNeedField, "not a random or deterministic token; an fpe token needs its collection and field")}
	}
	fi, e := s.tokenField(it.Collection, it.Field)
	if e != nil {
		return DResult{Err: e}
	}
	if fi.kind != KindFPE {
		return DResult{Err: errorf(CodeMalformedToken, "field %s of collection %s has %s tokens and this is not one", fi.name, fi.coll, fi.kind)}
	}
	if len(it.Token) > fi.p.MaxLength {
		return DResult{Err: errorf(CodeMalformedToken, "the token is longer than field %s allows", fi.name)}
	}
	v := it.KeyVersion
	if v == 0 {
		v = s.keys.CurrentVersion(keyring.Token)
	}
	vk, e := memo.get(v)
	if e != nil {
		return DResult{Err: e}
	}
	c, e := s.fpeCipher(vk, fi)
	if e != nil {
		return DResult{Err: e}
	}
	val, err := s.fpeDecrypt(c, fi, v, it.Token)
	if err != nil {
		return DResult{Err: wrapf(CodeMalformedToken, err, "the token does not fit token format %s of field %s", fi.p.TokenFormat, fi.name)}
	}
	*pend = append(*pend, pendingLive{i: i, vk: vk, fi: fi, prefix: liveKeyOf(vk, fi, it.Token)})
	return DResult{Value: val, Kind: KindFPE, Collection: fi.coll, Field: fi.name, KeyVersion: v}
}
