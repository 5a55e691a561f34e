// Package paging is the one rule for the page size a caller asks for, in
// a ?limit= query parameter or a JSON limit: absent (0) means
// DefaultPageSize, negative is an invalid_request error, and anything
// above MaxPageSize is clamped to it. The vault, the API and the gateway
// all apply it, so a limit means the same wherever it is sent.
package paging

import (
	"strconv"

	"github.com/domicile/domicile/internal/errcode"
)

// Page sizes of listings and searches.
const (
	// DefaultPageSize is the page size when the caller gives none.
	DefaultPageSize = 50
	// MaxPageSize is the largest page; larger limits are clamped to it.
	MaxPageSize = 1000
)

// Size returns the page size for a caller's limit: DefaultPageSize for 0,
// limit clamped to MaxPageSize otherwise. A negative limit is an
// *errcode.Error with code invalid_request.
func Size(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, errcode.New(errcode.InvalidRequest, "limit must be a positive integer")
	case limit == 0:
		return DefaultPageSize, nil
	case limit > MaxPageSize:
		return MaxPageSize, nil
	}
	return limit, nil
}

// Param returns the page size for a ?limit= query parameter: the default
// when s is empty, else s must be a positive decimal integer, which Size
// clamps. Anything else, 0 included, is an *errcode.Error with code
// invalid_request.
func Param(s string) (int, error) {
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errcode.New(errcode.InvalidRequest, "limit must be a positive integer")
	}
	return Size(n)
}
