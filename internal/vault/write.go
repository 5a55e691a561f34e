package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"sync"
	"unicode/utf8"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
)

// Created is the outcome of creating one record.
type Created struct {
	ID     string
	Region string
	// Replayed is true when an idempotency key matched an earlier
	// request and this is that request's outcome.
	Replayed bool
	// Tokens are the tokens of the record's fields that have a token kind;
	// a replay returns those of the first answer.
	Tokens []Token
}

// Token is the token of one field of a created record.
type Token struct {
	Field, Token, Kind string
	KeyVersion         uint32
}

// tokenError turns a token service error into a vault error of record i.
func tokenError(err error, i int) error {
	var te *tokens.Error
	if errors.As(err, &te) {
		return &Error{Code: Code(te.Code), Msg: te.Msg, Field: te.Field, Index: i, Err: err}
	}
	return fmt.Errorf("vault: tokens: %w", err)
}

// CreateOptions qualify a Create.
type CreateOptions struct {
	// IdempotencyKey, when set, makes a retried Create with the same key
	// and the same records return the first outcome instead of creating
	// again; the same key with other records fails with
	// CodeIdempotencyReused.
	IdempotencyKey string
	// Scope separates idempotency keys of different callers.
	Scope string
	// Actor is who the records are created for, for the audit log.
	Actor Actor
}

// Create stores recs atomically: all of them or none. Every record must
// belong to this region. The result lists the new ids in order.
func (v *Vault) Create(ctx context.Context, recs []NewRecord, o CreateOptions) ([]Created, error) {
	if len(recs) == 0 {
		return nil, errorf(CodeTooMany, "no records to create")
	}
	if len(recs) > MaxBatch {
		return nil, errorf(CodeTooMany, "at most %d records per request, got %d", MaxBatch, len(recs))
	}
	prepared := make([]prepared, len(recs))
	for i := range recs {
		if err := v.prepare(&recs[i], &prepared[i]); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Index = i
			}
			return nil, err
		}
	}
	var fp []byte
	if o.IdempotencyKey != "" {
		// The fingerprint covers personal values, so it is stored only as a
		// keyed MAC under its own derived key.
		var err error
		if fp, err = v.idemMAC(fingerprint(recs)); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		out, err := v.create(ctx, prepared, o, fp)
		if errors.Is(err, errRetry) && attempt < maxAttempts-1 {
			continue
		}
		return out, err
	}
}

// prepared is a validated record with its normalised index values.
type prepared struct {
	rec     *NewRecord
	coll    *collection
	indexed map[string]string // field -> normalised value
}

func (v *Vault) prepare(r *NewRecord, p *prepared) error {
	c, err := v.collection(r.Collection)
	if err != nil {
		return err
	}
	j, err := v.checkJurisdiction(r.Jurisdiction)
	if err != nil {
		return err
	}
	r.Jurisdiction = j
	if err := checkSubject(r.Subject); err != nil {
		return err
	}
	p.rec, p.coll = r, c
	for name, val := range r.Fields {
		f, ok := c.fields[name]
		if !ok {
			return &Error{Code: CodeUnknownField, Msg: fmt.Sprintf("field %q is not in collection %s", truncate(name, 64), c.p.Name), Field: truncate(name, 64), Index: -1}
		}
		norm, err := v.checkValue(f, val, j)
		if err != nil {
			return err
		}
		if f.p.Index {
			if p.indexed == nil {
				p.indexed = map[string]string{}
			}
			p.indexed[name] = norm
		}
	}
	for name, f := range c.fields {
		if _, ok := r.Fields[name]; f.p.Required && !ok {
			return &Error{Code: CodeMissingField, Msg: fmt.Sprintf("field %s is required", name), Field: name, Index: -1}
		}
	}
	return nil
}

