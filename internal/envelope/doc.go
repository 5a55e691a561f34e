// Package envelope is Domicile's versioned ciphertext format.
//
// Every encrypted field value and every wrapped key is an envelope. An
// envelope names the suite and the key version that sealed it, so that a
// region can rotate keys and migrate suites while old ciphertexts stay
// readable (DESIGN promise 7), and its AEAD associated data binds it to the
// place it belongs — region, collection, record and field — so that moving or
// swapping ciphertexts is detected (promise 4).
//
// # Format v1
//
// An envelope is the concatenation of:
//
//	version    1 byte      0xD1 ("Domicile, format 1"); any other value is rejected
//	suite len  1 byte      length of the suite id, 1..32
//	suite      len bytes   a known suite id: "cn" or "intl"
//	key ver    uvarint     the sealing key's version, 1..2^32-1, minimally encoded
//	nonce      12 bytes    suite.NonceSize, random
//	ciphertext >= 16 bytes the AEAD output: encrypted plaintext then the tag
//
// The first four fields are the header bytes. For "intl" and key versions
// below 128 the overhead over the plaintext is 35 bytes.
//
// Parse is strict: a byte string has at most one parse, and a successful
// Parse re-encodes with Marshal to exactly the same bytes (non-malleability).
//
// # Associated data
//
// The AEAD's associated data is, with each item written as a uvarint length
// followed by its bytes:
//
//	"domicile envelope v1" || header bytes || region || collection || record || field
//
// The length prefixes make the encoding injective: no two different
// (header, binding) pairs give the same associated data, so Open with any
// other header or binding fails with suite.ErrOpen. The binding is
// authenticated but not stored; the caller supplies it again to Open.
//
// # Nonces
//
// Nonces are 96 random bits, so one key must seal fewer than 2^32 envelopes
// (NIST SP 800-38D, 8.3). Domicile uses one DEK per subject and KEKs only
// wrap DEKs, which keeps every key far below that bound.
//
// # Adding a suite
//
// A new suite (for example "gost") needs one case in knownSuite and a golden
// envelope in testdata/golden.json.
package envelope
