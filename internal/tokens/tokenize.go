package tokens

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"

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
	// Subject optionally names the subject the value belongs to (1 to
	// MaxSubjectLen bytes): the token is then bound to the subject and
	// stops detokenizing when the subject is erased, like the tokens of
	// its records. Without a subject the token lives until its key version
	// is retired.
	Subject string
}

// MaxSubjectLen is the longest subject id, as the vault's.
const MaxSubjectLen = 256

// Result is the outcome of one Item.
type Result struct {
	Token string
	// Kind is the field's token kind: "random", "deterministic" or "fpe".
	Kind string
	// KeyVersion is the token key version used. Keep it with fpe tokens:
	// their detokenize needs it once the key has been rotated. It is 0
	// for subject-bound random tokens, which are sealed with the subject's
	// key instead.
	KeyVersion uint32
	// Err is nil or an *Error; its code says what was wrong with the item.
	Err error
}

// tokenizeAttempts bounds how often Tokenize rebuilds a batch that lost a
// race (a concurrent first submission of a deterministic value, or an
// erasure or key creation of a named subject).
const tokenizeAttempts = 8

// Tokenize returns a token for every item, in order, each with its own
// error. The same (collection, field, normalised value) gives the same
// deterministic token, and the same fpe token, for a given key version;
// random tokens are new each time. A deterministic token detokenizes to
// the value as first submitted, whichever path submitted it (a record or
// this call) and whatever is submitted later. The store writes of the
// batch (random entries, deterministic entries, live entries of fpe
// tokens, a named subject's new key) are one atomic Apply, but for the
// region entries of deterministic tokens that only subjects' entries held
// so far: the first Apply finds those (its claims of their anchors lose)
// and a second writes them, after reading the value first submitted.
//
// Item errors are *Error values with codes CodeUnknownCollection,
// CodeUnknownField, CodeNotTokenized, CodeFieldTooLarge, CodeInvalidValue,
// CodeUnknownJurisdiction, CodeWrongRegion, CodeInvalidSubject,
// CodeRetired (the current version cannot be retired, so only if the
// keyring changed underneath), CodeConflict (the batch kept losing
// races) or CodeInternal when the store or keyring failed (then the item
// may be retried). The returned error is non-nil only for the whole batch:
// an *Error with CodeTooMany when there are more than MaxBatch items, or
// ctx's error when it is already done; the results are then nil.
func (s *Service) Tokenize(ctx context.Context, items []Item) ([]Result, error) {
	if len(items) > MaxBatch {
		return nil, errorf(CodeTooMany, "at most %d items per request, got %d", MaxBatch, len(items))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.tokenizeAll(ctx, items, true), nil
}

// tokenizeAll is Tokenize after its checks: attempts of tokenize until one
// does not lose a race, then, with claims, the items whose claims found a
// token stored without its region entry, again without claims.
func (s *Service) tokenizeAll(ctx context.Context, items []Item, claims bool) []Result {
	for attempt := 1; ; attempt++ {
		out, conflict, again := s.tokenize(ctx, items, claims)
		if len(again) > 0 {
			sub := make([]Item, len(again))
			for n, i := range again {
				sub[n] = items[i]
			}
			for n, r := range s.tokenizeAll(ctx, sub, false) {
				out[again[n]] = r
			}
		}
		if !conflict {
			return out
		}
		if attempt == tokenizeAttempts {
			for i := range out {
				if out[i].Err == nil {
					out[i] = Result{Err: errorf(CodeConflict, "the token entries kept changing; retry")}
				}
			}
			return out
		}
	}
}

// tokenize is one attempt of Tokenize; conflict says its batch lost a race
// and nothing was written. With claims, the region entries of new
// deterministic tokens are claimed (see lookUp); again lists the items
// whose claims found the token stored without a region entry, to be
// tokenized once more without claims: their results here are placeholders.
func (s *Service) tokenize(ctx context.Context, items []Item, claims bool) (out []Result, conflict bool, again []int) {
	out = make([]Result, len(items))
	t := tokenizer{s: s, memo: versionMemo{s: s}, cur: s.keys.CurrentVersion(keyring.Token), claims: claims, items: len(items)}
	for i := range items {
		out[i] = t.one(ctx, &items[i], i)
	}
	t.lookUp(ctx, out)
	if t.b.Len() > 0 {
		if err := s.st.Apply(ctx, &t.b); err != nil {
			for _, sk := range t.subjects {
				s.keys.Forget(sk)
			}
			if errors.Is(err, store.ErrConflict) {
				return out, true, nil
			}
			for _, i := range t.writers {
				out[i] = Result{Err: wrapf(CodeInternal, err, "storing the token")}
			}
			return out, false, nil
		}
		for _, sk := range t.subjects {
			s.keys.Commit(sk)
		}
		s.seen.addAll(t.seen)
	}
	return out, false, t.settle(ctx, out)
}

// tokenizer is the state of one Tokenize batch.
type tokenizer struct {
	s        *Service
	memo     versionMemo
	cur      uint32
	claims   bool // claim the entries of new tokens (see lookUp)
	items    int  // in the batch: lookups and pending are sized once
	b        store.Batch
	det      detBatch
	writers  []int    // items whose outcome depends on the Apply
	seen     [][]byte // region entries written or found by this batch
	lookups  []detLookup
	pending  map[string]int // deterministic key -> index in lookups
	subjects map[string]*keyring.SubjectKey
	buf      [tokfmt.IDSize]byte
}

// subjectKey returns the key of a named subject, created in the batch if
// the subject has none.
func (t *tokenizer) subjectKey(ctx context.Context, subject string) (*keyring.SubjectKey, *Error) {
	if sk, ok := t.subjects[subject]; ok {
		return sk, nil
	}
	sk, err := t.s.keys.SubjectKey(ctx, subject, &t.b)
	if err != nil {
		return nil, wrapf(CodeInternal, err, "subject key")
	}
	if t.subjects == nil {
		t.subjects = map[string]*keyring.SubjectKey{}
	}
	t.subjects[subject] = sk
	return sk, nil
}

// detLookup is a stand-alone deterministic entry (no subject) not known to
// exist: lookUp reads it, with every other entry of the batch in one
// store.GetMany, and writes it if it is missing.
type detLookup struct {
	claim *store.Claim // the claim of its anchor, if lookUp made one
	key   []byte
	mac   [tokfmt.IDSize]byte
	items []int // the items with this token, in request order
	vk    *verKeys
	fi    *fieldInfo
	j     string // jurisdiction
	value string // as the first item submitted it
	token string
}

// lookUp adds to the batch the region entries of deterministic tokens not
// known to exist, when they are missing.
//
// With claims, unless probe finds stored tokens, every such token of a key
// version under the current rules (whose every entry has an anchor) that
// the batch does not otherwise write is a store Claim of its anchor, with
// its sealed entry as the claim's pair, and is not read before the Apply:
// a new token costs one read of its anchor, in the Apply, which writes
// both or reports the anchor held. settle then finds the entries of the
// tokens whose claims lost. The others, and every token without claims,
// are read first (readEntries) and written by writeDet.
func (t *tokenizer) lookUp(ctx context.Context, out []Result) {
	if len(t.lookups) == 0 {
		return
	}
	if t.claims && t.probe(ctx) {
		t.claimNew(out)
	}
	vals, err := t.readEntries(ctx)
	for n := range t.lookups {
		l := &t.lookups[n]
		switch {
		case l.claim != nil:
		case err != nil:
			for _, i := range l.items {
				out[i] = Result{Err: wrapf(CodeInternal, err, "reading the token entry")}
			}
		case vals[n] != nil:
			t.s.seen.add(l.key)
		default:
			e := &tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: l.fi.coll, Field: l.fi.name, Jurisdiction: l.j}
			wrote, ee := t.s.writeDet(ctx, &t.memo, &t.b, &t.det, l.vk, l.mac[:], l.token, e, nil, l.value)
			if ee != nil {
				for _, i := range l.items {
					out[i] = Result{Err: ee}
				}
				continue
			}
			t.seen = append(t.seen, l.key)
			if wrote {
				t.writers = append(t.writers, l.items...)
			}
		}
	}
}

