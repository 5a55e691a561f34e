package keyring

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// SubjectKey is a subject's DEK, ready to use.
type SubjectKey struct {
	// AEAD is the DEK's cipher for Suite. Its Open fails only with
	// suite.ErrOpen.
	AEAD cipher.AEAD
	// Suite is the suite to seal with: the keyring's current suite when
	// the key was handed out (see dek.go for a DEK made before a suite
	// migration). Envelopes sealed with AEAD must name it.
	Suite suite.ID
	// Version is the DEK's generation for this subject (1 for the first
	// key; erasing and re-creating a subject gives the next). Field
	// envelopes sealed with AEAD carry it as their key version.
	Version uint32

	ref     string      // subject ref
	dek     []byte      // the secret
	native  suite.Suite // the suite the DEK was made for
	fill    fillTicket  // cache ticket taken before reading the store
	pending bool        // created, not yet committed
	guessed bool        // created without reading the store (newGuess)
}

// tombstone returns the value of a destroyed DEK's tombstone key (a fresh
// slice each time: batches keep what they are given).
func tombstone() []byte { return []byte{0} }

// refMAC is a pooled subject-ref MAC with its scratch buffers.
type refMAC struct {
	h   hash.Hash
	in  []byte
	sum []byte
}

// ref computes the subject ref into m.sum.
func (m *refMAC) ref(subject string) []byte {
	m.h.Reset()
	m.in = append(m.in[:0], subject...)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	return m.sum
}

// SubjectRef returns the keyed MAC of a subject id under the region's
// subject-ref key (derived with the suite KDF from index KEK version 1, with
// its own label). Subject ids may be personal data; the store only ever sees
// refs. The ref of a subject never changes for the life of the keyring.
func (k *Keyring) SubjectRef(subject string) []byte {
	m := k.refMACs.Get().(*refMAC)
	out := append([]byte(nil), m.ref(subject)...)
	k.refMACs.Put(m)
	return out
}

func dekKey(ref []byte, gen uint32) []byte {
	b := make([]byte, 0, len(prefixDEK)+len(ref)+5)
	b = append(b, prefixDEK...)
	b = append(b, ref...)
	return binary.BigEndian.AppendUint32(b, gen)
}

func tombKey(ref []byte, gen uint32) []byte { return append(dekKey(ref, gen), 'e') }

func (k *Keyring) dekBinding(ref []byte, gen uint32) envelope.Binding {
	return envelope.Binding{Region: k.region, Collection: "k/dek", Record: string(ref), Field: strconv.FormatUint(uint64(gen), 10)}
}

// dekEntry is one stored generation of a subject's DEK.
type dekEntry struct {
	gen  uint32
	env  []byte // nil for a tombstone
	dead bool
}

// entries reads every generation stored for ref, in ascending order; a
// tombstone wins over a live key of the same generation.
func (k *Keyring) entries(ctx context.Context, ref []byte) ([]dekEntry, error) {
	prefix := dekKey(ref, 0)[:len(prefixDEK)+len(ref)]
	kvs, err := k.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: reading subject key: %w", k.region, err)
	}
	var out []dekEntry
	for _, kv := range kvs {
		rest := kv.Key[len(prefix):]
		if len(rest) != 4 && !(len(rest) == 5 && rest[4] == 'e') {
			return nil, fmt.Errorf("keyring: region %s: unexpected subject key entry", k.region)
		}
		gen := binary.BigEndian.Uint32(rest)
		dead := len(rest) == 5
		if n := len(out); n > 0 && out[n-1].gen == gen {
			out[n-1].dead = out[n-1].dead || dead
			if !dead {
				out[n-1].env = kv.Value
			}
			continue
		}
		e := dekEntry{gen: gen, dead: dead}
		if !dead {
			e.env = kv.Value
		}
		out = append(out, e)
	}
	return out, nil
}

// firstEntries returns the same as entries, reading only generation 1 in
// the two common cases: a subject never seen (no generation-1 key and no
// generation-1 tombstone) and a subject whose first key is live (then no
// later generation exists: a generation is only made after the one before
// it was destroyed, and tombstones are never removed). Two keys read at
// once cost less than a prefix scan: one round trip on PostgreSQL, and on
// Pebble seeks that its bloom filters mostly answer. Anything else falls
// back to entries.
func (k *Keyring) firstEntries(ctx context.Context, ref []byte) ([]dekEntry, error) {
	vals, err := store.GetMany(ctx, k.st, [][]byte{dekKey(ref, 1), tombKey(ref, 1)})
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: reading subject key: %w", k.region, err)
	}
	switch env, tomb := vals[0], vals[1]; {
	case tomb != nil:
		return k.entries(ctx, ref)
	case env == nil:
		return nil, nil
	default:
		return []dekEntry{{gen: 1, env: env}}, nil
	}
}

