package vault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Get returns the record id in clear.
func (v *Vault) Get(ctx context.Context, id string) (*Record, error) {
	if err := v.checkRecordID(id); err != nil {
		return nil, err
	}
	st, err := v.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.open(ctx, id, st)
}

// load reads and parses a stored record.
func (v *Vault) load(ctx context.Context, id string) (*recordfmt.Record, error) {
	st, _, err := v.loadRaw(ctx, id)
	return st, err
}

// loadRaw is load that also returns the stored bytes, for an Expect that
// the record is unchanged when it is written back.
func (v *Vault) loadRaw(ctx context.Context, id string) (*recordfmt.Record, []byte, error) {
	b, err := v.st.Get(ctx, recordKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errorf(CodeNotFound, "no record with that id in region %s", v.region.Name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("vault: read: %w", err)
	}
	st, err := recordfmt.Parse(b)
	if err != nil {
		return nil, nil, &Error{Code: CodeIntegrity, Msg: "stored record is corrupt", Index: -1, Err: err}
	}
	return st, b, nil
}

// open decrypts a stored record. Any ciphertext that does not open under
// its binding (moved, swapped or altered) fails the whole read.
func (v *Vault) open(ctx context.Context, id string, st *recordfmt.Record) (*Record, error) {
	r := &Record{ID: id, Collection: st.Collection, Jurisdiction: st.Jurisdiction, Region: v.region.Name,
		Created: time.Unix(0, st.Created).UTC(), Updated: time.Unix(0, st.Updated).UTC(),
		Fields: make(map[string]string, len(st.Fields))}
	subj, err := v.openEnvelope(ctx, st, id, subjectField, st.Subject)
	if err != nil {
		return nil, err
	}
	r.Subject = string(subj)
	for _, f := range st.Fields {
		pt, err := v.openEnvelope(ctx, st, id, f.Name, f.Envelope)
		if err != nil {
			return nil, err
		}
		r.Fields[f.Name] = string(pt)
	}
	return r, nil
}

func (v *Vault) openSubject(ctx context.Context, id string, st *recordfmt.Record) (string, error) {
	b, err := v.openEnvelope(ctx, st, id, subjectField, st.Subject)
	return string(b), err
}

func (v *Vault) openEnvelope(ctx context.Context, st *recordfmt.Record, id, field string, env []byte) ([]byte, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil {
		return nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("ciphertext of field %s is malformed", field), Field: field, Index: -1, Err: err}
	}
	if h.Suite != v.suite {
		return nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("ciphertext of field %s names suite %s, region uses %s", field, h.Suite, v.suite), Field: field, Index: -1}
	}
	aead, err := v.keys.SubjectKeyByRef(ctx, st.SubjectRef, h.KeyVersion)
	if errors.Is(err, keyring.ErrNoSubjectKey) {
		return nil, errorf(CodeSubjectErased, "the record's subject was erased; its data cannot be decrypted")
	}
	if err != nil {
		return nil, fmt.Errorf("vault: subject key: %w", err)
	}
	pt, err := envelope.Open(aead, h, ct, envelope.Binding{Region: v.region.Name, Collection: st.Collection, Record: id, Field: field})
	if err != nil {
		if errors.Is(err, suite.ErrOpen) {
			return nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("ciphertext of field %s failed authentication", field), Field: field, Index: -1}
		}
		return nil, fmt.Errorf("vault: open: %w", err)
	}
	return pt, nil
}

// Page is one page of records.
type Page struct {
	Records []*Record
	// Next is the cursor of the next page, "" on the last one.
	Next string
}

func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// ListBySubject returns the subject's records in id order, a page at a time.
// The cursor is the Next of the previous page ("" for the first).
func (v *Vault) ListBySubject(ctx context.Context, subject, cursor string, limit int) (*Page, error) {
	if err := checkSubject(subject); err != nil {
		return nil, err
	}
	if cursor != "" {
		if err := v.checkRecordID(cursor); err != nil {
			return nil, errorf(CodeInvalidCursor, "cursor is not valid for this listing")
		}
	}
	prefix := subjectPrefix(v.keys.SubjectRef(subject))
	ids, err := v.scanIDs(ctx, prefix, cursor, pageSize(limit)+1)
	if err != nil {
		return nil, err
	}
	return v.page(ctx, ids, pageSize(limit))
}