// checkValue validates one value and returns its normal form. Messages
// never contain the value.
func (v *Vault) checkValue(f *field, val, jurisdiction string) (string, error) {
	if len(val) > f.p.MaxLength {
		return "", &Error{Code: CodeFieldTooLarge, Msg: fmt.Sprintf("field %s is %d bytes, at most %d allowed", f.p.Name, len(val), f.p.MaxLength), Field: f.p.Name, Index: -1}
	}
	if !utf8.ValidString(val) {
		return "", &Error{Code: CodeInvalidValue, Msg: fmt.Sprintf("field %s is not valid UTF-8", f.p.Name), Field: f.p.Name, Index: -1}
	}
	norm, err := f.norm(val, jurisdiction)
	if err != nil {
		return "", &Error{Code: CodeInvalidValue, Msg: fmt.Sprintf("field %s is not a valid %s", f.p.Name, f.p.Type), Field: f.p.Name, Index: -1, Err: err}
	}
	return norm, nil
}

func (v *Vault) create(ctx context.Context, recs []prepared, o CreateOptions, fp []byte) ([]Created, error) {
	var b store.Batch
	// A record of three fields, its new subject's key, its tokens and
	// the audit entry make about 17 writes: room for them up front.
	n := 4
	for i := range recs {
		n += 4 + 4*len(recs[i].rec.Fields)
	}
	b.Grow(n)
	var ik []byte
	if o.IdempotencyKey != "" {
		ik = idemKey(idemHash(o.Scope, o.IdempotencyKey))
	}
	now := v.now().UnixNano()
	keys := map[string]*keyring.SubjectKey{}
	var tb tokens.BatchState // the records' tokens share one batch
	out := make([]Created, len(recs))
	idem := make([]idemRecord, len(recs))
	for i := range recs {
		p := &recs[i]
		sk, ok := keys[p.rec.Subject]
		if !ok {
			var err error
			sk, err = v.keys.SubjectKey(ctx, p.rec.Subject, &b)
			if err != nil {
				return nil, v.keyError(err)
			}
			keys[p.rec.Subject] = sk
		}
		id, err := newRecordID(v.rand, v.region.Name)
		if err != nil {
			return nil, fmt.Errorf("vault: record id: %w", err)
		}
		stored, err := v.seal(p, sk, id, now)
		if err != nil {
			return nil, err
		}
		b.Insert(recordKey(id), recordfmt.Marshal(stored))
		b.Put(subjectKey(stored.SubjectRef, id), nil)
		for _, k := range stored.Index {
			b.Put(k, nil)
		}
		b.Add(countKey(p.coll.p.Name), 1)
		out[i] = Created{ID: id, Region: v.region.Name}
		idem[i] = idemRecord{ref: stored.SubjectRef, sk: sk}
		if v.tokens != nil {
			fts, err := v.tokens.TokenizeRecordFields(ctx, &b, tokens.RecordFields{Collection: p.coll.p.Name, RecordID: id,
				Jurisdiction: p.rec.Jurisdiction, SubjectRef: stored.SubjectRef, SubjectKey: sk, Fields: p.rec.Fields, Normalized: p.indexed, Batch: &tb})
			if err != nil {
				return nil, tokenError(err, i)
			}
			for _, ft := range fts {
				out[i].Tokens = append(out[i].Tokens, Token{Field: ft.Field, Token: ft.Token, Kind: ft.Kind, KeyVersion: ft.KeyVersion})
			}
		}
	}
	if ik != nil {
		rec, err := v.encodeIdem(fp, ik, out, idem)
		if err != nil {
			return nil, err
		}
		b.Insert(ik, rec)
	}
	entries := make([]entry.Entry, len(recs))
	for i := range recs {
		entries[i] = o.Actor.entry(entry.Create, recs[i].coll.p.Name, []string{out[i].ID}, sortedNames(recs[i].rec.Fields), v.keys.SubjectRef(recs[i].rec.Subject))
	}
	if err := v.apply(ctx, o.Actor, &b, entries...); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// A concurrent create made a subject's key first, or a key
			// was destroyed (perhaps by another node while this one had
			// it cached): forget the keys so the retry reads the store.
			for _, sk := range keys {
				v.keys.Forget(sk)
			}
			if ik != nil {
				if prev, perr := v.replay(ctx, ik, fp); perr == nil || !errors.Is(perr, errRetry) {
					return prev, perr
				}
			}
			return nil, errRetry
		}
		return nil, fmt.Errorf("vault: create: %w", err)
	}
	for _, sk := range keys {
		v.keys.Commit(sk)
	}
	return out, nil
}