// unwrap opens a wrapped DEK. It accepts DEKs under retired data KEKs so
// that a DEK written by a process that had not yet seen a rotation stays
// readable; Rewrap moves them.
func (k *Keyring) unwrap(ctx context.Context, ref []byte, gen uint32, env []byte) (*SubjectKey, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: subject key: %w", k.region, err)
	}
	kk, err := k.kekFor(ctx, Data, h.KeyVersion)
	if err != nil {
		return nil, err
	}
	if h.Suite != kk.suite.ID() {
		return nil, fmt.Errorf("keyring: region %s: subject key names suite %s, its data key v%d is %s", k.region, h.Suite, h.KeyVersion, kk.suite.ID())
	}
	pt, err := envelope.Open(kk.aead, h, ct, k.dekBinding(ref, gen))
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: unwrapping subject key: %w", k.region, err)
	}
	dek, native, err := decodeDEK(pt, kk.suite)
	if err != nil {
		clear(pt)
		return nil, fmt.Errorf("keyring: region %s: subject key: %v", k.region, err)
	}
	cur := k.ring.Load().suite()
	a, err := dekAEAD(dek, native, cur)
	if err != nil {
		clear(pt)
		return nil, fmt.Errorf("keyring: region %s: subject key: %v", k.region, err)
	}
	return &SubjectKey{AEAD: a, Suite: cur.ID(), Version: gen, ref: string(ref), dek: dek, native: native}, nil
}

// SubjectKey returns the subject's current DEK, creating one if the subject
// has none (or only destroyed ones), for sealing data that the caller
// writes with b.
//
// Whether the key comes from the cache or the store, SubjectKey adds to b an
// Expect that the key's tombstone is absent: if the key was destroyed
// meanwhile, by this process or another, Apply fails with an error wrapping
// store.ErrConflict instead of storing data under a destroyed key. The
// check costs no read of its own.
//
// When it creates a key it also adds to b an Insert of the wrapped DEK (and
// a counter update) and returns a pending key: the caller applies b
// together with its record, then calls Commit(sk) if Apply succeeded. If
// Apply failed with store.ErrConflict, another writer created the subject's
// key first, the key was destroyed, or SubjectKey guessed wrong (below):
// call Forget(sk), then SubjectKey again with a fresh batch (which returns
// the stored key or creates the next generation). If Apply failed
// otherwise, drop sk. Calling Commit on a key that was not created is a
// no-op, so callers may always call it after a successful Apply.
//
// When the cache misses and the last 32 subjects it found were all new
// (newGuess), SubjectKey creates generation 1 without reading the store:
// for a subject that has a key, or had one, that batch's Apply fails with
// store.ErrConflict, and the SubjectKey after Forget reads.
//
// At most every Options.RefreshEvery, SubjectKey first reloads the KEK
// versions from the store, so that new keys are wrapped under a data KEK
// another process rotated to.
//
// Errors are ErrClosed, store errors or corrupt key material, wrapped with
// context; they never include the subject id.
func (k *Keyring) SubjectKey(ctx context.Context, subject string, b *store.Batch) (*SubjectKey, error) {
	return k.subjectKey(ctx, subject, b, true)
}

// LiveSubjectKey is SubjectKey for updating existing data: it never creates
// a key, and fails with an error wrapping ErrNoSubjectKey when the subject
// has no live key (it was erased, or never had one). It adds the same
// Expect to b, which must not be nil.
func (k *Keyring) LiveSubjectKey(ctx context.Context, subject string, b *store.Batch) (*SubjectKey, error) {
	if b == nil {
		return nil, errors.New("keyring: LiveSubjectKey needs a batch")
	}
	return k.subjectKey(ctx, subject, b, false)
}

// LiveSubjectKeyByRef is LiveSubjectKey for a subject known only by its
// ref (SubjectRef), as stored with token entries, with the same errors.
func (k *Keyring) LiveSubjectKeyByRef(ctx context.Context, ref []byte, b *store.Batch) (*SubjectKey, error) {
	if b == nil {
		return nil, errors.New("keyring: LiveSubjectKeyByRef needs a batch")
	}
	if len(ref) != k.suite.MAC().Size() {
		return nil, fmt.Errorf("keyring: region %s: subject ref is %d bytes, want %d", k.region, len(ref), k.suite.MAC().Size())
	}
	return k.subjectKeyOf(ctx, ref, b, false)
}

func (k *Keyring) subjectKey(ctx context.Context, subject string, b *store.Batch, create bool) (*SubjectKey, error) {
	m := k.refMACs.Get().(*refMAC)
	sk, err := k.subjectKeyOf(ctx, m.ref(subject), b, create)
	k.refMACs.Put(m)
	return sk, err
}