// readEntries reads the region entry of every lookup (nil: absent). For
// key versions that anchor every entry it reads the anchors first, in one
// store.GetMany, and the entries only of tokens whose anchor exists and
// holds no region entry (then its value stands for the entry): a token
// without an anchor has no entry at all, and writeDet, told so through
// t.det.unanchored, writes its first without scanning for one.
//
// Lookups with a claim are neither read nor told apart (nil).
func (t *tokenizer) readEntries(ctx context.Context) ([][]byte, error) {
	keys := make([][]byte, len(t.lookups))
	var read [][]byte // keys without the claimed
	for n := range t.lookups {
		l := &t.lookups[n]
		if l.claim != nil {
			continue
		}
		keys[n] = l.key
		if t.s.currentRules(l.vk.version) {
			keys[n] = detAnchor(l.vk.version, l.mac[:])
		}
		read = append(read, keys[n])
	}
	vals := make([][]byte, len(t.lookups))
	if len(read) == 0 {
		return vals, nil
	}
	got, err := store.GetMany(ctx, t.s.st, read)
	if err != nil {
		return nil, err
	}
	j := 0
	for n := range t.lookups {
		if t.lookups[n].claim == nil {
			vals[n], j = got[j], j+1
		}
	}
	var again []int // lookups whose anchor exists and holds no entry
	for n := range t.lookups {
		l := &t.lookups[n]
		switch {
		case l.claim != nil:
		case !t.s.currentRules(l.vk.version):
		case folded(vals[n]):
			// The region entry is in the anchor: the token is stored.
		case vals[n] == nil:
			if t.det.unanchored == nil {
				t.det.unanchored = map[string]bool{}
			}
			t.det.unanchored[string(keys[n])] = true
		default:
			again = append(again, n)
			vals[n] = nil
		}
	}
	if len(again) == 0 {
		return vals, nil
	}
	keys = keys[:0]
	for _, n := range again {
		keys = append(keys, t.lookups[n].key)
	}
	entries, err := store.GetMany(ctx, t.s.st, keys)
	if err != nil {
		return nil, err
	}
	for j, n := range again {
		vals[n] = entries[j]
	}
	return vals, nil
}