// seal encrypts one prepared record.
func (v *Vault) seal(p *prepared, sk *keyring.SubjectKey, id string, now int64) (*recordfmt.Record, error) {
	coll := p.coll.p.Name
	ref := v.keys.SubjectRef(p.rec.Subject)
	subj, err := envelope.Seal(sk.AEAD, v.rand, sk.Suite, sk.Version, envelope.Binding{Region: v.region.Name, Collection: coll, Record: id, Field: subjectField}, []byte(p.rec.Subject))
	if err != nil {
		return nil, fmt.Errorf("vault: seal: %w", err)
	}
	st := &recordfmt.Record{Collection: coll, Jurisdiction: p.rec.Jurisdiction, SubjectRef: ref, Subject: subj,
		Created: now, Updated: now, Fields: make([]recordfmt.Field, 0, len(p.rec.Fields))}
	for name, val := range p.rec.Fields {
		env, err := envelope.Seal(sk.AEAD, v.rand, sk.Suite, sk.Version, envelope.Binding{Region: v.region.Name, Collection: coll, Record: id, Field: name}, []byte(val))
		if err != nil {
			return nil, fmt.Errorf("vault: seal: %w", err)
		}
		st.Fields = append(st.Fields, recordfmt.Field{Name: name, Envelope: env})
	}
	st.SortFields()
	idx, err := v.indexKeys(coll, p.indexed, id)
	if err != nil {
		return nil, err
	}
	st.Index = idx
	return st, nil
}

// subjectField is the binding field name of the subject id's envelope; the
// policy forbids field names starting with "_".
const subjectField = "_subject"

