// Package keyring holds one region's keys (DESIGN "Keys, per region").
//
//	unseal secret
//	  └─ root key: sealed at k/root under argon2id(secret, salt)
//	       └─ KEKs, versioned by purpose (data, index, token, audit):
//	          sealed at k/kek/<purpose>/<version> under the root key
//	            └─ one DEK per subject: wrapped at k/dek/<ref>/<n> under
//	               the current data KEK
//
// Key material exists in clear only in memory, between Open and Close. Every
// sealed item is an envelope (internal/envelope) whose binding names the
// region and the item's place, so sealed blobs cannot be swapped. Subject
// ids never reach the store: DEKs are filed under SubjectRef, a keyed MAC.
// Errors never carry key material or subject ids.
//
// # Storage layout
//
//	k/meta                       clear: format, region, suite, argon2id params, salt
//	k/root                       envelope of the root key under the secret-derived key
//	k/kek/<purpose>/<v, 4B BE>   envelope of a KEK record (state, times, secret,
//	                             audit signing key, suite) under the root key
//	                             (of the record's suite: see rootFor)
//	k/dek/<ref>/<n, 4B BE>       envelope of subject DEK generation n under a data
//	                             KEK; the envelope's key version is that KEK's
//	k/dek/<ref>/<n, 4B BE>e      tombstone: generation n was destroyed
//	counter k/dek#<v, 4B BE>     number of DEKs wrapped under data KEK v
//
// # Suites
//
// A suite is a property of a key version. The keyring's origin suite, named
// in k/meta, seals the root key; each KEK version has a suite of its own
// (its record's, format 2, or the origin's, format 1), and everything a
// version makes or protects uses that suite: a DEK has the suite of the data
// KEK that wrapped it when it was made, a blind index the suite of its index
// version, a signature the suite of its audit version. Every envelope names
// its suite in its header. Migrate adds versions of another suite for every
// purpose at once; from then on new work uses that suite, and what older
// versions protect stays readable with theirs.
//
// A subject has at most one live DEK. Destroying it replaces it with a
// tombstone; a later SubjectKey for the same subject creates generation n+1,
// and reads of generation n keep failing with ErrNoSubjectKey.
package keyring

import (
	"bytes"
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
	"golang.org/x/crypto/argon2"
)

// Purpose names a family of versioned KEKs.
type Purpose string

// The KEK purposes.
const (
	Data  Purpose = "data"  // wraps subject DEKs
	Index Purpose = "index" // keys blind indexes and subject refs
	Token Purpose = "token" // keys tokenization (DeriveKey)
	Audit Purpose = "audit" // holds the audit-signing key
)

// Purposes lists every purpose in a fixed order.
var purposes = [...]Purpose{Data, Index, Token, Audit}

func (p Purpose) valid() bool { return slices.Contains(purposes[:], p) }

// Errors callers branch on.
var (
	// ErrSealed is returned by Open when no unseal secret is given.
	ErrSealed = errors.New("keyring: region is sealed")
	// ErrWrongSecret is returned by Open for any failure to unseal the
	// root key with the given secret; it never says why.
	ErrWrongSecret = errors.New("keyring: the secret does not unseal this region")
	// ErrRegionMismatch is wrapped by Open when the store's keyring
	// belongs to another region, or its suite is neither the keyring's
	// origin suite nor the suite of its current versions.
	ErrRegionMismatch = errors.New("keyring: store belongs to another region or suite")
	// ErrRetired is wrapped when a retired key version is asked for.
	ErrRetired = errors.New("keyring: key version retired")
	// ErrUnknownVersion is wrapped when a key version does not exist.
	ErrUnknownVersion = errors.New("keyring: no such key version")
	// ErrNoSubjectKey is wrapped when a subject's key was destroyed or
	// never existed.
	ErrNoSubjectKey = errors.New("keyring: no key for subject")
	// ErrInUse is wrapped by Retire when the version is current or still
	// wraps DEKs.
	ErrInUse = errors.New("keyring: key version in use")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("keyring: closed")
	// ErrDestroyed is wrapped when a key version was destroyed: its sealed
	// material is gone from the store, and whatever it protected cannot
	// be opened any more.
	ErrDestroyed = errors.New("keyring: key version destroyed")
	// ErrNotRetired is wrapped by Destroy when the version is still
	// active: retire it first.
	ErrNotRetired = errors.New("keyring: key version not retired")
	// ErrTooSoon is wrapped by Destroy when another node of the region may
	// not have reloaded its keys since the version was superseded (see
	// Destroy).
	ErrTooSoon = errors.New("keyring: too soon after the rotation")
	// ErrNotDestroyable is wrapped by Destroy for versions that must be
	// kept: audit versions (their public keys verify old checkpoints)
	// and index version 1 (subject refs are keyed by it).
	ErrNotDestroyable = errors.New("keyring: key version must be kept")
)

