package vault

import (
	"github.com/domicile/domicile/internal/errcode"
)

// Code is a stable error code, one of internal/errcode's. The API turns
// each into an HTTP status and shows it to callers in problem+json; the CLI
// prints it. Codes never change meaning once published.
type Code = errcode.Code

// Error codes of the vault.
const (
	CodeUnknownCollection   = errcode.UnknownCollection
	CodeUnknownField        = errcode.UnknownField
	CodeMissingField        = errcode.MissingField
	CodeFieldTooLarge       = errcode.FieldTooLarge
	CodeInvalidValue        = errcode.InvalidValue
	CodeNotIndexed          = errcode.NotIndexed
	CodeUnknownJurisdiction = errcode.UnknownJurisdiction
	CodeWrongRegion         = errcode.WrongRegion
	CodeInvalidRecordID     = errcode.InvalidRecordID
	CodeInvalidSubject      = errcode.InvalidSubject
	CodeInvalidCursor       = errcode.InvalidCursor
	CodeNotFound            = errcode.NotFound
	CodeIdempotencyReused   = errcode.IdempotencyReused
	CodeTooMany             = errcode.TooManyRecords
	CodeIntegrity           = errcode.Integrity
	CodeSubjectErased       = errcode.SubjectErased
	// CodeConflict: concurrent writers of one record kept winning; the
	// request changed nothing and may be retried.
	CodeConflict = errcode.Conflict
	// CodeAuditUnavailable: the audit log could not record the operation,
	// so it was not done (fail closed).
	CodeAuditUnavailable = errcode.AuditUnavailable
)

// Error is a vault error a caller can act on: an *errcode.Error. Msg never
// contains a submitted value: values are personal data. Index is, for
// batch creates, the position of the offending record (-1 if none).
type Error = errcode.Error

func errorf(code Code, format string, args ...any) *Error {
	return errcode.New(code, format, args...)
}

// CodeOf returns the code of err, or "" if err is not an *Error.
func CodeOf(err error) Code { return errcode.CodeOf(err) }
