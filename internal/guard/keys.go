package guard

import (
	"encoding/binary"
	"errors"
	"strings"
)

// Storage layout, in the region's store (every key under "g/"):
//
//	g/w/<principal>/<gran>/<bucket>/<node>   this node's totals for one time bucket
//	g/b/<principal>/<seq>                    the principal's baseline (one key at a time)
//	g/u/<principal>                          the last unlock and what it forgave
//	g/a/<alert id>                           an alert (JSON); ids sort by time
//	g/x/<principal>/<rule>/<period>          marks an alert raised, so nodes raise it once
//	g/h/r/<mac>, g/h/t/<mac>                 decoy records and tokens, by the keyed
//	                                         MAC of their id or token (decoyMAC)
//	g/h/p/<plan id>                          decoys scheduled, not planted yet (DecoyPlan)
//	counter g/h#                             bumped whenever decoys are added
//
// <gran> is one byte (m, h, d), <bucket>, <seq> and <period> are 8-byte
// big-endian numbers so that keys sort by time, and <node> is the random id
// of one Guard instance. Nothing under g/ holds a personal value.
const (
	prefixWindow    = "g/w/"
	prefixBaseline  = "g/b/"
	prefixUnlock    = "g/u/"
	prefixAlert     = "g/a/"
	prefixRaised    = "g/x/"
	prefixDecoyRec  = "g/h/r/"
	prefixDecoyTok  = "g/h/t/"
	prefixDecoyPlan = "g/h/p/"
	counterDecoys   = "g/h#"
)

// ErrPrincipal is returned for an empty principal id or one that could not
// be part of a key.
var ErrPrincipal = errors.New("guard: invalid principal id")

func checkPrincipal(id string) error {
	if id == "" || len(id) > 256 || strings.ContainsAny(id, "/\x00") {
		return ErrPrincipal
	}
	return nil
}

// be64 returns b followed by n as 8 big-endian bytes, in a new array even
// when b has room to spare.
func be64(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(b[:len(b):len(b)], uint64(n))
}

// windowPrefix is g/w/<principal>/<gran>/.
func windowPrefix(principal string, gran byte) []byte {
	b := make([]byte, 0, len(prefixWindow)+len(principal)+3+8+1+16)
	b = append(append(append(b, prefixWindow...), principal...), '/', gran, '/')
	return b
}

func windowKey(principal string, gran byte, bucket int64, node string) []byte {
	b := be64(windowPrefix(principal, gran), bucket)
	return append(append(b, '/'), node...)
}

// parseWindowKey returns the bucket and node of a key under prefix.
func parseWindowKey(prefix, key []byte) (bucket int64, node string, ok bool) {
	rest := key[len(prefix):]
	if len(rest) < 10 || rest[8] != '/' {
		return 0, "", false
	}
	return int64(binary.BigEndian.Uint64(rest)), string(rest[9:]), true
}

func baselinePrefix(principal string) []byte { return []byte(prefixBaseline + principal + "/") }

func baselineKey(principal string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(baselinePrefix(principal), seq)
}

func unlockKey(principal string) []byte { return []byte(prefixUnlock + principal) }

func alertKey(id string) []byte { return []byte(prefixAlert + id) }

func raisedKey(principal, rule string, period int64) []byte {
	return be64([]byte(prefixRaised+principal+"/"+rule+"/"), period)
}

func decoyRecordKey(mac string) []byte { return []byte(prefixDecoyRec + mac) }
func decoyTokenKey(mac string) []byte  { return []byte(prefixDecoyTok + mac) }

// hash64 is a keyed 64-bit hash for the sketches: FNV-1a from a secret
// offset, finished with MurmurHash3's fmix64 so every output bit depends
// on every input bit. It is not a MAC; the key only keeps callers from
// choosing values that collide.
func hash64(seed uint64, b []byte) uint64 {
	h := seed
	for _, c := range b {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func hashString(seed uint64, s string) uint64 {
	h := seed
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