// Options configure Open.
type Options struct {
	Region string
	Suite  suite.Suite
	Store  store.Store
	// Secret is the unseal secret (passphrase bytes); empty means
	// ErrSealed. The keyring does not keep it.
	Secret []byte
	// KDF are the argon2id parameters for a new keyring; zero means time
	// 3, 64 MiB, 2 threads. An existing keyring uses its stored ones.
	KDF KDFParams
	// Rand is the source of keys and nonces; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock for key creation times, cache expiry and KEK
	// refreshes; nil means time.Now.
	Now func() time.Time
	// CacheSize is the number of unwrapped DEKs kept (LRU); 0 means 65536.
	CacheSize int
	// CacheTTL is how long an unwrapped DEK is served from the cache
	// before the store is read again; 0 means 30s, negative means never.
	// It bounds how long this process may keep reading data of a subject
	// that another process of the region erased (writes with an erased
	// key fail at once; see SubjectKey). Negative is only safe when no
	// other process shares the store.
	CacheTTL time.Duration
	// RefreshEvery is how often the KEK versions are reloaded from the
	// store on the write path, so that rotations and retirements by other
	// processes apply to new writes; 0 means 30s, negative means only
	// when an unknown version is met.
	RefreshEvery time.Duration
	// Node names this process in the rewrap job's lease and status; empty
	// means host name and process id.
	Node string
	// JobLease is how long a node holds the rewrap job without renewing
	// its lease; another node takes an unfinished job over once the lease
	// expired. 0 means 8s.
	JobLease time.Duration
}

// Keyring is one region's unsealed keys. It is safe for concurrent use.
type Keyring struct {
	region string
	suite  suite.Suite // the origin suite (k/meta): seals the root key
	st     store.Store
	rand   io.Reader
	now    func() time.Time

	root     []byte
	rootAEAD cipher.AEAD
	roots    sync.Map // suite.ID -> cipher.AEAD sealing KEK records of that suite (rootFor)

	ring atomic.Pointer[ring] // immutable snapshot, replaced under mu
	mu   sync.Mutex           // serialises ring changes

	refreshEvery time.Duration
	nextRefresh  atomic.Int64 // k.now() in Unix ns when the ring is next reloaded

	refKey  []byte    // subject-ref MAC key (from index KEK v1)
	refMACs sync.Pool // of *refMAC
	cache   *dekCache
	guess   newGuess // whether a cache miss reads the store (guess.go)
	closed  atomic.Bool

	rewrapPage int // DEKs per Rewrap batch

	jobs *jobRunner // the rewrap job's runner (job.go)
}

// ring is an immutable snapshot of the KEKs.
type ring struct {
	keks    map[Purpose]map[uint32]*kek
	current map[Purpose]uint32
}

