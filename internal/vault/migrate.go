package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/recordfmt"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
)

// MigrationPass returns the records' pass of a suite migration's job
// (keyring.MigrationPass): every record holding a ciphertext of another
// suite than the keyring's current one, or a blind-index entry of another
// index version than the current one, is sealed again under the current
// suite, with its subject's same key (keyring, dek.go), its index entries
// are derived again, and its deterministic tokens are made under the
// current token version (the earlier ones stay valid until their version
// is retired), in one batch conditioned on the record's stored bytes. A
// record updated, deleted or erased meanwhile is read again; what an
// erasure removed stays removed.
func (v *Vault) MigrationPass() keyring.MigrationPass {
	return keyring.MigrationPass{Name: "records", Step: v.resealPage}
}

func (v *Vault) resealPage(ctx context.Context, cursor []byte, limit int, commit func(b *store.Batch, next []byte, resealed int, end bool) error) error {
	kvs, next, last, err := store.ScanPage(ctx, v.st, cursor, recordKey(""), store.PrefixEnd(recordKey("")), limit)
	if err != nil {
		return fmt.Errorf("vault: migration: reading records: %w", err)
	}
	var b store.Batch
	var tb tokens.BatchState // the page's records share one batch
	var ids []string
	for _, kv := range kvs {
		id := string(kv.Key[len(recordKey("")):])
		ok, err := v.resealOps(ctx, &b, &tb, id, kv.Value)
		if err != nil {
			return err
		}
		if ok {
			ids = append(ids, id)
		}
	}
	err = commit(&b, next, len(ids), last)
	if !errors.Is(err, store.ErrConflict) || len(ids) == 0 {
		return err
	}
	// One of the records changed meanwhile (or the job did): move them
	// one by one, each read afresh, then record the page.
	for _, id := range ids {
		if err := v.resealOne(ctx, id); err != nil {
			return err
		}
	}
	var none store.Batch
	return commit(&none, next, len(ids), last)
}

// resealOne re-seals record id on its own, reading it again after a lost
// race; a record gone meanwhile needs nothing.
func (v *Vault) resealOne(ctx context.Context, id string) error {
	for range maxAttempts {
		raw, err := v.st.Get(ctx, recordKey(id))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("vault: migration: %w", err)
		}
		var b store.Batch
		ok, err := v.resealOps(ctx, &b, &tokens.BatchState{}, id, raw)
		if err != nil || !ok {
			return err
		}
		err = v.st.Apply(ctx, &b)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return &Error{Code: CodeConflict, Msg: fmt.Sprintf("record %s kept changing while it was sealed again; the job retries it", id), Index: -1, Err: store.ErrConflict}
}