// probeSize is how many anchors probe reads.
const probeSize = 4

// probe decides whether lookUp claims: a claim that finds its token stored
// costs more than reading first (the entry sealed in vain, the key locked),
// about what reading first costs a new token (a second read of its anchor).
// So a batch of more than 2*probeSize lookups reads probeSize anchors
// first, and claims only if none exists: a batch of mostly stored values (a
// restart, more values than the seen set holds) does not seal them in
// vain. A read that fails makes the batch read first, where it fails
// properly.
//
// The probe's reads cost a batch of new values about what a lost claim
// costs a stored one (each opens the store's levels afresh: 3% of a
// token's CPU), so once a probe finds no stored token, later batches claim
// without probing, until a batch's claims mostly lose (settle): a stream
// of new values pays no probe, and a stream of stored ones seals in vain
// once.
func (t *tokenizer) probe(ctx context.Context) bool {
	if len(t.lookups) <= 2*probeSize || t.s.claimFirst.Load() {
		return true
	}
	keys := make([][]byte, 0, probeSize)
	for n := 0; n < len(t.lookups) && len(keys) < probeSize; n++ {
		if l := &t.lookups[n]; t.s.currentRules(l.vk.version) {
			keys = append(keys, detAnchor(l.vk.version, l.mac[:]))
		}
	}
	vals, err := store.GetMany(ctx, t.s.st, keys)
	if err != nil {
		return false
	}
	for _, v := range vals {
		if v != nil {
			return false
		}
	}
	t.s.claimFirst.Store(true)
	return true
}