// kek is one unsealed KEK version. Immutable once in a ring.
type kek struct {
	purpose Purpose
	version uint32
	suite   suite.Suite // the version's suite (its record's)
	rec     *kekRecord
	aead    cipher.AEAD   // data: wraps DEKs
	index   []byte        // index: blind-index MAC key
	indexMs *sync.Pool    // index: of hash.Hash, MACs keyed with index
	ref     []byte        // index: subject-ref MAC key
	signer  crypto.Signer // audit

	sealedNonce []byte // nonce of the stored envelope, to skip unchanged records on reload
}

// HKDF info labels of the subkeys; each is used for exactly one purpose.
const (
	labelSubjectRef = "domicile subject-ref v1"
	labelBlindIndex = "domicile blind-index v1"
	labelDerived    = "domicile derived v1 "
	labelRoot       = "domicile root v1 "
)

// Store keys.
const (
	keyMeta   = "k/meta"
	keyRoot   = "k/root"
	prefixKEK = "k/kek/"
	prefixDEK = "k/dek/"
	counterDE = "k/dek#"
)

func kekKey(p Purpose, v uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(prefixKEK+string(p)+"/"), v)
}

func dekCounter(v uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(counterDE), v)
}

const (
	rootVersion         = 1
	defaultCacheSize    = 65536
	defaultCacheTTL     = 30 * time.Second
	defaultRefreshEvery = 30 * time.Second
)