// indexKeys returns the blind-index keys of a record's indexed values under
// the current index key version.
func (v *Vault) indexKeys(coll string, indexed map[string]string, id string) ([][]byte, error) {
	if len(indexed) == 0 {
		return nil, nil
	}
	ver := v.keys.IndexVersions()[0]
	out := make([][]byte, 0, len(indexed))
	for name, norm := range indexed {
		mac, err := v.keys.BlindIndex(ver, coll, name, norm)
		if err != nil {
			return nil, fmt.Errorf("vault: blind index: %w", err)
		}
		out = append(out, append(indexPrefix(coll, name, ver, mac), id...))
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out, nil
}

func (v *Vault) keyError(err error) error {
	return fmt.Errorf("vault: subject key: %w", err)
}

// maxAttempts bounds how often Patch and Delete re-read a record that
// changed between their read and their write (another node wrote it), and
// how often Create retries after a conflict on a subject key.
const maxAttempts = 8

// Patch sets and removes fields of a record. Fields absent from set and
// remove keep their values.
//
// Patch is a compare-and-set of the stored record: its batch expects the
// record to hold the bytes it read, and is retried from the read if another
// writer (in this process or another node sharing the store) changed or
// deleted the record meanwhile, so no concurrent update is lost and a
// deleted record is never written back. After maxAttempts lost races it
// fails with an error wrapping store.ErrConflict.
func (v *Vault) Patch(ctx context.Context, id string, set map[string]string, remove []string, who Actor) (*Sealed, error) {
	if err := v.checkRecordID(id); err != nil {
		return nil, err
	}
	// The in-process lock only saves this node's writers of one record
	// from conflicting with each other; the Expect is what is correct.
	mu := v.lock(id)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 1; ; attempt++ {
		r, err := v.patch(ctx, id, set, remove, who)
		if !errors.Is(err, errRetry) {
			return r, err
		}
		if attempt == maxAttempts {
			return nil, &Error{Code: CodeConflict, Msg: "the record kept changing while it was patched; retry", Index: -1, Err: store.ErrConflict}
		}
	}
}

// patch is one attempt of Patch; it returns errRetry when its batch lost a
// race.
func (v *Vault) patch(ctx context.Context, id string, set map[string]string, remove []string, who Actor) (*Sealed, error) {
	st, raw, err := v.loadRaw(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := v.collection(st.Collection)
	if err != nil {
		return nil, err
	}
	subject, err := v.openSubject(ctx, id, st, nil)
	if err != nil {
		return nil, err
	}
	var b store.Batch
	b.Expect(recordKey(id), raw)
	sk, err := v.keys.LiveSubjectKey(ctx, subject, &b)
	if errors.Is(err, keyring.ErrNoSubjectKey) {
		return nil, errorf(CodeSubjectErased, "the record's subject was erased")
	}
	if err != nil {
		return nil, v.keyError(err)
	}
	changed := map[string]bool{}
	fields := map[string][]byte{}
	for _, f := range st.Fields {
		fields[f.Name] = f.Envelope
	}
	indexed := map[string]string{}
	for name, val := range set {
		f, ok := c.fields[name]
		if !ok {
			return nil, &Error{Code: CodeUnknownField, Msg: fmt.Sprintf("field %q is not in collection %s", truncate(name, 64), c.p.Name), Field: truncate(name, 64), Index: -1}
		}
		norm, err := v.checkValue(f, val, st.Jurisdiction)
		if err != nil {
			return nil, err
		}
		if f.p.Index {
			indexed[name] = norm
		}
		env, err := envelope.Seal(sk.AEAD, v.rand, sk.Suite, sk.Version, envelope.Binding{Region: v.region.Name, Collection: c.p.Name, Record: id, Field: name}, []byte(val))
		if err != nil {
			return nil, fmt.Errorf("vault: seal: %w", err)
		}
		fields[name] = env
		changed[name] = true
	}
	for _, name := range remove {
		f, ok := c.fields[name]
		if !ok {
			return nil, &Error{Code: CodeUnknownField, Msg: fmt.Sprintf("field %q is not in collection %s", truncate(name, 64), c.p.Name), Field: truncate(name, 64), Index: -1}
		}
		if f.p.Required {
			return nil, &Error{Code: CodeMissingField, Msg: fmt.Sprintf("field %s is required", name), Field: name, Index: -1}
		}
		if _, ok := set[name]; ok {
			return nil, &Error{Code: CodeInvalidValue, Msg: fmt.Sprintf("field %s is both set and removed", name), Field: name, Index: -1}
		}
		delete(fields, name)
		changed[name] = true
	}
	// Keep index keys of unchanged fields; replace those of changed ones.
	var keep [][]byte
	for _, k := range st.Index {
		drop := false
		for name := range changed {
			if bytes.HasPrefix(k, indexFieldPrefix(c.p.Name, name)) {
				drop = true
				break
			}
		}
		if drop {
			b.Delete(k)
		} else {
			keep = append(keep, k)
		}
	}
	fresh, err := v.indexKeys(c.p.Name, indexed, id)
	if err != nil {
		return nil, err
	}
	for _, k := range fresh {
		b.Put(k, nil)
	}
	st.Index = append(keep, fresh...)
	sort.Slice(st.Index, func(i, j int) bool { return bytes.Compare(st.Index[i], st.Index[j]) < 0 })
	st.Fields = st.Fields[:0]
	for name, env := range fields {
		st.Fields = append(st.Fields, recordfmt.Field{Name: name, Envelope: env})
	}
	st.SortFields()
	st.Updated = v.now().UnixNano()
	b.Put(recordKey(id), recordfmt.Marshal(st))
	changedNames := make([]string, 0, len(changed))
	for name := range changed {
		changedNames = append(changedNames, name)
	}
	sort.Strings(changedNames)
	if err := v.apply(ctx, who, &b, who.entry(entry.Patch, c.p.Name, []string{id}, changedNames, st.SubjectRef)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			v.keys.Forget(sk) // the key may have been destroyed
			return nil, errRetry
		}
		return nil, fmt.Errorf("vault: patch: %w", err)
	}
	return v.sealed(id, st), nil
}

// Delete removes a record and its index entries. Like Patch it expects the
// record to hold what it read and re-reads it after losing a race, so the
// index entries it deletes are those of the version it deletes; a record
// deleted meanwhile gives CodeNotFound.
func (v *Vault) Delete(ctx context.Context, id string, who Actor) error {
	if err := v.checkRecordID(id); err != nil {
		return err
	}
	mu := v.lock(id)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 1; ; attempt++ {
		st, raw, err := v.loadRaw(ctx, id)
		if err != nil {
			return err
		}
		var b store.Batch
		b.Expect(recordKey(id), raw)
		v.deleteOps(&b, id, st)
		err = v.apply(ctx, who, &b, who.entry(entry.Delete, st.Collection, []string{id}, nil, st.SubjectRef))
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, store.ErrConflict):
			return fmt.Errorf("vault: delete: %w", err)
		case attempt == maxAttempts:
			return &Error{Code: CodeConflict, Msg: "the record kept changing while it was deleted; retry", Index: -1, Err: err}
		}
	}
}

