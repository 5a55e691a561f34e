package tokens

import (
	"context"
	"io"
	"slices"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// RecordFields is a record being created, as TokenizeRecordFields needs it.
type RecordFields struct {
	Collection   string
	RecordID     string
	Jurisdiction string // upper case, already checked by the vault
	// SubjectRef is keyring.SubjectRef of the record's subject, and
	// SubjectKey the DEK the vault seals the record with (possibly
	// pending, created in the same batch).
	SubjectRef []byte
	SubjectKey *keyring.SubjectKey
	// Fields are the record's fields in clear; those without a token kind
	// are skipped.
	Fields map[string]string
	// Normalized optionally holds fields already normalised with the
	// field's normaliser (the vault's blind-index values), so they are not
	// normalised twice.
	Normalized map[string]string
	// Batch is what the calls for the records of one store batch share, so
	// that records of the batch holding the same deterministic value agree
	// on it; nil for a batch of one record.
	Batch *BatchState
}

// BatchState is what TokenizeRecordFields remembers across the records of
// one store batch. The zero value is ready; use a new one for every batch,
// including a batch rebuilt after store.ErrConflict.
type BatchState struct {
	det detBatch
}

// FieldToken is the token of one field of a record.
type FieldToken struct {
	Field      string
	Token      string
	Kind       string
	KeyVersion uint32 // as in Result
}

// TokenizeRecordFields returns the tokens of every field of r that has a
// token kind, sorted by field name, and adds their store writes to b, so
// that the tokens commit with the record or not at all. The vault's create
// calls it after sealing the record, with the same batch and subject key.
//
// Random and deterministic entries are sealed with the subject's DEK
// (r.SubjectKey) and name the subject ref, so erasing the subject
// (keyring.DestroySubjectKey) makes them undetokenizable; fpe tokens get a
// live entry listed in the subject's index, which the erasure deletes (see
// EraseSubject and the package documentation, "Erasure"). A deterministic
// entry keeps the value as first submitted (see Tokenize): reading which
// costs a store scan per deterministic field, and its batch fails with
// store.ErrConflict when a concurrent first submission won, to be rebuilt
// with a new BatchState.
//
// The error is nil or an *Error for the first failing field in name order,
// with Field set: CodeUnknownCollection, CodeUnknownField,
// CodeFieldTooLarge, CodeInvalidValue (the value does not fit the fpe
// format), CodeUnknownJurisdiction, CodeWrongRegion, or CodeInternal. On
// error b may hold some of the writes: the caller drops the batch, as it
// would for any failed create.
func (s *Service) TokenizeRecordFields(ctx context.Context, b *store.Batch, r RecordFields) ([]FieldToken, error) {
	fs, ok := s.fields[r.Collection]
	if !ok {
		return nil, errorf(CodeUnknownCollection, "collection %q is not in the policy", truncate(r.Collection, 64))
	}
	if r.SubjectKey == nil || len(r.SubjectRef) == 0 {
		return nil, errorf(CodeInternal, "record fields need a subject ref and key")
	}
	j, e := s.checkJurisdiction(r.Jurisdiction)
	if e != nil {
		return nil, e
	}
	names := make([]string, 0, len(r.Fields))
	for name := range r.Fields {
		fi, ok := fs[name]
		if !ok {
			return nil, &Error{Code: CodeUnknownField, Msg: "field " + truncate(name, 64) + " is not in collection " + r.Collection, Field: truncate(name, 64), Index: -1}
		}
		if fi.kind != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	memo := versionMemo{s: s}
	cur := s.keys.CurrentVersion(keyring.Token)
	vk, e := memo.get(cur)
	if e != nil {
		return nil, e
	}
	if r.Batch == nil {
		r.Batch = &BatchState{}
	}
	out := make([]FieldToken, 0, len(names))
	for _, name := range names {
		fi := fs[name]
		ft, e := s.recordField(ctx, &memo, b, &r, fi, j, vk)
		if e != nil {
			e.Field = name
			return nil, e
		}
		out = append(out, ft)
	}
	return out, nil
}

func (s *Service) recordField(ctx context.Context, memo *versionMemo, b *store.Batch, r *RecordFields, fi *fieldInfo, j string, vk *verKeys) (FieldToken, *Error) {
	value := r.Fields[fi.name]
	norm, ok := r.Normalized[fi.name]
	if !ok {
		var e *Error
		if norm, e = s.normalize(fi, value, j); e != nil {
			return FieldToken{}, e
		}
	}
	ft := FieldToken{Field: fi.name, Kind: fi.kind, KeyVersion: vk.version}
	entry := &tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: fi.coll, Field: fi.name, Jurisdiction: j,
		SubjectRef: r.SubjectRef, RecordID: r.RecordID}
	switch fi.kind {
	case KindFPE:
		c, e := s.fpeCipher(vk, fi)
		if e != nil {
			return FieldToken{}, e
		}
		tok, err := s.fpeEncrypt(c, fi, vk.version, norm)
		if err != nil {
			return FieldToken{}, wrapf(CodeInvalidValue, err, "field %s does not fit token format %s", fi.name, fi.p.TokenFormat)
		}
		ft.Token = tok
		putLive(b, liveKeyOf(vk, fi, tok), r.SubjectRef, r.SubjectKey)
	case KindDeterministic:
		var mac [tokfmt.IDSize]byte
		vk.mac(mac[:], fi.coll, fi.name, norm)
		ft.Token = tokfmt.Token{Kind: tokfmt.Deterministic, Region: s.region, Version: vk.version, ID: mac}.String()
		// One entry per subject and value: records of the same subject
		// holding the same value share it, and it keeps the value as
		// first submitted.
		if _, e := s.writeDet(ctx, memo, b, &r.Batch.det, vk, mac[:], ft.Token, entry, r.SubjectKey, value); e != nil {
			return FieldToken{}, e
		}
	case KindRandom:
		var id [tokfmt.IDSize]byte
		if _, err := io.ReadFull(s.rand, id[:]); err != nil {
			return FieldToken{}, wrapf(CodeInternal, err, "token id")
		}
		ft.Token = tokfmt.Token{Kind: tokfmt.Random, Region: s.region, ID: id}.String()
		ft.KeyVersion = 0
		raw, e := s.sealSubject(r.SubjectKey, ft.Token, entry, value)
		if e != nil {
			return FieldToken{}, e
		}
		b.Insert(randomKey(id[:]), raw)
	default:
		return FieldToken{}, errorf(CodeInternal, "field %s has unknown token kind %q", fi.name, fi.kind)
	}
	return ft, nil
}