// claimNew makes the claims of lookUp: for every lookup of a current-rules
// version whose anchor no other write of the batch touches, the anchor at
// generation 1 with the sealed region entry folded into it (foldsAnchor)
// or as its pair. An entry that does not seal fails its items and is not
// claimed.
func (t *tokenizer) claimNew(out []Result) {
	t.b.Grow(len(t.lookups)) // a claim is one operation, its entry included
	for n := range t.lookups {
		l := &t.lookups[n]
		if !t.s.currentRules(l.vk.version) {
			continue
		}
		anchor := detAnchor(l.vk.version, l.mac[:])
		if t.det.plans[string(anchor)] != nil {
			continue // a subject's entry of the batch writes the anchor
		}
		e := &tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: l.fi.coll, Field: l.fi.name, Jurisdiction: l.j}
		raw, ee := t.s.sealRegion(l.vk, l.token, e, l.value)
		if ee != nil {
			for _, i := range l.items {
				out[i] = Result{Err: ee}
			}
			l.claim = &store.Claim{Value: []byte{}} // settled: neither read nor written
			l.items = nil
			continue
		}
		if t.s.foldsAnchor(l.vk.version) {
			l.claim = t.b.Claim(anchor, foldedAnchor(raw))
		} else {
			l.claim = t.b.Claim(anchor, binary.BigEndian.AppendUint32(nil, 1), store.KV{Key: l.key, Value: raw})
		}
		t.writers = append(t.writers, l.items...)
	}
}

// settle, after the batch's Apply, sees to the lookups whose claims lost
// (the anchor existed): their tokens are known when the region entry
// exists, in the anchor the claim reported or apart, which one
// store.GetMany reads; the items of the others are returned, to be
// tokenized again without claims. A failed read fails the items that
// needed it.
func (t *tokenizer) settle(ctx context.Context, out []Result) (again []int) {
	var lost []int // lost claims whose region entry is read here
	var keys [][]byte
	claims, losses := 0, 0
	for n := range t.lookups {
		l := &t.lookups[n]
		switch {
		case l.claim == nil:
		case l.claim.Won:
			claims++
			t.s.seen.add(l.key)
		case len(l.items) == 0:
		case folded(l.claim.Value):
			// The claim reported the region entry, in the anchor.
			claims, losses = claims+1, losses+1
			t.s.seen.add(l.key)
		default:
			claims, losses = claims+1, losses+1
			lost = append(lost, n)
			keys = append(keys, l.key)
		}
	}
	if 4*losses > claims {
		t.s.claimFirst.Store(false) // mostly stored values: probe again
	}
	if len(lost) == 0 {
		return nil
	}
	vals, err := store.GetMany(ctx, t.s.st, keys)
	for j, n := range lost {
		l := &t.lookups[n]
		switch {
		case err != nil:
			for _, i := range l.items {
				out[i] = Result{Err: wrapf(CodeInternal, err, "reading the token entry")}
			}
		case vals[j] != nil:
			t.s.seen.add(l.key)
		default:
			again = append(again, l.items...)
		}
	}
	slices.Sort(again)
	return again
}