// Open unseals the keyring of o.Region in o.Store, creating it if the store
// has none.
//
// Errors: ErrSealed when o.Secret is empty; ErrWrongSecret when the secret
// does not unseal the root key (any cause); an error wrapping
// ErrRegionMismatch when the store's keyring was made for another region or
// o.Suite is neither its origin suite nor its current one; otherwise a store error or a description of a corrupt item, wrapped
// with context. Creation is one atomic batch of Inserts: of two processes
// creating the same keyring at once, one wins and the other opens it.
func Open(ctx context.Context, o Options) (*Keyring, error) {
	switch {
	case o.Region == "" || len(o.Region) > maxNameLen:
		return nil, fmt.Errorf("keyring: region name must be 1..%d bytes", maxNameLen)
	case o.Suite.ID() == "":
		return nil, errors.New("keyring: no suite given")
	case o.Store == nil:
		return nil, errors.New("keyring: no store given")
	case len(o.Secret) == 0:
		return nil, ErrSealed
	}
	k := &Keyring{
		region:     o.Region,
		suite:      o.Suite,
		st:         o.Store,
		rand:       o.Rand,
		now:        o.Now,
		rewrapPage: 256,
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	if k.now == nil {
		k.now = time.Now
	}
	size := o.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	ttl := o.CacheTTL
	if ttl == 0 {
		ttl = defaultCacheTTL
	}
	k.cache = newDEKCache(size, ttl)
	k.refreshEvery = o.RefreshEvery
	if k.refreshEvery == 0 {
		k.refreshEvery = defaultRefreshEvery
	}
	k.nextRefresh.Store(k.now().Add(k.refreshEvery).UnixNano())
	k.jobs = newJobRunner(o.Node, o.JobLease)
	for range 2 {
		raw, err := k.st.Get(ctx, []byte(keyMeta))
		if errors.Is(err, store.ErrNotFound) {
			err = k.create(ctx, o)
			if errors.Is(err, store.ErrConflict) {
				continue // another process created it first: open theirs
			}
			if err != nil {
				return nil, err
			}
			return k, nil
		}
		if err != nil {
			return nil, fmt.Errorf("keyring: region %s: reading %s: %w", k.region, keyMeta, err)
		}
		if err := k.unseal(ctx, raw, o.Secret); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("keyring: region %s: creation raced and the keyring is still missing", k.region)
}

func (k *Keyring) rootBinding(metaBytes []byte) envelope.Binding {
	return envelope.Binding{Region: k.region, Collection: keyRoot, Field: string(metaBytes)}
}

func (k *Keyring) kekBinding(p Purpose, v uint32) envelope.Binding {
	return envelope.Binding{Region: k.region, Collection: "k/kek", Record: string(p), Field: strconv.FormatUint(uint64(v), 10)}
}

func (k *Keyring) sealKey(secret []byte, m *meta) (cipher.AEAD, error) {
	key := argon2.IDKey(secret, m.Salt, m.KDF.Time, m.KDF.MemoryKiB, m.KDF.Threads, uint32(k.suite.AEAD().KeySize()))
	defer clear(key)
	return k.suite.AEAD().New(key)
}

// create initialises a fresh keyring and writes it in one batch of Inserts.
func (k *Keyring) create(ctx context.Context, o Options) error {
	params := o.KDF
	if params == (KDFParams{}) {
		params = defaultKDF()
	}
	if err := params.validate(); err != nil {
		return fmt.Errorf("keyring: region %s: %v", k.region, err)
	}
	m := &meta{Region: k.region, Suite: string(k.suite.ID()), KDF: params, Salt: make([]byte, minSaltLen)}
	if _, err := io.ReadFull(k.rand, m.Salt); err != nil {
		return fmt.Errorf("keyring: region %s: reading salt: %w", k.region, err)
	}
	metaBytes := m.encode()
	sealer, err := k.sealKey(o.Secret, m)
	if err != nil {
		return fmt.Errorf("keyring: region %s: %v", k.region, err)
	}
	k.root = make([]byte, k.suite.AEAD().KeySize())
	if _, err := io.ReadFull(k.rand, k.root); err != nil {
		return fmt.Errorf("keyring: region %s: generating root key: %w", k.region, err)
	}
	if k.rootAEAD, err = k.suite.AEAD().New(k.root); err != nil {
		return fmt.Errorf("keyring: region %s: %v", k.region, err)
	}
	rootEnv, err := envelope.Seal(sealer, k.rand, k.suite.ID(), rootVersion, k.rootBinding(metaBytes), k.root)
	if err != nil {
		return fmt.Errorf("keyring: region %s: sealing root key: %w", k.region, err)
	}
	var b store.Batch
	b.Insert([]byte(keyMeta), metaBytes)
	b.Insert([]byte(keyRoot), rootEnv)
	r := &ring{keks: map[Purpose]map[uint32]*kek{}, current: map[Purpose]uint32{}}
	for _, p := range purposes {
		kk, env, err := k.newKEK(p, 1, k.suite)
		if err != nil {
			return err
		}
		b.Insert(kekKey(p, 1), env)
		r.keks[p] = map[uint32]*kek{1: kk}
		r.current[p] = 1
	}
	if err := k.st.Apply(ctx, &b); err != nil {
		k.zeroRing(r)
		clear(k.root)
		return fmt.Errorf("keyring: region %s: creating: %w", k.region, err)
	}
	return k.install(r)
}

// unseal opens an existing keyring from its k/meta bytes. want is the suite
// Open was given: the origin's or the current versions' (after Migrate).
func (k *Keyring) unseal(ctx context.Context, metaBytes, secret []byte) error {
	m, err := decodeMeta(metaBytes)
	if err != nil {
		return fmt.Errorf("keyring: region %s: %w", k.region, err)
	}
	want := k.suite
	origin, err := suite.ByID(suite.ID(m.Suite))
	if m.Region != k.region || err != nil {
		return fmt.Errorf("%w: store holds region %q suite %q, want region %q suite %q",
			ErrRegionMismatch, m.Region, m.Suite, k.region, want.ID())
	}
	k.suite = origin
	rootEnv, err := k.st.Get(ctx, []byte(keyRoot))
	if err != nil {
		return fmt.Errorf("keyring: region %s: reading %s: %w", k.region, keyRoot, err)
	}
	h, ct, err := envelope.Parse(rootEnv)
	if err != nil {
		return fmt.Errorf("keyring: region %s: %s: %w", k.region, keyRoot, err)
	}
	sealer, err := k.sealKey(secret, m)
	if err != nil {
		return fmt.Errorf("keyring: region %s: %v", k.region, err)
	}
	if h.Suite != k.suite.ID() || h.KeyVersion != rootVersion {
		return ErrWrongSecret
	}
	root, err := envelope.Open(sealer, h, ct, k.rootBinding(metaBytes))
	if err != nil || len(root) != k.suite.AEAD().KeySize() {
		return ErrWrongSecret
	}
	k.root = root
	if k.rootAEAD, err = k.suite.AEAD().New(root); err != nil {
		return fmt.Errorf("keyring: region %s: %v", k.region, err)
	}
	r, err := k.load(ctx, &ring{keks: map[Purpose]map[uint32]*kek{}, current: map[Purpose]uint32{}})
	if err != nil {
		clear(k.root)
		return err
	}
	if err := k.install(r); err != nil {
		clear(k.root)
		return err
	}
	if cur := r.suite(); want.ID() != origin.ID() && want.ID() != cur.ID() {
		k.Close()
		return fmt.Errorf("%w: store holds region %q suite %q (now %q), want suite %q",
			ErrRegionMismatch, m.Region, m.Suite, cur.ID(), want.ID())
	}
	return nil
}

// rootFor returns the AEAD that seals KEK records of suite s: the root key
// itself for the origin suite, and for another suite a key derived from the
// root with that suite's KDF, so that the versions of a migrated region are
// sealed with the algorithms it migrated to.
func (k *Keyring) rootFor(s suite.Suite) (cipher.AEAD, error) {
	if s.ID() == k.suite.ID() {
		return k.rootAEAD, nil
	}
	if a, ok := k.roots.Load(s.ID()); ok {
		return a.(cipher.AEAD), nil
	}
	key, err := s.KDF().Key(k.root, nil, labelRoot+string(s.ID()), s.AEAD().KeySize())
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: deriving the %s root: %v", k.region, s.ID(), err)
	}
	defer clear(key)
	a, err := s.AEAD().New(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: deriving the %s root: %v", k.region, s.ID(), err)
	}
	got, _ := k.roots.LoadOrStore(s.ID(), a)
	return got.(cipher.AEAD), nil
}

// suite returns the suite of the ring's current data version: the suite new
// data is written with.
func (r *ring) suite() suite.Suite { return r.keks[Data][r.current[Data]].suite }

// install makes r the first ring and derives the subject-ref key.
func (k *Keyring) install(r *ring) error {
	idx := r.keks[Index][1]
	if idx == nil {
		return fmt.Errorf("keyring: region %s: index key version 1 is missing", k.region)
	}
	for _, p := range purposes {
		if r.current[p] == 0 {
			return fmt.Errorf("keyring: region %s: no active %s key", k.region, p)
		}
	}
	k.refKey = idx.ref
	k.refMACs.New = func() any { return &refMAC{h: idx.suite.MAC().New(k.refKey)} }
	k.ring.Store(r)
	return nil
}

// newKEK generates version v of purpose p in suite s and seals its record.
func (k *Keyring) newKEK(p Purpose, v uint32, s suite.Suite) (*kek, []byte, error) {
	size := s.Hash().Size()
	if p == Data {
		size = s.AEAD().KeySize()
	}
	rec := &kekRecord{state: Active, created: k.now().UTC().Truncate(time.Millisecond), secret: make([]byte, size)}
	if s.ID() != k.suite.ID() {
		rec.suite = s.ID()
	}
	if _, err := io.ReadFull(k.rand, rec.secret); err != nil {
		return nil, nil, fmt.Errorf("keyring: region %s: generating %s key: %w", k.region, p, err)
	}
	if p == Audit {
		sig := s.Signature()
		priv, err := sig.GenerateKey(k.rand)
		if err != nil {
			return nil, nil, fmt.Errorf("keyring: region %s: generating audit signing key: %w", k.region, err)
		}
		if rec.signer, err = sig.MarshalPrivateKey(priv); err != nil {
			return nil, nil, fmt.Errorf("keyring: region %s: encoding audit signing key: %v", k.region, err)
		}
	}
	kk, err := k.expandKEK(p, v, rec)
	if err != nil {
		return nil, nil, err
	}
	env, err := k.sealRecord(p, v, rec)
	if err != nil {
		return nil, nil, err
	}
	h, _, err := envelope.Parse(env)
	if err != nil {
		return nil, nil, fmt.Errorf("keyring: region %s: %w", k.region, err)
	}
	kk.sealedNonce = bytes.Clone(h.Nonce)
	return kk, env, nil
}

func (k *Keyring) sealRecord(p Purpose, v uint32, rec *kekRecord) ([]byte, error) {
	s, err := k.recordSuite(rec)
	if err != nil {
		return nil, err
	}
	root, err := k.rootFor(s)
	if err != nil {
		return nil, err
	}
	pt := rec.encode()
	defer clear(pt)
	env, err := envelope.Seal(root, k.rand, s.ID(), rootVersion, k.kekBinding(p, v), pt)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: sealing %s key v%d: %w", k.region, p, v, err)
	}
	return env, nil
}