// subjectKeyOf is subjectKey for the subject ref ref, which it does not
// retain.
func (k *Keyring) subjectKeyOf(ctx context.Context, ref []byte, b *store.Batch, create bool) (*SubjectKey, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	now := k.now()
	if err := k.maybeRefresh(ctx, now); err != nil {
		return nil, err
	}
	d, fill := k.cache.get(ref, now)
	if d != nil {
		// A key cached before this process learnt of a suite migration
		// seals with the new suite from now on.
		sk, err := d.key(k.ring.Load().suite())
		if err != nil {
			return nil, fmt.Errorf("keyring: region %s: subject key: %v", k.region, err)
		}
		expectLive(b, sk)
		return sk, nil
	}
	ref = bytes.Clone(ref)
	if create && b != nil && k.guess.guessing() {
		sk, err := k.createDEK(ref, 1, fill, b)
		if sk != nil {
			sk.guessed = true
		}
		return sk, err
	}

	es, err := k.firstEntries(ctx, ref)
	if err != nil {
		return nil, err
	}
	if create {
		if len(es) == 0 {
			k.guess.sawNew()
		} else {
			k.guess.sawStored()
		}
	}
	gen := uint32(1)
	if n := len(es); n > 0 {
		last := es[n-1]
		if !last.dead {
			sk, err := k.unwrap(ctx, ref, last.gen, last.env)
			if err != nil {
				return nil, err
			}
			k.cache.add(sk, fill)
			expectLive(b, sk)
			return sk, nil
		}
		gen = last.gen + 1
	}
	if !create {
		return nil, fmt.Errorf("keyring: region %s: subject key: %w", k.region, ErrNoSubjectKey)
	}
	if b == nil {
		return nil, errors.New("keyring: SubjectKey needs a batch to create a key")
	}
	return k.createDEK(ref, gen, fill, b)
}

// expectLive adds to b, if not nil, the condition that sk was not destroyed.
// Destruction writes the tombstone in the same batch that deletes the key,
// and tombstones are never removed, so an absent tombstone means a live key.
func expectLive(b *store.Batch, sk *SubjectKey) {
	if b != nil {
		b.Expect(tombKey([]byte(sk.ref), sk.Version), nil)
	}
}

func (k *Keyring) createDEK(ref []byte, gen uint32, fill fillTicket, b *store.Batch) (*SubjectKey, error) {
	r := k.ring.Load()
	cur := r.current[Data]
	kk := r.keks[Data][cur]
	dek := make([]byte, kk.suite.AEAD().KeySize())
	if _, err := io.ReadFull(k.rand, dek); err != nil {
		return nil, fmt.Errorf("keyring: region %s: generating subject key: %w", k.region, err)
	}
	a, err := kk.suite.AEAD().New(dek) // native: the secret is the key
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: %v", k.region, err)
	}
	env, err := envelope.Seal(kk.aead, k.rand, kk.suite.ID(), cur, k.dekBinding(ref, gen), dek)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: wrapping subject key: %w", k.region, err)
	}
	b.Insert(dekKey(ref, gen), env)
	b.Expect(tombKey(ref, gen), nil) // a concurrent erasure of this generation wins
	b.Add(dekCounter(cur), 1)
	return &SubjectKey{AEAD: a, Suite: kk.suite.ID(), Version: gen, ref: string(ref), dek: dek, native: kk.suite, fill: fill, pending: true}, nil
}

// Commit records that the batch holding sk's creation was applied, making
// sk available from the cache. It is a no-op for keys SubjectKey did not
// create, and for nil.
func (k *Keyring) Commit(sk *SubjectKey) {
	if sk == nil || !sk.pending || k.closed.Load() {
		return
	}
	sk.pending = false
	if sk.guessed {
		k.guess.sawNew()
	}
	k.cache.add(sk, sk.fill)
}

// Forget drops sk's subject from the cache after a batch holding sk failed
// with store.ErrConflict, so that the next SubjectKey or LiveSubjectKey
// reads the store and sees a destruction by another process. It is a no-op
// for nil.
func (k *Keyring) Forget(sk *SubjectKey) {
	if sk == nil || k.closed.Load() {
		return
	}
	if sk.pending && sk.guessed {
		k.guess.sawStored()
	}
	k.cache.evict([]byte(sk.ref))
}

// ExistingSubjectKey returns generation version of the subject's DEK as a
// cipher of suite s (the suite an envelope names; "" for the keyring's
// current suite), for reading; it never creates one. It fails with an
// error wrapping ErrNoSubjectKey when that key was destroyed or never
// existed, and otherwise with store errors, an unknown suite or corrupt key
// material.
func (k *Keyring) ExistingSubjectKey(ctx context.Context, subject string, version uint32, s suite.ID) (cipher.AEAD, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	m := k.refMACs.Get().(*refMAC)
	a, err := k.existing(ctx, m.ref(subject), version, s)
	k.refMACs.Put(m)
	return a, err
}

