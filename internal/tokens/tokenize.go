package tokens

import (
	"context"
	"io"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// Item is one value to tokenize.
type Item struct {
	Collection string
	Field      string
	Value      string
	// Jurisdiction is the ISO 3166-1 alpha-2 code of the value's subject;
	// it must belong to this region. Normalisers use it (a phone written
	// without a country code) and random-token entries keep it for the
	// access decision at detokenize.
	Jurisdiction string
}

// Result is the outcome of one Item.
type Result struct {
	Token string
	// Kind is the field's token kind: "random", "deterministic" or "fpe".
	Kind string
	// KeyVersion is the token key version used. Keep it with fpe tokens:
	// their detokenize needs it once the key has been rotated. It is 0
	// for record-bound random tokens, which are sealed with the subject's
	// key instead.
	KeyVersion uint32
	// Err is nil or an *Error; its code says what was wrong with the item.
	Err error
}

// Tokenize returns a token for every item, in order, each with its own
// error. The same (collection, field, normalised value) gives the same
// deterministic token, and the same fpe token, for a given key version;
// random tokens are new each time. The store writes of the batch (random
// entries, first-seen deterministic entries) are one atomic Apply.
//
// Item errors are *Error values with codes CodeUnknownCollection,
// CodeUnknownField, CodeNotTokenized, CodeFieldTooLarge, CodeInvalidValue,
// CodeUnknownJurisdiction, CodeWrongRegion, CodeRetired (the current
// version cannot be retired, so only if the keyring changed underneath),
// or CodeInternal when the store or keyring failed (then the item may be
// retried). The returned error is non-nil only for the whole batch: an
// *Error with CodeTooMany when there are more than MaxBatch items, or
// ctx's error when it is already done; the results are then nil.
func (s *Service) Tokenize(ctx context.Context, items []Item) ([]Result, error) {
	if len(items) > MaxBatch {
		return nil, errorf(CodeTooMany, "at most %d items per request, got %d", MaxBatch, len(items))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Result, len(items))
	t := tokenizer{s: s, memo: versionMemo{s: s}, cur: s.keys.CurrentVersion(keyring.Token)}
	for i := range items {
		out[i] = t.one(&items[i], i)
	}
	t.lookUp(ctx, out)
	if t.b.Len() > 0 {
		if err := s.st.Apply(ctx, &t.b); err != nil {
			for _, i := range t.writers {
				out[i] = Result{Err: wrapf(CodeInternal, err, "storing the token")}
			}
			return out, nil
		}
		for _, k := range t.seen {
			s.seen.add(k)
		}
	}
	return out, nil
}

// tokenizer is the state of one Tokenize batch.
type tokenizer struct {
	s       *Service
	memo    versionMemo
	cur     uint32
	b       store.Batch
	writers []int    // items whose outcome depends on the Apply
	seen    [][]byte // deterministic keys written by this batch
	lookups []detLookup
	pending map[string]int // deterministic key -> index in lookups
	buf     [tokfmt.IDSize]byte
}

// detLookup is a deterministic entry not known to exist: lookUp reads it,
// with every other entry of the batch in one store.GetMany, and writes it if
// it is missing.
type detLookup struct {
	key   []byte
	items []int // the items with this token, in request order
	vk    *verKeys
	fi    *fieldInfo
	j     string // jurisdiction
	value string // as the first item submitted it: the entry keeps it
	token string
}

// lookUp reads the batch's deterministic entries not known to exist and
// adds the missing ones to the batch.
func (t *tokenizer) lookUp(ctx context.Context, out []Result) {
	if len(t.lookups) == 0 {
		return
	}
	keys := make([][]byte, len(t.lookups))
	for n := range t.lookups {
		keys[n] = t.lookups[n].key
	}
	vals, err := store.GetMany(ctx, t.s.st, keys)
	for n := range t.lookups {
		l := &t.lookups[n]
		switch {
		case err != nil:
			for _, i := range l.items {
				out[i] = Result{Err: wrapf(CodeInternal, err, "reading the token entry")}
			}
		case vals[n] != nil:
			t.s.seen.add(l.key)
		default:
			entry, e := t.s.sealRegion(l.vk, l.token, &tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: l.fi.coll, Field: l.fi.name, Jurisdiction: l.j}, l.value)
			if e != nil {
				for _, i := range l.items {
					out[i] = Result{Err: e}
				}
				continue
			}
			// Put, not Insert: a concurrent first tokenize of the same
			// value writes an equivalent entry, and either may win.
			t.b.Put(l.key, entry)
			t.seen = append(t.seen, l.key)
			t.writers = append(t.writers, l.items...)
		}
	}
}

