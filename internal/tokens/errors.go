package tokens

import (
	"errors"
	"fmt"
)

// Code is a stable error code, per item of a batch. The API turns each into
// an HTTP status and shows it in problem+json; codes never change meaning
// once published. Codes shared with internal/vault mean the same there.
type Code string

// Error codes.
const (
	// Request errors (the caller can fix them; HTTP 400 unless noted).
	CodeTooMany             Code = "too_many_items"       // whole batch: more than MaxBatch items
	CodeUnknownCollection   Code = "unknown_collection"   // collection not in the policy
	CodeUnknownField        Code = "unknown_field"        // field not in the collection
	CodeNotTokenized        Code = "field_not_tokenized"  // the field has no token kind
	CodeInvalidValue        Code = "invalid_value"        // value fails the field's normaliser or fpe format
	CodeFieldTooLarge       Code = "field_too_large"      // value longer than the field's max_length
	CodeUnknownJurisdiction Code = "unknown_jurisdiction" // not an ISO 3166-1 alpha-2 code
	CodeMalformedToken      Code = "malformed_token"      // not a token of this service's formats
	CodeNeedField           Code = "token_needs_field"    // an fpe token without collection and field
	CodeFieldMismatch       Code = "field_mismatch"       // the token belongs to another collection or field
	CodeUnknownVersion      Code = "unknown_key_version"  // no such token key version

	// Where the data lives (HTTP 421 Misdirected Request suggested).
	CodeWrongRegion Code = "wrong_region" // the token or jurisdiction belongs to another region

	// The token is valid but cannot be turned back (HTTP 404 or 410).
	CodeNotFound      Code = "token_not_found" // no mapping for this token in the region
	CodeRetired       Code = "token_retired"   // its key version was retired
	CodeSubjectErased Code = "subject_erased"  // its subject was erased (crypto-shredded)

	// Server-side failures (HTTP 500/503); the cause is in Error.Err.
	CodeIntegrity Code = "integrity_failure" // a stored entry failed to parse or authenticate
	CodeInternal  Code = "internal"          // store or keyring failure
)

// Error is a tokenization error for one item, or for a whole batch. Msg
// never contains a value or a token: both may be personal data.
type Error struct {
	Code Code
	Msg  string
	// Field is the field concerned, if any (TokenizeRecordFields).
	Field string
	// Err is the internal cause, for logs; never shown to API callers.
	Err error
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func wrapf(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// CodeOf returns the code of err, or "" if err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// truncate keeps names the caller sent short in messages; it is only used
// on collection and field names, never on values.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
