package vault

import (
	"encoding/base32"
	"io"
	"strings"
)

// Record ids name their region, so any gateway can route a read without a
// global database: "rec_" + region + "_" + 26 base32 characters (128
// random bits). Region names never contain "_" (the policy forbids it).
const idPrefix = "rec_"

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecordID returns a fresh record id in region.
func newRecordID(rand io.Reader, region string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	return idPrefix + region + "_" + idEncoding.EncodeToString(b[:]), nil
}

// RegionOfID returns the region a record id names, and whether id is well
// formed.
func RegionOfID(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok {
		return "", false
	}
	region, rnd, ok := strings.Cut(rest, "_")
	if !ok || region == "" || len(rnd) != 26 {
		return "", false
	}
	if _, err := idEncoding.DecodeString(rnd); err != nil {
		return "", false
	}
	for _, c := range region {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", false
		}
	}
	return region, true
}
