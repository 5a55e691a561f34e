package vault

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Get returns the record id in clear, every field decrypted. Callers that
// decide what to reveal first use Load and then Open.
func (v *Vault) Get(ctx context.Context, id string) (*Record, error) {
	s, err := v.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.Open(ctx, s, nil)
}

// Sealed is a stored record as read, nothing decrypted: what an access
// decision and an audit entry need to know of it.
type Sealed struct {
	ID           string
	Collection   string
	Jurisdiction string
	Region       string
	// SubjectRef is the region's keyed reference of the record's subject
	// (the audit log's subject MAC), never the subject id.
	SubjectRef []byte
	// Fields are the names of the fields the record holds, sorted.
	Fields           []string
	Created, Updated time.Time
	st               *recordfmt.Record
}

// Load reads record id without decrypting anything.
func (v *Vault) Load(ctx context.Context, id string) (*Sealed, error) {
	if err := v.checkRecordID(id); err != nil {
		return nil, err
	}
	st, err := v.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.sealed(id, st), nil
}

func (v *Vault) sealed(id string, st *recordfmt.Record) *Sealed {
	s := &Sealed{ID: id, Collection: st.Collection, Jurisdiction: st.Jurisdiction, Region: v.region.Name,
		SubjectRef: st.SubjectRef, Fields: make([]string, len(st.Fields)),
		Created: time.Unix(0, st.Created).UTC(), Updated: time.Unix(0, st.Updated).UTC(), st: st}
	for i, f := range st.Fields {
		s.Fields[i] = f.Name
	}
	return s
}

// Open decrypts the subject of s and those of its fields that want
// accepts (every field when want is nil); the others are neither
// decrypted nor returned. Any ciphertext that does not open under its
// binding (moved, swapped or altered) fails the whole read.
func (v *Vault) Open(ctx context.Context, s *Sealed, want func(field string) bool) (*Record, error) {
	st := s.st
	r := &Record{ID: s.ID, Collection: s.Collection, Jurisdiction: s.Jurisdiction, Region: s.Region,
		Created: s.Created, Updated: s.Updated, Fields: make(map[string]string, len(st.Fields))}
	var k keyMemo
	subj, err := v.openEnvelope(ctx, st, s.ID, subjectField, st.Subject, &k)
	if err != nil {
		return nil, err
	}
	r.Subject = string(subj)
	for _, f := range st.Fields {
		if want != nil && !want(f.Name) {
			continue
		}
		pt, err := v.openEnvelope(ctx, st, s.ID, f.Name, f.Envelope, &k)
		if err != nil {
			return nil, err
		}
		r.Fields[f.Name] = string(pt)
	}
	return r, nil
}

// Decrypted returns how many ciphertexts (field values and subject ids)
// this vault has decrypted since it was made: what a read revealed to the
// process, for metrics and for tests that a denied read decrypts nothing.
func (v *Vault) Decrypted() uint64 { return v.decrypted.Load() }

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

func (v *Vault) openSubject(ctx context.Context, id string, st *recordfmt.Record, k *keyMemo) (string, error) {
	b, err := v.openEnvelope(ctx, st, id, subjectField, st.Subject, k)
	return string(b), err
}

// keyMemo is the subject key of one record's last opened ciphertext, for
// the next of the same record: its ciphertexts are nearly always under one
// key version and suite, and the keyring's cache makes a cipher for each
// hit (it keeps secrets, not ciphers). It lives for one read of a record.
type keyMemo struct {
	version uint32
	suite   suite.ID
	aead    cipher.AEAD
}

// subjectKey returns the key of st's subject for ciphertexts of h, from k
// when k holds it; k may be nil.
func (v *Vault) subjectKey(ctx context.Context, st *recordfmt.Record, h envelope.Header, k *keyMemo) (cipher.AEAD, error) {
	if k != nil && k.aead != nil && k.version == h.KeyVersion && k.suite == h.Suite {
		return k.aead, nil
	}
	aead, err := v.keys.SubjectKeyByRef(ctx, st.SubjectRef, h.KeyVersion, h.Suite)
	if err == nil && k != nil {
		*k = keyMemo{version: h.KeyVersion, suite: h.Suite, aead: aead}
	}
	return aead, err
}

func (v *Vault) openEnvelope(ctx context.Context, st *recordfmt.Record, id, field string, env []byte, k *keyMemo) ([]byte, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil {
		return nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("ciphertext of field %s is malformed", field), Field: field, Index: -1, Err: err}
	}
	// A field is sealed with its subject's DEK in the suite the region
	// had when it was written (the header names it; a region that
	// migrated suite holds data of both). A header naming another suite
	// than the one sealed with fails to authenticate below.
	if _, err := suite.ByID(h.Suite); err != nil {
		return nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("ciphertext of field %s names suite %s, unknown to this region", field, truncate(string(h.Suite), 16)), Field: field, Index: -1}
	}
	aead, err := v.subjectKey(ctx, st, h, k)
	if errors.Is(err, keyring.ErrNoSubjectKey) {
		return nil, errorf(CodeSubjectErased, "the record's subject was erased; its data cannot be decrypted")
	}
	if err != nil {
		return nil, fmt.Errorf("vault: subject key: %w", err)
	}
	v.decrypted.Add(1)
	pt, err := envelope.Open(aead, h, ct, envelope.Binding{Region: v.region.Name, Collection: st.Collection, Record: id, Field: field})
	if err != nil {
		if errors.Is(err, suite.ErrOpen) {
			return nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("ciphertext of field %s failed authentication", field), Field: field, Index: -1}
		}
		return nil, fmt.Errorf("vault: open: %w", err)
	}
	return pt, nil
}

// Page is one page of records, read but not decrypted: the caller opens
// what its access decision reveals (Open).
type Page struct {
	Records []*Sealed
	// Next is the cursor of the next page, "" on the last one.
	Next string
}

// pageSize is the page size for a caller's limit, by the one rule of
// package paging: 0 is the default, negative an invalid_request error,
// too large is clamped.
func pageSize(limit int) (int, error) { return paging.Size(limit) }

// ListBySubject returns the subject's records in id order, a page at a time.
// The cursor is the Next of the previous page ("" for the first).
func (v *Vault) ListBySubject(ctx context.Context, subject, cursor string, limit int) (*Page, error) {
	n, err := pageSize(limit)
	if err != nil {
		return nil, err
	}
	if err := checkSubject(subject); err != nil {
		return nil, err
	}
	if cursor != "" {
		if err := v.checkRecordID(cursor); err != nil {
			return nil, errorf(CodeInvalidCursor, "cursor is not valid for this listing")
		}
	}
	prefix := subjectPrefix(v.keys.SubjectRef(subject))
	ids, err := v.scanIDs(ctx, prefix, cursor, n+1)
	if err != nil {
		return nil, err
	}
	return v.page(ctx, ids, n)
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
		r, err := v.Load(ctx, id)
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
	n, err := pageSize(limit)
	if err != nil {
		return nil, err
	}
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