func (t *tokenizer) one(ctx context.Context, it *Item, i int) Result {
	s := t.s
	fi, e := s.tokenField(it.Collection, it.Field)
	if e != nil {
		return Result{Err: e}
	}
	j, e := s.checkJurisdiction(it.Jurisdiction)
	if e != nil {
		return Result{Err: e}
	}
	if len(it.Subject) > MaxSubjectLen {
		return Result{Err: errorf(CodeInvalidSubject, "subject id must be 1 to %d bytes", MaxSubjectLen)}
	}
	norm, e := s.normalize(fi, it.Value, j)
	if e != nil {
		return Result{Err: e}
	}
	vk, e := t.memo.get(t.cur)
	if e != nil {
		return Result{Err: e}
	}
	var ref []byte
	if it.Subject != "" {
		ref = s.keys.SubjectRef(it.Subject)
	}
	r := Result{Kind: fi.kind, KeyVersion: t.cur}
	switch fi.kind {
	case KindFPE:
		c, e := s.fpeCipher(vk, fi)
		if e != nil {
			return Result{Err: e}
		}
		tok, err := s.fpeEncrypt(c, fi, t.cur, norm)
		if err != nil {
			return Result{Err: wrapf(CodeInvalidValue, err, "field %s does not fit token format %s", fi.name, fi.p.TokenFormat)}
		}
		r.Token = tok
		prefix := liveKeyOf(vk, fi, tok)
		if ref == nil {
			if !s.seen.has(prefix) {
				putLive(&t.b, prefix, nil, nil)
				t.seen = append(t.seen, prefix)
				t.writers = append(t.writers, i)
			}
			break
		}
		sk, e := t.subjectKey(ctx, it.Subject)
		if e != nil {
			return Result{Err: e}
		}
		putLive(&t.b, prefix, ref, sk)
		t.writers = append(t.writers, i)
	case KindDeterministic:
		vk.mac(t.buf[:], fi.coll, fi.name, norm)
		tok := tokfmt.Token{Kind: tokfmt.Deterministic, Region: s.region, Version: t.cur, ID: t.buf}
		r.Token = tok.String()
		if ref != nil {
			sk, e := t.subjectKey(ctx, it.Subject)
			if e != nil {
				return Result{Err: e}
			}
			entry := &tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: fi.coll, Field: fi.name, Jurisdiction: j, SubjectRef: ref}
			if _, e := s.writeDet(ctx, &t.memo, &t.b, &t.det, vk, t.buf[:], r.Token, entry, sk, it.Value); e != nil {
				return Result{Err: e}
			}
			t.writers = append(t.writers, i)
			break
		}
		key := detPrefix(t.cur, t.buf[:])
		if s.seen.has(key) {
			break
		}
		if n, ok := t.pending[string(key)]; ok {
			t.lookups[n].items = append(t.lookups[n].items, i)
			break
		}
		if t.pending == nil {
			// The first lookup: room for one for each item left, so
			// that a batch of new values does not regrow them, and a
			// batch of values already seen allocates neither.
			t.pending = make(map[string]int, t.items-i)
			t.lookups = make([]detLookup, 0, t.items-i)
		}
		t.pending[string(key)] = len(t.lookups)
		t.lookups = append(t.lookups, detLookup{key: key, mac: t.buf, items: []int{i}, vk: vk, fi: fi, j: j, value: it.Value, token: r.Token})
	case KindRandom:
		var id [tokfmt.IDSize]byte
		if _, err := io.ReadFull(s.rand, id[:]); err != nil {
			return Result{Err: wrapf(CodeInternal, err, "token id")}
		}
		r.Token = tokfmt.Token{Kind: tokfmt.Random, Region: s.region, ID: id}.String()
		var entry []byte
		if ref != nil {
			sk, e := t.subjectKey(ctx, it.Subject)
			if e != nil {
				return Result{Err: e}
			}
			r.KeyVersion = 0
			entry, e = s.sealSubject(sk, r.Token, &tokfmt.Entry{Sealer: tokfmt.SealerSubject, Collection: fi.coll, Field: fi.name, Jurisdiction: j, SubjectRef: ref}, it.Value)
			if e != nil {
				return Result{Err: e}
			}
		} else {
			entry, e = s.sealRegion(vk, r.Token, &tokfmt.Entry{Sealer: tokfmt.SealerRegion, Collection: fi.coll, Field: fi.name, Jurisdiction: j}, it.Value)
			if e != nil {
				return Result{Err: e}
			}
		}
		t.b.Insert(randomKey(id[:]), entry)
		t.writers = append(t.writers, i)
	default:
		return Result{Err: errorf(CodeInternal, "field %s has unknown token kind %q", fi.name, fi.kind)}
	}
	return r
}

// detBatch is what one store batch wrote for deterministic tokens, so that
// several records or items of the batch holding the same value agree.
type detBatch struct {
	plans map[string]*detPlan // anchor key -> plan
	// unanchored holds anchor keys read and found absent by this batch
	// (lookUp reads them with the region entries).
	unanchored map[string]bool
}