// resealOps adds to b the re-sealing of record id, stored as raw, and
// reports whether the record needed it. A record whose subject was erased
// meanwhile is left to the erasure. tb is the batch's token state.
func (v *Vault) resealOps(ctx context.Context, b *store.Batch, tb *tokens.BatchState, id string, raw []byte) (bool, error) {
	rec, err := recordfmt.Parse(raw)
	if err != nil {
		return false, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("stored record %s is corrupt", id), Index: -1, Err: err}
	}
	c, err := v.collection(rec.Collection)
	if err != nil {
		return false, err
	}
	cur, ver := v.keys.Suite().ID(), v.keys.IndexVersions()[0]
	if !v.needsReseal(c, rec, cur, ver) {
		return false, nil
	}
	var k keyMemo
	subject, err := v.openSubject(ctx, id, rec, &k)
	if CodeOf(err) == CodeSubjectErased {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// LiveSubjectKey adds to b only when it succeeds; nothing below
	// returns without the record's writes once it did, except on an error
	// that drops the whole batch.
	sk, err := v.keys.LiveSubjectKey(ctx, subject, b)
	if errors.Is(err, keyring.ErrNoSubjectKey) {
		return false, nil
	}
	if err != nil {
		return false, v.keyError(err)
	}
	b.Expect(recordKey(id), raw)
	reseal := func(field string, env []byte) ([]byte, []byte, error) {
		pt, err := v.openEnvelope(ctx, rec, id, field, env, &k)
		if err != nil {
			return nil, nil, err
		}
		h, _, _ := envelope.Parse(env) // openEnvelope parsed it
		if h.Suite == cur {
			return env, pt, nil
		}
		if h.KeyVersion != sk.Version {
			clear(pt)
			return nil, nil, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("field %s of record %s is under subject key v%d, the live one is v%d", field, id, h.KeyVersion, sk.Version), Field: field, Index: -1}
		}
		out, err := envelope.Seal(sk.AEAD, v.rand, sk.Suite, sk.Version, envelope.Binding{Region: v.region.Name, Collection: rec.Collection, Record: id, Field: field}, pt)
		if err != nil {
			clear(pt)
			return nil, nil, fmt.Errorf("vault: seal: %w", err)
		}
		return out, pt, nil
	}
	env, pt, err := reseal(subjectField, rec.Subject)
	if err != nil {
		return false, err
	}
	clear(pt)
	rec.Subject = env
	indexed := map[string]string{}
	det := map[string]string{} // values of the fields with deterministic tokens
	defer clear(det)
	for i, f := range rec.Fields {
		env, pt, err := reseal(f.Name, f.Envelope)
		if err != nil {
			return false, err
		}
		rec.Fields[i].Envelope = env
		if fd := c.fields[f.Name]; fd != nil && fd.p.Token == policy.TokenDeterministic {
			det[f.Name] = string(pt)
		}
		if fd := c.fields[f.Name]; fd != nil && fd.p.Index {
			norm, err := fd.norm(string(pt), rec.Jurisdiction)
			if err != nil {
				clear(pt)
				return false, &Error{Code: CodeIntegrity, Msg: fmt.Sprintf("field %s of record %s no longer normalises; patch it", f.Name, id), Field: f.Name, Index: -1, Err: err}
			}
			indexed[f.Name] = norm
		}
		clear(pt)
	}
	fresh, err := v.indexKeys(rec.Collection, indexed, id)
	if err != nil {
		return false, err
	}
	for _, k := range rec.Index {
		if !slices.ContainsFunc(fresh, func(f []byte) bool { return bytes.Equal(f, k) }) {
			b.Delete(k)
		}
	}
	for _, k := range fresh {
		b.Put(k, nil)
	}
	rec.Index = fresh
	b.Put(recordKey(id), recordfmt.Marshal(rec))
	if v.tokens != nil && len(det) > 0 {
		if _, err := v.tokens.TokenizeRecordFields(ctx, b, tokens.RecordFields{Collection: rec.Collection, RecordID: id,
			Jurisdiction: rec.Jurisdiction, SubjectRef: rec.SubjectRef, SubjectKey: sk, Fields: det, Normalized: indexed, Batch: tb}); err != nil {
			return false, fmt.Errorf("vault: migration: deterministic tokens of record %s: %w", id, err)
		}
	}
	return true, nil
}

// needsReseal reports whether rec holds a ciphertext of another suite than
// cur or an index entry of another index version than ver.
func (v *Vault) needsReseal(c *collection, rec *recordfmt.Record, cur suite.ID, ver uint32) bool {
	if h, _, err := envelope.Parse(rec.Subject); err != nil || h.Suite != cur {
		return true
	}
	for _, f := range rec.Fields {
		if h, _, err := envelope.Parse(f.Envelope); err != nil || h.Suite != cur {
			return true
		}
	}
	for _, k := range rec.Index {
		for name := range c.fields {
			p := indexFieldPrefix(c.p.Name, name)
			if bytes.HasPrefix(k, p) && len(k) >= len(p)+4 && binary.BigEndian.Uint32(k[len(p):]) != ver {
				return true
			}
		}
	}
	return false
}
