package tokens

import (
	"cmp"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"hash"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/token/ff1"
)

// HKDF labels of the keys derived from a token KEK version (the keyring
// prefixes its own "domicile derived v1 token "). Each is used for exactly
// one purpose; changing one orphans every token of its kind.
const (
	labelMAC  = "tokens mac v1"
	labelSeal = "tokens seal v1"
	labelFPE  = "tokens fpe v1"
	labelLive = "tokens fpe live v1"
)

// verKeys are the keys of one token KEK version, derived once, with the
// version's suite (a region that migrated suite keeps older versions of the
// suite it had).
type verKeys struct {
	version uint32
	suite   suite.Suite
	macKey  []byte
	macs    sync.Pool // of *macState
	liveKey []byte
	lives   sync.Pool // of *macState, under liveKey
	seal    cipher.AEAD
	fpe     sync.Map // *fieldInfo -> *ff1.Cipher
	fpeMu   sync.Mutex
}

// versionCache holds the derived keys of every version seen. Whether a
// version is still usable (not retired) is checked against the keyring at
// least once per batch (versionMemo), so cached keys never outlive a
// retirement that this process has seen.
type versionCache struct {
	mu sync.RWMutex
	m  map[uint32]*verKeys
}

// keyError maps a keyring error about a token key version to an *Error.
func keyError(v uint32, err error) *Error {
	switch {
	case errors.Is(err, keyring.ErrRetired):
		return wrapf(CodeRetired, err, "token key version %d is retired", v)
	case errors.Is(err, keyring.ErrUnknownVersion):
		return wrapf(CodeUnknownVersion, err, "no token key version %d in this region", v)
	}
	return wrapf(CodeInternal, err, "token key version %d", v)
}

// probe asks the keyring whether version v is usable (exists, not
// retired, keyring open).
func (s *Service) probe(v uint32) *Error {
	if v == 0 {
		return errorf(CodeUnknownVersion, "token key version 0 does not exist")
	}
	if err := s.keys.Active(keyring.Token, v); err != nil {
		return keyError(v, err)
	}
	return nil
}

// derive returns the cached keys of v, deriving them on first use. It does
// not check retirement; use versionMemo.
func (s *Service) derive(v uint32) (*verKeys, *Error) {
	s.vers.mu.RLock()
	vk := s.vers.m[v]
	s.vers.mu.RUnlock()
	if vk != nil {
		return vk, nil
	}
	su, err := s.keys.SuiteOf(keyring.Token, v)
	if err != nil {
		return nil, keyError(v, err)
	}
	macKey, err := s.keys.DeriveKey(keyring.Token, v, labelMAC, su.MAC().Size())
	if err != nil {
		return nil, keyError(v, err)
	}
	sealKey, err := s.keys.DeriveKey(keyring.Token, v, labelSeal, su.AEAD().KeySize())
	if err != nil {
		return nil, keyError(v, err)
	}
	liveKey, err := s.keys.DeriveKey(keyring.Token, v, labelLive, su.MAC().Size())
	if err != nil {
		return nil, keyError(v, err)
	}
	a, err := su.AEAD().New(sealKey)
	clear(sealKey)
	if err != nil {
		return nil, wrapf(CodeInternal, err, "token key version %d", v)
	}
	vk = &verKeys{version: v, suite: su, macKey: macKey, seal: a, liveKey: liveKey}
	mac := su.MAC()
	vk.macs.New = func() any { return &macState{h: mac.New(vk.macKey)} }
	vk.lives.New = func() any { return &macState{h: mac.New(vk.liveKey)} }
	s.vers.mu.Lock()
	defer s.vers.mu.Unlock()
	if s.vers.m == nil {
		s.vers.m = map[uint32]*verKeys{}
	}
	if old := s.vers.m[v]; old != nil {
		return old, nil
	}
	s.vers.m[v] = vk
	return vk, nil
}

// versionMemo checks each key version once per batch.
type versionMemo struct {
	s    *Service
	vs   []uint32
	keys []*verKeys
	errs []*Error
}