func (t *tokenizer) one(it *Item, i int) Result {
	s := t.s
	fi, e := s.tokenField(it.Collection, it.Field)
	if e != nil {
		return Result{Err: e}
	}
	j, e := s.checkJurisdiction(it.Jurisdiction)
	if e != nil {
		return Result{Err: e}
	}
	norm, e := s.normalize(fi, it.Value, j)
	if e != nil {
		return Result{Err: e}
	}
	vk, e := t.memo.get(t.cur)
	if e != nil {
		return Result{Err: e}
	}
	r := Result{Kind: fi.kind, KeyVersion: t.cur}
	switch fi.kind {
	case KindFPE:
		c, e := s.fpeCipher(vk, fi)
		if e != nil {
			return Result{Err: e}
		}
		tok, err := fi.fpe.Encrypt(c, nil, norm)
		if err != nil {
			return Result{Err: wrapf(CodeInvalidValue, err, "field %s does not fit token format %s", fi.name, fi.p.TokenFormat)}
		}
		r.Token = tok
	case KindDeterministic:
		vk.mac(t.buf[:], fi.coll, fi.name, norm)
		tok := tokfmt.Token{Kind: tokfmt.Deterministic, Region: s.region, Version: t.cur, ID: t.buf}
		r.Token = tok.String()
		key := detPrefix(t.cur, t.buf[:])
		if s.seen.has(key) {
			break
		}
		if n, ok := t.pending[string(key)]; ok {
			t.lookups[n].items = append(t.lookups[n].items, i)
			break
		}
		if t.pending == nil {
			t.pending = map[string]int{}
		}
		t.pending[string(key)] = len(t.lookups)
		t.lookups = append(t.lookups, detLookup{key: key, items: []int{i}, vk: vk, fi: fi, j: j, value: it.Value, token: r.Token})
	case KindRandom:
		var id [tokfmt.IDSize]byte
		if _, err := io.ReadFull(s.rand, id[:]); err != nil {
			return Result{Err: wrapf(CodeInternal, err, "token id")}
		}
		r.Token = tokfmt.Token{Kind: tokfmt.Random, Region: s.region, ID: id}.String()
		entry, e := s.sealRegion(vk, r.Token, &tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: fi.coll, Field: fi.name, Jurisdiction: j}, it.Value)
		if e != nil {
			return Result{Err: e}
		}
		t.b.Insert(randomKey(id[:]), entry)
		t.writers = append(t.writers, i)
	default:
		return Result{Err: errorf(CodeInternal, "field %s has unknown token kind %q", fi.name, fi.kind)}
	}
	return r
}

// binding is the envelope binding of an entry of token tok: the region,
// collection and field, and as record the length-prefixed token,
// jurisdiction, record id and subject ref, so that neither the envelope nor
// the entry's clear metadata can be swapped or edited.
func (s *Service) binding(tok string, e *tokfmt.Entry) envelope.Binding {
	rec := make([]byte, 0, len(tok)+len(e.Jurisdiction)+len(e.RecordID)+len(e.SubjectRef)+8)
	rec = appendLP(rec, tok)
	rec = appendLP(rec, e.Jurisdiction)
	rec = appendLP(rec, e.RecordID)
	rec = appendLP(rec, string(e.SubjectRef))
	return envelope.Binding{Region: s.region, Collection: e.Collection, Record: string(rec), Field: e.Field}
}

// sealRegion seals value into e under the region token key vk and returns
// the encoded entry.
func (s *Service) sealRegion(vk *verKeys, tok string, e *tokfmt.Entry, value string) ([]byte, *Error) {
	env, err := envelope.Seal(vk.seal, s.rand, s.suite.ID(), vk.version, s.binding(tok, e), []byte(value))
	if err != nil {
		return nil, wrapf(CodeInternal, err, "sealing the token entry")
	}
	e.Envelope = env
	return tokfmt.MarshalEntry(e), nil
}

// sealSubject seals value into e under a subject's data key.
func (s *Service) sealSubject(sk *keyring.SubjectKey, tok string, e *tokfmt.Entry, value string) ([]byte, *Error) {
	env, err := envelope.Seal(sk.AEAD, s.rand, s.suite.ID(), sk.Version, s.binding(tok, e), []byte(value))
	if err != nil {
		return nil, wrapf(CodeInternal, err, "sealing the token entry")
	}
	e.Envelope = env
	return tokfmt.MarshalEntry(e), nil
}