// recordSuite returns the suite of a KEK record: its own, or the origin's
// for a format-1 record.
func (k *Keyring) recordSuite(rec *kekRecord) (suite.Suite, error) {
	if rec.suite == "" {
		return k.suite, nil
	}
	s, err := suite.ByID(rec.suite)
	if err != nil {
		return suite.Suite{}, fmt.Errorf("keyring: region %s: key record: %w", k.region, err)
	}
	return s, nil
}

// expandKEK builds the in-memory form of a KEK record: ciphers, subkeys and
// the parsed signing key, all of the record's suite.
func (k *Keyring) expandKEK(p Purpose, v uint32, rec *kekRecord) (*kek, error) {
	s, err := k.recordSuite(rec)
	if err != nil {
		return nil, err
	}
	kk := &kek{purpose: p, version: v, suite: s, rec: rec}
	switch p {
	case Data:
		if len(rec.secret) != s.AEAD().KeySize() {
			return nil, fmt.Errorf("keyring: region %s: data key v%d has the wrong size", k.region, v)
		}
		kk.aead, err = s.AEAD().New(rec.secret)
	case Index:
		n := s.MAC().Size()
		if kk.index, err = s.KDF().Key(rec.secret, nil, labelBlindIndex, n); err == nil {
			kk.ref, err = s.KDF().Key(rec.secret, nil, labelSubjectRef, n)
		}
		// A MAC's keyed state is two blocks of hashing and a few
		// allocations; a record's indexed fields need one MAC each.
		mac, key := s.MAC(), kk.index
		kk.indexMs = &sync.Pool{New: func() any { return mac.New(key) }}
	case Audit:
		kk.signer, err = s.Signature().ParsePrivateKey(rec.signer)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: %s key v%d: %v", k.region, p, v, err)
	}
	return kk, nil
}