func (m *versionMemo) get(v uint32) (*verKeys, *Error) {
	for i, have := range m.vs {
		if have == v {
			return m.keys[i], m.errs[i]
		}
	}
	var vk *verKeys
	err := m.s.probe(v)
	if err == nil {
		vk, err = m.s.derive(v)
	}
	m.vs = append(m.vs, v)
	m.keys = append(m.keys, vk)
	m.errs = append(m.errs, err)
	return vk, err
}

// macState is a pooled MAC with its scratch buffers.
type macState struct {
	h   hash.Hash
	in  []byte
	sum []byte
}

// mac computes the deterministic token MAC of (collection, field,
// normalised value) under vk, truncated to tokfmt.IDSize bytes, into dst.
func (vk *verKeys) mac(dst []byte, coll, field, norm string) {
	m := vk.macs.Get().(*macState)
	m.h.Reset()
	m.in = appendLP(m.in[:0], coll)
	m.in = appendLP(m.in, field)
	m.in = appendLP(m.in, norm)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	copy(dst, m.sum)
	vk.macs.Put(m)
}

// liveMAC computes the key of an fpe token's live entries: a MAC of
// (collection, field, token) under vk's live key, truncated to
// tokfmt.IDSize bytes, into dst. Without the token key nobody can tell
// which token an entry belongs to, nor enumerate values.
func (vk *verKeys) liveMAC(dst []byte, coll, field, tok string) {
	m := vk.lives.Get().(*macState)
	m.h.Reset()
	m.in = appendLP(m.in[:0], coll)
	m.in = appendLP(m.in, field)
	m.in = appendLP(m.in, tok)
	m.h.Write(m.in)
	m.sum = m.h.Sum(m.sum[:0])
	copy(dst, m.sum)
	vk.lives.Put(m)
}

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// fpeCipher returns the FF1 cipher of fi under vk, building it on first
// use: FF1 over the suite's block cipher with a key derived for
// (version, collection, field).
func (s *Service) fpeCipher(vk *verKeys, fi *fieldInfo) (*ff1.Cipher, *Error) {
	if c, ok := vk.fpe.Load(fi); ok {
		return c.(*ff1.Cipher), nil
	}
	vk.fpeMu.Lock()
	defer vk.fpeMu.Unlock()
	if c, ok := vk.fpe.Load(fi); ok {
		return c.(*ff1.Cipher), nil
	}
	label := string(appendLP(appendLP([]byte(labelFPE+" "), fi.coll), fi.name))
	key, err := s.keys.DeriveKey(keyring.Token, vk.version, label, vk.suite.BlockKeySize())
	if err != nil {
		return nil, keyError(vk.version, err)
	}
	b, err := vk.suite.Block(key)
	clear(key)
	if err != nil {
		return nil, wrapf(CodeInternal, err, "fpe key")
	}
	c, err := ff1.New(b, fi.fpe.Radix(), nil)
	if err != nil {
		return nil, wrapf(CodeInternal, err, "fpe cipher")
	}
	vk.fpe.Store(fi, c)
	return c, nil
}

// seenSet remembers store keys of deterministic entries known to exist, in
// shards that are emptied when full. A miss only costs a store read. A
// batch looks up and adds 100 keys at a time from many requests at once, so
// the shards are many and addAll takes each shard's lock once.
type seenSet struct {
	seed   maphash.Seed
	shards [seenShards]seenShard
	max    int // per shard
}

const seenShards = 256

type seenShard struct {
	mu sync.Mutex
	m  map[seenKey]struct{}
}

// seenKey is a store key of at most seenKeyMax bytes, zero-padded, with
// its length in the last byte: exact, like the key itself, and free of
// pointers, so that the garbage collector does not visit the set's
// entries (a string per entry was a few percent of a tokenize's CPU, in
// marking alone). Every key the set holds (deterministic entries and fpe
// live prefixes, 25 bytes) fits; a longer one is never remembered.
type seenKey [seenKeyMax + 1]byte

const seenKeyMax = 31

// seenKeyOf returns k as a seenKey; false when k is too long to be one.
func seenKeyOf(k []byte) (sk seenKey, ok bool) {
	if len(k) > seenKeyMax {
		return sk, false
	}
	copy(sk[:], k)
	sk[seenKeyMax] = byte(len(k))
	return sk, true
}

func newSeenSet(size int) *seenSet {
	s := &seenSet{seed: maphash.MakeSeed(), max: max(1, size/seenShards)}
	for i := range s.shards {
		s.shards[i].m = map[seenKey]struct{}{}
	}
	return s
}

