// Package bearer is the format of Domicile API tokens, the bearer tokens
// principals authenticate with:
//
//	dmc_<52 characters of lower-case unpadded base32>
//
// that is, the prefix and 256 random bits. The prefix lets secret scanners
// recognise a leaked token. The package is a leaf: the gateway mints the
// token of a new principal here, once, for every region; internal/access
// checks and stores it.
package bearer

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// Prefix marks Domicile API tokens.
const Prefix = "dmc_"

// encoding is lower-case base32 without padding: 256 bits make 52
// characters.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Len is the length of a token.
const Len = len(Prefix) + 52

// New returns a fresh API token: the prefix and 256 random bits.
func New() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return Prefix + encoding.EncodeToString(b[:])
}

// WellFormed reports whether tok looks like a Domicile token.
func WellFormed(tok string) bool {
	if len(tok) != Len || !strings.HasPrefix(tok, Prefix) {
		return false
	}
	_, err := encoding.DecodeString(tok[len(Prefix):])
	return err == nil
}

// ID is the public part of a token shown in listings: the prefix and its
// first 8 characters; "" for a string too short to be a token.
func ID(tok string) string {
	if len(tok) < len(Prefix)+8 {
		return ""
	}
	return tok[:len(Prefix)+8]
}
