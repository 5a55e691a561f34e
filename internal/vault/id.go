package vault

import (
	"io"

	"github.com/domicile/domicile/internal/recid"
)

// Record ids name their region, so any gateway can route a read without a
// global database; the format is package recid's.

// newRecordID returns a fresh record id in region.
func newRecordID(rand io.Reader, region string) (string, error) {
	return recid.New(rand, region)
}

// RegionOfID returns the region a record id names, and whether id is well
// formed. It is recid.RegionOf.
func RegionOfID(id string) (string, bool) { return recid.RegionOf(id) }