// load reads every KEK record from the store and returns a ring holding
// those of base plus any new versions or state changes. base is not changed.
func (k *Keyring) load(ctx context.Context, base *ring) (*ring, error) {
	kvs, err := k.st.Scan(ctx, []byte(prefixKEK), store.PrefixEnd([]byte(prefixKEK)), 0)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: reading keys: %w", k.region, err)
	}
	r := &ring{keks: map[Purpose]map[uint32]*kek{}, current: map[Purpose]uint32{}}
	for p, vs := range base.keks {
		r.keks[p] = maps(vs)
	}
	seen := make(map[Purpose]map[uint32]bool, len(purposes))
	for _, kv := range kvs {
		p, v, ok := parseKEKKey(kv.Key)
		if !ok {
			return nil, fmt.Errorf("keyring: region %s: unexpected key %q", k.region, kv.Key)
		}
		if seen[p] == nil {
			seen[p] = map[uint32]bool{}
		}
		seen[p][v] = true
		old := r.keks[p][v]
		if old != nil && old.rec.state == Retired {
			continue // retirement is final
		}
		h, ct, err := envelope.Parse(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("keyring: region %s: %s: %w", k.region, kv.Key, err)
		}
		hs, err := suite.ByID(h.Suite)
		if err != nil || h.KeyVersion != rootVersion {
			return nil, fmt.Errorf("keyring: region %s: %s: sealed under suite %s key v%d", k.region, kv.Key, h.Suite, h.KeyVersion)
		}
		if old != nil && bytes.Equal(h.Nonce, old.sealedNonce) {
			continue
		}
		root, err := k.rootFor(hs)
		if err != nil {
			return nil, err
		}
		pt, err := envelope.Open(root, h, ct, k.kekBinding(p, v))
		if err != nil {
			return nil, fmt.Errorf("keyring: region %s: unsealing %s key v%d: %w", k.region, p, v, err)
		}
		rec, err := decodeRecord(pt)
		if err != nil {
			clear(pt)
			return nil, fmt.Errorf("keyring: region %s: %s key v%d: %w", k.region, p, v, err)
		}
		// The record names its suite inside the seal; the header must agree,
		// or a record sealed for one suite could be read as another's.
		if rs, err := k.recordSuite(rec); err != nil || rs.ID() != hs.ID() {
			clear(pt)
			return nil, fmt.Errorf("keyring: region %s: %s key v%d: sealed under suite %s for a record of another suite", k.region, p, v, h.Suite)
		}
		if old != nil && old.rec.state == rec.state {
			clear(pt)
			continue
		}
		kk, err := k.expandKEK(p, v, rec)
		if err != nil {
			return nil, err
		}
		kk.sealedNonce = bytes.Clone(h.Nonce)
		if r.keks[p] == nil {
			r.keks[p] = map[uint32]*kek{}
		}
		r.keks[p][v] = kk
	}
	// A version no longer in the store was destroyed (Destroy): forget
	// it. Its material is left to the garbage collector, not zeroed: a
	// reader may still hold the previous ring.
	for p, vs := range r.keks {
		for v := range vs {
			if !seen[p][v] {
				delete(vs, v)
			}
		}
	}
	for p, vs := range r.keks {
		for v, kk := range vs {
			if kk.rec.state == Active && v > r.current[p] {
				r.current[p] = v
			}
		}
	}
	return r, nil
}