// detPlan is one deterministic token of a batch: the value its region
// entry keeps, the values its subjects' entries keep (by entry key), and
// the entry keys the batch wrote.
type detPlan struct {
	value string
	own   map[string]string
	wrote map[string]bool
	// fresh: the token had no anchor, so no entry either, and a
	// subject's entry not written by the batch need not be read.
	fresh bool
}

// writeDet adds to b the entry e of deterministic token tok (key version
// vk, MAC mac): sealed with sk and filed under the subject ref when sk is
// not nil, else the region's entry. The region's entry keeps the value as
// first submitted: the value of an existing entry that still opens when
// there is one, submitted otherwise. A subject's entry keeps what that
// subject first submitted (its own existing entry's value, else submitted),
// never another subject's spelling: what is sealed under B's key must not
// hold anything of A, or A's data would outlive A's erasure inside B's
// entry. The token's anchor serialises first
// submissions: the batch creates it (Insert) or expects its generation,
// and bumps the generation when every earlier entry is gone, so a
// concurrent first submission makes one of the batches fail with
// store.ErrConflict, to be retried. wrote is false when the region entry
// already held the first value and nothing was added.
func (s *Service) writeDet(ctx context.Context, memo *versionMemo, b *store.Batch, db *detBatch, vk *verKeys, mac []byte, tok string, e *tokfmt.Entry, sk *keyring.SubjectKey, submitted string) (wrote bool, _ *Error) {
	anchor := detAnchor(vk.version, mac)
	prefix := detPrefix(vk.version, mac)
	own := prefix
	if sk != nil {
		own = append(bytes.Clone(prefix), e.SubjectRef...)
	}
	plan := db.plans[string(anchor)]
	if plan == nil {
		var (
			first          string
			have, ownFirst bool
			stored         []byte // the anchor's value; nil: none
		)
		fresh, ee := s.unanchored(ctx, db, vk.version, anchor)
		if ee != nil {
			return false, ee
		}
		if !fresh {
			if first, have, stored, ownFirst, ee = s.firstDet(ctx, memo, tok, anchor, prefix, sk == nil); ee != nil {
				return false, ee
			}
		}
		if ownFirst {
			return false, nil
		}
		plan = &detPlan{value: submitted, wrote: map[string]bool{}, fresh: fresh}
		if have {
			plan.value = first
		}
		switch {
		case stored == nil:
			b.Insert(anchor, binary.BigEndian.AppendUint32(nil, 1))
		case have:
			b.Expect(anchor, stored)
		default:
			// No entry opens any more, a region entry folded into the
			// anchor included: the next generation, without it.
			gen, _, _ := splitAnchor(stored)
			b.Expect(anchor, stored)
			b.Put(anchor, binary.BigEndian.AppendUint32(nil, gen+1))
		}
		if db.plans == nil {
			db.plans = map[string]*detPlan{}
		}
		db.plans[string(anchor)] = plan
	}
	if sk == nil && plan.wrote[string(own)] {
		return false, nil
	}
	var raw []byte
	var ee *Error
	if sk != nil {
		value, ok := plan.own[string(own)]
		if !ok {
			value = submitted
			if !plan.fresh {
				if value, ee = s.ownDet(ctx, memo, tok, prefix, own, submitted); ee != nil {
					return false, ee
				}
			}
			if plan.own == nil {
				plan.own = map[string]string{}
			}
			plan.own[string(own)] = value
		}
		raw, ee = s.sealSubject(sk, tok, e, value)
	} else {
		raw, ee = s.sealRegion(vk, tok, e, plan.value)
	}
	if ee != nil {
		return false, ee
	}
	b.Put(own, raw)
	plan.wrote[string(own)] = true
	return true, nil
}