func (v *Vault) deleteOps(b *store.Batch, id string, st *recordfmt.Record) {
	b.Delete(recordKey(id))
	b.Delete(subjectKey(st.SubjectRef, id))
	for _, k := range st.Index {
		b.Delete(k)
	}
	b.Add(countKey(st.Collection), -1)
}

// EraseSubject destroys the subject's data key (crypto-shredding: every
// copy of its ciphertexts, backups included, becomes unreadable: the
// tokens of its records kept in idempotency entries too, sealed under that
// key, so those entries replay its records' ids without tokens) and deletes
// its records and the live entries of its fpe tokens (tokens.EraseSubject),
// in one batch, so that no token of the subject detokenizes after. It returns the number of records deleted. Erasing an
// unknown subject deletes nothing and is not an error.
func (v *Vault) EraseSubject(ctx context.Context, subject string, who Actor) (int, error) {
	if err := checkSubject(subject); err != nil {
		return 0, err
	}
	ref := v.keys.SubjectRef(subject)
	var b store.Batch
	erased, err := v.eraseOps(ctx, ref, &b)
	if err != nil {
		return 0, err
	}
	done, err := v.keys.DestroySubjectKey(ctx, subject, &b)
	if err != nil {
		return 0, fmt.Errorf("vault: erase: %w", err)
	}
	err = v.apply(ctx, who, &b, who.entry(entry.Erase, "", erased, nil, ref))
	done()
	if err != nil {
		return 0, fmt.Errorf("vault: erase: %w", err)
	}
	return len(erased), nil
}

// eraseOps adds to b the deletion of every record of the subject ref and,
// in the same batch, of the live entries of its fpe tokens (so that no
// token of the subject detokenizes after), and returns the records' ids.
func (v *Vault) eraseOps(ctx context.Context, ref []byte, b *store.Batch) ([]string, error) {
	prefix := subjectPrefix(ref)
	kvs, err := v.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return nil, fmt.Errorf("vault: erase: %w", err)
	}
	var ids []string
	for _, kv := range kvs {
		id := idFromKey(kv.Key, prefix)
		st, err := v.load(ctx, id)
		if CodeOf(err) == CodeNotFound {
			b.Delete(kv.Key)
			continue
		}
		if err != nil {
			return nil, err
		}
		v.deleteOps(b, id, st)
		ids = append(ids, id)
	}
	if v.tokens != nil {
		if err := v.tokens.EraseSubject(ctx, b, ref); err != nil {
			return nil, fmt.Errorf("vault: erase: %w", err)
		}
	}
	return ids, nil
}

var lockSeed = maphash.MakeSeed()

func (v *Vault) lock(id string) *sync.Mutex {
	return &v.locks[maphash.String(lockSeed, id)%uint64(len(v.locks))]
}

// fingerprint identifies the content of a create request for idempotency.
func fingerprint(recs []NewRecord) []byte {
	h := sha256.New()
	for _, r := range recs {
		writeStr(h, r.Collection)
		writeStr(h, r.Subject)
		writeStr(h, r.Jurisdiction)
		names := make([]string, 0, len(r.Fields))
		for n := range r.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			writeStr(h, n)
			writeStr(h, r.Fields[n])
		}
		writeStr(h, "")
	}
	return h.Sum(nil)
}