func maps(m map[uint32]*kek) map[uint32]*kek {
	c := make(map[uint32]*kek, len(m)+1)
	for v, kk := range m {
		c[v] = kk
	}
	return c
}

func parseKEKKey(key []byte) (Purpose, uint32, bool) {
	rest, ok := bytes.CutPrefix(key, []byte(prefixKEK))
	if !ok || len(rest) < 6 || rest[len(rest)-5] != '/' {
		return "", 0, false
	}
	p := Purpose(rest[:len(rest)-5])
	v := binary.BigEndian.Uint32(rest[len(rest)-4:])
	return p, v, p.valid() && v != 0
}

// refresh reloads the ring from the store, so that versions made by other
// processes become usable.
func (k *Keyring) refresh(ctx context.Context) (*ring, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refreshLocked(ctx)
}

func (k *Keyring) refreshLocked(ctx context.Context) (*ring, error) {
	r, err := k.load(ctx, k.ring.Load())
	if err != nil {
		return nil, err
	}
	k.ring.Store(r)
	return r, nil
}

// maybeRefresh reloads the ring if RefreshEvery passed since the last
// reload. Of concurrent callers one reloads; the others go on with the ring
// they have. A failed reload is retried by the next call.
func (k *Keyring) maybeRefresh(ctx context.Context, now time.Time) error {
	if k.refreshEvery < 0 {
		return nil
	}
	due := k.nextRefresh.Load()
	if now.UnixNano() < due {
		return nil
	}
	next := now.Add(k.refreshEvery).UnixNano()
	if !k.nextRefresh.CompareAndSwap(due, next) {
		return nil
	}
	if _, err := k.refresh(ctx); err != nil {
		k.nextRefresh.CompareAndSwap(next, due)
		return err
	}
	return nil
}