// unanchored reports whether deterministic token anchor (of key version v)
// is known to be absent, so that the token has no entry at all and
// writeDet need not scan for one: true only for versions whose every entry
// was written with its anchor (those after the region's legacy mark, see
// loadFPEMode), when lookUp found the anchor absent or a point read does.
// A concurrent first submission still conflicts on the anchor's Insert.
func (s *Service) unanchored(ctx context.Context, db *detBatch, v uint32, anchor []byte) (bool, *Error) {
	if !s.currentRules(v) {
		return false, nil
	}
	if db.unanchored[string(anchor)] {
		return true, nil
	}
	_, err := s.st.Get(ctx, anchor)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true, nil
	case err != nil:
		return false, wrapf(CodeInternal, err, "reading the token anchor")
	}
	return false, nil
}

// ownDet returns the value a subject's entry of a deterministic token
// keeps: that of its existing entry (key own) when it still opens, else
// submitted.
func (s *Service) ownDet(ctx context.Context, memo *versionMemo, tok string, prefix, own []byte, submitted string) (string, *Error) {
	raw, err := s.st.Get(ctx, own)
	if errors.Is(err, store.ErrNotFound) {
		return submitted, nil
	}
	if err != nil {
		return "", wrapf(CodeInternal, err, "reading the token entry")
	}
	r := s.openDet(ctx, memo, tok, prefix, store.KV{Key: own, Value: raw})
	if r.Err != nil {
		if CodeOf(r.Err) == CodeInternal {
			return "", r.Err.(*Error)
		}
		return submitted, nil // erased, retired or corrupt: replaced
	}
	return r.Value, nil
}

// firstDet reads a deterministic token's anchor and entries: the value of
// the first entry that still opens (the region's, folded into the anchor
// or apart, then the subjects' in key order), the anchor's value (nil:
// none), and with region whether the region's entry exists and holds that
// first value.
func (s *Service) firstDet(ctx context.Context, memo *versionMemo, tok string, anchor, prefix []byte, region bool) (first string, have bool, stored []byte, regionFirst bool, _ *Error) {
	end := store.PrefixEnd(prefix)
	start := anchor
	for {
		kvs, err := s.st.Scan(ctx, start, end, detPage)
		if err != nil {
			return "", false, nil, false, wrapf(CodeInternal, err, "reading the token entries")
		}
		for _, kv := range kvs {
			if bytes.Equal(kv.Key, anchor) {
				_, entry, ok := splitAnchor(kv.Value)
				if !ok {
					return "", false, nil, false, errorf(CodeIntegrity, "a token anchor is corrupt")
				}
				stored = kv.Value
				if entry == nil {
					continue
				}
				kv = store.KV{Key: prefix, Value: entry} // the region's entry
			}
			if have || !bytes.HasPrefix(kv.Key, prefix) {
				continue
			}
			r := s.openDet(ctx, memo, tok, prefix, kv)
			if r.Err != nil {
				if CodeOf(r.Err) == CodeInternal {
					return "", false, nil, false, r.Err.(*Error)
				}
				continue // erased, retired or corrupt: not a holder
			}
			first, have = r.Value, true
			regionFirst = region && len(kv.Key) == len(prefix)
		}
		if have || len(kvs) < detPage {
			return first, have, stored, regionFirst, nil
		}
		start = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
	}
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
	env, err := envelope.Seal(vk.seal, s.rand, vk.suite.ID(), vk.version, s.binding(tok, e), []byte(value))
	if err != nil {
		return nil, wrapf(CodeInternal, err, "sealing the token entry")
	}
	e.Envelope = env
	return tokfmt.MarshalEntry(e), nil
}

// sealSubject seals value into e under a subject's data key.
func (s *Service) sealSubject(sk *keyring.SubjectKey, tok string, e *tokfmt.Entry, value string) ([]byte, *Error) {
	env, err := envelope.Seal(sk.AEAD, s.rand, sk.Suite, sk.Version, s.binding(tok, e), []byte(value))
	if err != nil {
		return nil, wrapf(CodeInternal, err, "sealing the token entry")
	}
	e.Envelope = env
	return tokfmt.MarshalEntry(e), nil
}