// SubjectKeyByRef is ExistingSubjectKey for a subject known by its
// SubjectRef (as stored with records), with the same errors.
func (k *Keyring) SubjectKeyByRef(ctx context.Context, ref []byte, version uint32, s suite.ID) (cipher.AEAD, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	if len(ref) != k.suite.MAC().Size() {
		return nil, fmt.Errorf("keyring: region %s: subject ref is %d bytes, want %d", k.region, len(ref), k.suite.MAC().Size())
	}
	return k.existing(ctx, ref, version, s)
}

// existing implements ExistingSubjectKey; ref may be a scratch buffer and
// is not retained.
func (k *Keyring) existing(ctx context.Context, ref []byte, version uint32, id suite.ID) (cipher.AEAD, error) {
	want := k.ring.Load().suite()
	if id != "" && id != want.ID() {
		var err error
		if want, err = suite.ByID(id); err != nil {
			return nil, fmt.Errorf("keyring: region %s: %w", k.region, err)
		}
	}
	d, fill := k.cache.get(ref, k.now())
	if d != nil && d.version == version {
		return k.dekAEAD(d.dek, d.native, want)
	}
	if version == 0 {
		return nil, fmt.Errorf("keyring: region %s: subject key v0: %w", k.region, ErrNoSubjectKey)
	}
	ref = bytes.Clone(ref)
	env, err := k.st.Get(ctx, dekKey(ref, version))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("keyring: region %s: subject key v%d: %w", k.region, version, ErrNoSubjectKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: reading subject key: %w", k.region, err)
	}
	sk, err := k.unwrap(ctx, ref, version, env)
	if err != nil {
		return nil, err
	}
	// A subject has at most one live generation, so this is its current
	// key and may be cached.
	k.cache.add(sk, fill)
	if sk.Suite == want.ID() {
		return sk.AEAD, nil
	}
	return k.dekAEAD(sk.dek, sk.native, want)
}

// dekAEAD makes the cipher of a subject key's secret for suite s (the
// package's dekAEAD), its error naming the region.
func (k *Keyring) dekAEAD(secret []byte, native, s suite.Suite) (cipher.AEAD, error) {
	a, err := dekAEAD(secret, native, s)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: subject key: %v", k.region, err)
	}
	return a, nil
}

// DestroySubjectKey crypto-shreds the subject: it adds to b the deletion of
// the subject's live DEK and a tombstone for it (or, if the subject has no
// live DEK, a tombstone that makes a concurrent creation fail with
// store.ErrConflict). It evicts the key from the cache at once.
//
// The caller applies b, then must call the returned done func (whatever
// Apply returned): it evicts again, so that a read which raced with the
// erasure cannot leave the key cached. After a successful Apply and done,
// ExistingSubjectKey fails with ErrNoSubjectKey, also after a reopen.
//
// The cache is per process. Other processes of the region may still serve
// reads with the erased key from their caches until the entry expires
// (Options.CacheTTL); they cannot write with it, because the Expect that
// SubjectKey adds to every write batch fails once the tombstone exists.
func (k *Keyring) DestroySubjectKey(ctx context.Context, subject string, b *store.Batch) (done func(), err error) {
	ref := k.SubjectRef(subject)
	es, done, err := k.destroyDEKs(ctx, ref, b)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(es, func(e dekEntry) bool { return !e.dead }) {
		next := uint32(1)
		if n := len(es); n > 0 {
			next = es[n-1].gen + 1
		}
		b.Put(tombKey(ref, next), tombstone())
	}
	return done, nil
}

// destroyDEKs adds to b the deletion of every live DEK of ref, with a
// tombstone for each, and returns ref's entries as they were.
func (k *Keyring) destroyDEKs(ctx context.Context, ref []byte, b *store.Batch) (es []dekEntry, done func(), err error) {
	if k.closed.Load() {
		return nil, nil, ErrClosed
	}
	k.cache.evict(ref)
	done = func() { k.cache.evict(ref) }
	if es, err = k.entries(ctx, ref); err != nil {
		return nil, nil, err
	}
	for _, e := range es {
		if e.dead {
			continue
		}
		b.Delete(dekKey(ref, e.gen))
		b.Put(tombKey(ref, e.gen), tombstone())
		if h, _, err := envelope.Parse(e.env); err == nil {
			b.Add(dekCounter(h.KeyVersion), -1)
		}
	}
	return es, done, nil
}