// lookup returns version v of purpose p from memory.
func (k *Keyring) lookup(p Purpose, v uint32) (*kek, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	if kk := k.ring.Load().keks[p][v]; kk != nil {
		return kk, nil
	}
	return nil, fmt.Errorf("keyring: region %s: %s key v%d: %w", k.region, p, v, ErrUnknownVersion)
}

// kekFor is lookup that reloads the ring once if this process has not seen
// v yet (another process may have rotated).
func (k *Keyring) kekFor(ctx context.Context, p Purpose, v uint32) (*kek, error) {
	kk, err := k.lookup(p, v)
	if errors.Is(err, ErrUnknownVersion) {
		if _, err := k.refresh(ctx); err != nil {
			return nil, err
		}
		kk, err = k.lookup(p, v)
		if errors.Is(err, ErrUnknownVersion) {
			if gone, gerr := k.destroyed(ctx, p, v); gerr == nil && gone {
				return nil, fmt.Errorf("keyring: region %s: %s key v%d: %w", k.region, p, v, ErrDestroyed)
			}
		}
	}
	return kk, err
}

// activeLookup is lookup that also refuses retired versions.
func (k *Keyring) activeLookup(p Purpose, v uint32) (*kek, error) {
	kk, err := k.lookup(p, v)
	if err != nil {
		return nil, err
	}
	if kk.rec.state == Retired {
		return nil, fmt.Errorf("keyring: region %s: %s key v%d: %w", k.region, p, v, ErrRetired)
	}
	return kk, nil
}

// Active returns nil when version v of purpose p exists, is not retired
// and the keyring is open (what DeriveKey and BlindIndex check of the
// version); otherwise an error wrapping ErrUnknownVersion, ErrRetired or
// ErrClosed. It derives nothing.
func (k *Keyring) Active(p Purpose, v uint32) error {
	_, err := k.activeLookup(p, v)
	return err
}

// Region returns the region name.
func (k *Keyring) Region() string { return k.region }

// Suite returns the suite new work is done with: that of the current data
// version. It is the origin suite until Migrate.
func (k *Keyring) Suite() suite.Suite { return k.ring.Load().suite() }

// Origin returns the suite the keyring was made with (k/meta), which seals
// its root key and keys subject refs (index version 1).
func (k *Keyring) Origin() suite.Suite { return k.suite }

// SuiteOf returns the suite of version v of purpose p. Errors wrap
// ErrUnknownVersion or ErrClosed.
func (k *Keyring) SuiteOf(p Purpose, v uint32) (suite.Suite, error) {
	kk, err := k.lookup(p, v)
	if err != nil {
		return suite.Suite{}, err
	}
	return kk.suite, nil
}

// CurrentVersion returns the current version of purpose p (0 for an unknown
// purpose).
func (k *Keyring) CurrentVersion(p Purpose) uint32 { return k.ring.Load().current[p] }

// Close zeroes the key material the keyring holds: root key, KEKs, subkeys
// and cached DEKs. Expanded cipher states inside crypto/cipher values,
// parsed signing keys and the keyed states of the pooled MACs (subject
// refs, blind indexes) cannot be zeroed from outside and are left to the
// garbage collector; nothing takes from the pools once closed, and an
// unused sync.Pool drops what it holds within two collections. Every
// later call fails with ErrClosed.
func (k *Keyring) Close() {
	if k.closed.Swap(true) {
		return
	}
	k.jobs.close() // before zeroing: the job uses the keys
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.root)
	k.zeroRing(k.ring.Load())
	k.cache.zero()
}

func (k *Keyring) zeroRing(r *ring) {
	if r == nil {
		return
	}
	for _, vs := range r.keks {
		for _, kk := range vs {
			clear(kk.rec.secret)
			clear(kk.rec.signer)
			clear(kk.index)
			clear(kk.ref)
		}
	}
}
