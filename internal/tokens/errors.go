package tokens

import (
	"github.com/domicile/domicile/internal/errcode"
)

// Code is a stable error code, per item of a batch, one of
// internal/errcode's. The API turns each into an HTTP status or an item
// error; codes never change meaning once published. Codes shared with
// internal/vault mean the same there.
type Code = errcode.Code

// Error codes.
const (
	// Request errors (the caller can fix them; HTTP 400 unless noted).
	CodeTooMany             = errcode.TooManyItems        // whole batch: more than MaxBatch items
	CodeUnknownCollection   = errcode.UnknownCollection   // collection not in the policy
	CodeUnknownField        = errcode.UnknownField        // field not in the collection
	CodeNotTokenized        = errcode.NotTokenized        // the field has no token kind
	CodeInvalidValue        = errcode.InvalidValue        // value fails the field's normaliser or fpe format
	CodeFieldTooLarge       = errcode.FieldTooLarge       // value longer than the field's max_length
	CodeUnknownJurisdiction = errcode.UnknownJurisdiction // not an ISO 3166-1 alpha-2 code
	CodeMalformedToken      = errcode.MalformedToken      // not a token of this service's formats
	CodeNeedField           = errcode.TokenNeedsField     // an fpe token without collection and field
	CodeFieldMismatch       = errcode.FieldMismatch       // the token belongs to another collection or field
	CodeUnknownVersion      = errcode.UnknownKeyVersion   // no such token key version
	CodeInvalidSubject      = errcode.InvalidSubject      // a tokenize item's subject is too long
	CodeConflict            = errcode.Conflict            // concurrent first submissions kept winning (HTTP 409); retry

	// Where the data lives (HTTP 421 Misdirected Request suggested).
	CodeWrongRegion = errcode.WrongRegion // the token or jurisdiction belongs to another region

	// The token is valid but cannot be turned back (HTTP 404 or 410).
	CodeNotFound      = errcode.TokenNotFound // no mapping for this token in the region
	CodeRetired       = errcode.TokenRetired  // its key version was retired
	CodeSubjectErased = errcode.SubjectErased // its subject was erased (crypto-shredded)

	// Server-side failures (HTTP 500/503); the cause is in Error.Err.
	CodeIntegrity = errcode.Integrity // a stored entry failed to parse or authenticate
	CodeInternal  = errcode.Internal  // store or keyring failure
)

// Error is a tokenization error for one item, or for a whole batch: an
// *errcode.Error. Msg never contains a value or a token: both may be
// personal data. Field is the field concerned, if any
// (TokenizeRecordFields); Index is always -1 here; Err is the internal
// cause, for logs, never shown to API callers.
type Error = errcode.Error

func errorf(code Code, format string, args ...any) *Error {
	return errcode.New(code, format, args...)
}

func wrapf(code Code, cause error, format string, args ...any) *Error {
	return errcode.Wrap(code, cause, format, args...)
}

// CodeOf returns the code of err, or "" if err is not an *Error.
func CodeOf(err error) Code { return errcode.CodeOf(err) }

// truncate keeps names the caller sent short in messages; it is only used
// on collection and field names, never on values.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
