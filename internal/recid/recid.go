// Package recid is the format of Domicile record ids. A record id names
// its region, so any gateway can route a request for the record without a
// global database:
//
//	rec_<region>_<26 characters of lower-case unpadded base32>
//
// The random part is 128 bits (RFC 4648 alphabet, "a-z2-7"). Region names
// never contain "_" (the policy forbids it). The package is a leaf: the
// vault mints ids with New, the gateway routes by RegionOf.
package recid

import (
	"encoding/base32"
	"io"
	"strings"
)

// Prefix starts every record id.
const Prefix = "rec_"

// randLen is the length of the random part: 128 bits in base32.
const randLen = 26

var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns a fresh record id in region, reading 16 bytes from rand.
func New(rand io.Reader, region string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	return Prefix + region + "_" + encoding.EncodeToString(b[:]), nil
}

// RegionOf returns the region a record id names, and whether id is well
// formed.
func RegionOf(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, Prefix)
	if !ok {
		return "", false
	}
	region, rnd, ok := strings.Cut(rest, "_")
	if !ok || region == "" || len(rnd) != randLen {
		return "", false
	}
	if _, err := encoding.DecodeString(rnd); err != nil {
		return "", false
	}
	for _, c := range region {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", false
		}
	}
	return region, true
}