// scanIDs returns up to n record ids under prefix after cursor.
func (v *Vault) scanIDs(ctx context.Context, prefix []byte, cursor string, n int) ([]string, error) {
	start := prefix
	if cursor != "" {
		start = append(append(append([]byte(nil), prefix...), cursor...), 0)
	}
	kvs, err := v.st.Scan(ctx, start, store.PrefixEnd(prefix), n)
	if err != nil {
		return nil, fmt.Errorf("vault: scan: %w", err)
	}
	ids := make([]string, len(kvs))
	for i, kv := range kvs {
		ids[i] = idFromKey(kv.Key, prefix)
	}
	return ids, nil
}

// page loads ids (sorted, at most n+1) into a page of at most n.
func (v *Vault) page(ctx context.Context, ids []string, n int) (*Page, error) {
	p := &Page{}
	if len(ids) > n {
		ids = ids[:n]
		p.Next = ids[n-1]
	}
	for _, id := range ids {
		r, err := v.Get(ctx, id)
		if CodeOf(err) == CodeNotFound {
			continue // deleted between the scan and the read
		}
		if err != nil {
			return nil, err
		}
		p.Records = append(p.Records, r)
	}
	return p, nil
}

// Find returns the records of collection whose field equals value after
// normalisation, through the blind index. jurisdiction is the context for
// normalisation (for example the default country of a phone number written
// without a country code); "" uses the region's own when it has exactly one.
func (v *Vault) Find(ctx context.Context, collection, fieldName, value, jurisdiction, cursor string, limit int) (*Page, error) {
	c, err := v.collection(collection)
	if err != nil {
		return nil, err
	}
	f, ok := c.fields[fieldName]
	if !ok {
		return nil, &Error{Code: CodeUnknownField, Msg: fmt.Sprintf("field %q is not in collection %s", truncate(fieldName, 64), collection), Field: truncate(fieldName, 64), Index: -1}
	}
	if !f.p.Index {
		return nil, &Error{Code: CodeNotIndexed, Msg: fmt.Sprintf("field %s is not indexed for search; the policy must set index: true", fieldName), Field: fieldName, Index: -1}
	}
	if jurisdiction == "" && len(v.region.Jurisdictions) == 1 && len(v.region.Jurisdictions[0]) == 2 {
		jurisdiction = v.region.Jurisdictions[0]
	}
	norm, err := v.checkValue(f, value, upper(jurisdiction))
	if err != nil {
		return nil, err
	}
	if cursor != "" {
		if err := v.checkRecordID(cursor); err != nil {
			return nil, errorf(CodeInvalidCursor, "cursor is not valid for this search")
		}
	}
	n := pageSize(limit)
	seen := map[string]bool{}
	var ids []string
	for _, ver := range v.keys.IndexVersions() {
		mac, err := v.keys.BlindIndex(ver, collection, fieldName, norm)
		if err != nil {
			return nil, fmt.Errorf("vault: blind index: %w", err)
		}
		got, err := v.scanIDs(ctx, indexPrefix(collection, fieldName, ver, mac), cursor, n+1)
		if err != nil {
			return nil, err
		}
		for _, id := range got {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	if len(ids) > n+1 {
		ids = ids[:n+1]
	}
	return v.page(ctx, ids, n)
}

// Stats are a region's counts.
type Stats struct {
	Records map[string]int64 // per collection
}

// Stats returns the number of records per collection.
func (v *Vault) Stats(ctx context.Context) (*Stats, error) {
	s := &Stats{Records: map[string]int64{}}
	for name := range v.colls {
		n, err := v.st.Counter(ctx, countKey(name))
		if err != nil {
			return nil, fmt.Errorf("vault: stats: %w", err)
		}
		s.Records[name] = n
	}
	return s, nil
}

// Normalize returns value in the normal form of the field (the form its
// blind index and tokens use), for callers that key digests by value.
func (v *Vault) Normalize(collection, fieldName, value, jurisdiction string) (string, error) {
	c, err := v.collection(collection)
	if err != nil {
		return "", err
	}
	f, ok := c.fields[fieldName]
	if !ok {
		return "", &Error{Code: CodeUnknownField, Msg: fmt.Sprintf("field %q is not in collection %s", truncate(fieldName, 64), collection), Field: truncate(fieldName, 64), Index: -1}
	}
	return v.checkValue(f, value, upper(jurisdiction))
}

// Meta is what an access decision needs to know of a record, read without
// decrypting anything.
type Meta struct {
	Collection   string
	Jurisdiction string
}

// Meta returns the record's collection and jurisdiction.
func (v *Vault) Meta(ctx context.Context, id string) (Meta, error) {
	if err := v.checkRecordID(id); err != nil {
		return Meta{}, err
	}
	st, err := v.load(ctx, id)
	if err != nil {
		return Meta{}, err
	}
	return Meta{Collection: st.Collection, Jurisdiction: st.Jurisdiction}, nil
}