func (s *seenSet) shard(k []byte) *seenShard {
	return &s.shards[maphash.Bytes(s.seed, k)%uint64(len(s.shards))]
}

func (s *seenSet) has(k []byte) bool {
	if s == nil {
		return false
	}
	sk, ok := seenKeyOf(k)
	if !ok {
		return false
	}
	sh := s.shard(k)
	sh.mu.Lock()
	_, ok = sh.m[sk]
	sh.mu.Unlock()
	return ok
}

func (s *seenSet) add(k []byte) {
	if s == nil {
		return
	}
	sh := s.shard(k)
	sh.mu.Lock()
	sh.put(k, s.max)
	sh.mu.Unlock()
}

// addAll adds keys, taking each shard's lock once.
func (s *seenSet) addAll(keys [][]byte) {
	if s == nil || len(keys) == 0 {
		return
	}
	type keyShard struct {
		shard uint64
		key   []byte
	}
	byShard := make([]keyShard, len(keys))
	for i, k := range keys {
		byShard[i] = keyShard{maphash.Bytes(s.seed, k) % seenShards, k}
	}
	slices.SortFunc(byShard, func(a, b keyShard) int { return cmp.Compare(a.shard, b.shard) })
	for i := 0; i < len(byShard); {
		sh := &s.shards[byShard[i].shard]
		sh.mu.Lock()
		for j := i; i < len(byShard) && byShard[i].shard == byShard[j].shard; i++ {
			sh.put(byShard[i].key, s.max)
		}
		sh.mu.Unlock()
	}
}

// put adds k, emptying the shard first when it is full; the caller holds mu.
func (sh *seenShard) put(k []byte, max int) {
	sk, ok := seenKeyOf(k)
	if !ok {
		return
	}
	if len(sh.m) >= max {
		clear(sh.m)
	}
	sh.m[sk] = struct{}{}
}

// Store keys.
const (
	prefixRandom  = "x/r/"
	prefixDet     = "x/d/"
	prefixLive    = "x/f/" // live entries of fpe tokens
	prefixSubject = "x/s/" // per subject: the live entries to delete on erasure
	keyFPEMode    = "x/m/fpe"
	keyFoldMode   = "x/m/fold"
)

func randomKey(id []byte) []byte {
	k := make([]byte, 0, len(prefixRandom)+len(id))
	return append(append(k, prefixRandom...), id...)
}

// detPrefix is the prefix of every entry of one deterministic token, with
// room for a subject ref after it.
func detPrefix(v uint32, mac []byte) []byte {
	return append(detKey(v, mac, 1+64), '/')
}

// detAnchor is the key of a deterministic token's anchor: a generation
// number (4 bytes BE, no value) that every write of an entry of the token
// expects or creates, so that concurrent first submissions serialise and
// the value as first submitted is the one every entry keeps.
func detAnchor(v uint32, mac []byte) []byte { return detKey(v, mac, 0) }

// detKey is the anchor's key with room for room more bytes: a token's
// anchor is read or claimed several times a batch, and an anchor with
// detPrefix's room took twice the bytes.
func detKey(v uint32, mac []byte, room int) []byte {
	k := make([]byte, 0, len(prefixDet)+4+len(mac)+room)
	k = append(k, prefixDet...)
	k = binary.BigEndian.AppendUint32(k, v)
	return append(k, mac...)
}

// livePrefix is the prefix of the live entries of one fpe token: the
// region's (a stand-alone token without a subject) at the prefix itself,
// each subject's at prefix || subject ref.
func livePrefix(v uint32, mac []byte) []byte {
	k := make([]byte, 0, len(prefixLive)+4+len(mac)+1+64)
	k = append(k, prefixLive...)
	k = binary.BigEndian.AppendUint32(k, v)
	k = append(k, mac...)
	return append(k, '/')
}

// subjectIndexPrefix is the prefix of a subject's index of live entries.
func subjectIndexPrefix(ref []byte) []byte {
	k := make([]byte, 0, len(prefixSubject)+len(ref)+1+96)
	k = append(k, prefixSubject...)
	k = append(k, ref...)
	return append(k, '/')
}
