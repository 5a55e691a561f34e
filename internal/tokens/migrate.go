package tokens

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// MigrationPass returns the token entries' pass of a suite migration's job
// (keyring.MigrationPass): every entry sealed under a subject's key in
// another suite than the keyring's current one is sealed again under the
// current suite, with the same key, conditioned on the entry's stored
// bytes. Entries sealed under a token key version stay as they are: a
// token is a promise to the systems that hold it, and its version opens it
// until the version is retired (docs/suite-migration.md).
func (s *Service) MigrationPass() keyring.MigrationPass {
	return keyring.MigrationPass{Name: "tokens", Step: s.resealPage}
}

// The pass scans from the first deterministic entry to the last random
// one; the keys in between (fpe live entries, subject indexes, the fpe
// mode) hold no sealed value and are skipped.
func (s *Service) resealPage(ctx context.Context, cursor []byte, limit int, commit func(b *store.Batch, next []byte, resealed int, end bool) error) error {
	kvs, next, last, err := store.ScanPage(ctx, s.st, cursor, []byte(prefixDet), store.PrefixEnd([]byte(prefixRandom)), limit)
	if err != nil {
		return wrapf(CodeInternal, err, "reading token entries")
	}
	cur := s.keys.Suite().ID()
	var b store.Batch
	n := 0
	for _, kv := range kvs {
		tok, ok := s.tokenOfKey(kv.Key)
		if !ok {
			continue
		}
		e, err := tokfmt.ParseEntry(kv.Value)
		if err != nil {
			return wrapf(CodeIntegrity, err, "a token entry is corrupt")
		}
		if e.Sealer != tokfmt.SealerSubject {
			continue
		}
		h, ct, err := envelope.Parse(e.Envelope)
		if err != nil {
			return wrapf(CodeIntegrity, err, "a token entry is corrupt")
		}
		if h.Suite == cur {
			continue
		}
		a, err := s.keys.SubjectKeyByRef(ctx, e.SubjectRef, h.KeyVersion, h.Suite)
		if errors.Is(err, keyring.ErrNoSubjectKey) {
			continue // erased: the entry opens no more, and needs nothing
		}
		if err != nil {
			return wrapf(CodeInternal, err, "subject key")
		}
		pt, err := envelope.Open(a, h, ct, s.binding(tok, e))
		if err != nil {
			return wrapf(CodeIntegrity, err, "a token entry failed to authenticate")
		}
		sk, err := s.keys.LiveSubjectKeyByRef(ctx, e.SubjectRef, &b)
		if err != nil || sk.Version != h.KeyVersion {
			clear(pt)
			if err == nil || errors.Is(err, keyring.ErrNoSubjectKey) {
				continue // erased meanwhile, or an entry of an erased generation
			}
			return wrapf(CodeInternal, err, "subject key")
		}
		raw, ee := s.sealSubject(sk, tok, e, string(pt))
		clear(pt)
		if ee != nil {
			return ee
		}
		b.Expect(kv.Key, kv.Value)
		b.Put(kv.Key, raw)
		n++
	}
	return commit(&b, next, n, last)
}

// tokenOfKey returns the token whose entry is stored at key: a random
// token's (x/r/<id>) or a subject's entry of a deterministic token
// (x/d/<version><id>/<subject ref>); false for any other key.
func (s *Service) tokenOfKey(key []byte) (string, bool) {
	t := tokfmt.Token{Region: s.region}
	switch {
	case bytes.HasPrefix(key, []byte(prefixRandom)) && len(key) == len(prefixRandom)+tokfmt.IDSize:
		t.Kind = tokfmt.Random
		copy(t.ID[:], key[len(prefixRandom):])
	case bytes.HasPrefix(key, []byte(prefixDet)) && len(key) > len(prefixDet)+4+tokfmt.IDSize+1 && key[len(prefixDet)+4+tokfmt.IDSize] == '/':
		rest := key[len(prefixDet):]
		t.Kind, t.Version = tokfmt.Deterministic, binary.BigEndian.Uint32(rest)
		copy(t.ID[:], rest[4:])
	default:
		return "", false
	}
	return t.String(), true
}
