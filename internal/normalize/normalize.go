// Package normalize turns submitted values into the canonical form that blind
// indexes are computed over, so that an equality search matches a stored
// value whatever the case, spacing or format either was written in.
//
// A normaliser is a Func, chosen by name with ByName; policy files name them
// per field. Every rejection wraps ErrInvalid, and no error message ever
// contains the value: values are personal data and errors end up in logs.
//
// Every normaliser is idempotent: normalising its own output again returns
// the same output. The fuzz tests check this.
package normalize

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Func normalises value. jurisdiction is the record's (ISO 3166-1 alpha-2,
// upper case); normalisers use it where the format depends on the country,
// for example as the default region of phone numbers written without a
// country code. A rejected value gives an error wrapping ErrInvalid whose
// message does not contain the value.
type Func func(value, jurisdiction string) (string, error)

// ErrInvalid is wrapped by every rejection of a value.
var ErrInvalid = errors.New("normalize: invalid value")

// Names of the normalisers, as policy files write them.
const (
	None       = "none"
	Email      = "email"
	Phone      = "phone"
	NationalID = "national_id"
	Name       = "name"
	Date       = "date"
)

// Names returns the names ByName accepts, in a stable order.
func Names() []string {
	return []string{None, Email, Phone, NationalID, Name, Date}
}

// ErrUnknown is wrapped by ByName when no normaliser has the name.
var ErrUnknown = errors.New("normalize: unknown normalizer")

// ByName returns the normaliser called name: "none", "email", "phone",
// "national_id", "name" or "date". Any other name gives an error wrapping
// ErrUnknown.
func ByName(name string) (Func, error) {
	switch name {
	case None:
		return NormalizeNone, nil
	case Email:
		return NormalizeEmail, nil
	case Phone:
		return NormalizePhone, nil
	case NationalID:
		return NormalizeNationalID, nil
	case Name:
		return NormalizeName, nil
	case Date:
		return NormalizeDate, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
}

// NormalizeNone returns value unchanged.
func NormalizeNone(value, _ string) (string, error) { return value, nil }

// invalid returns an error wrapping ErrInvalid. kind names the normaliser and
// reason says what is wrong in words that never quote the value.
func invalid(kind, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, kind, reason)
}

// checkText rejects invalid UTF-8 and control characters, which no
// normalised text field accepts.
func checkText(kind, s string) error {
	if !utf8.ValidString(s) {
		return invalid(kind, "not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return invalid(kind, "contains a control character")
		}
	}
	return nil
}
