package vault

import (
	"errors"
	"fmt"
)

// Code is a stable error code. The API turns each into an HTTP status and
// shows it to callers in problem+json; the CLI prints it. Codes never change
// meaning once published.
type Code string

// Error codes of the vault.
const (
	CodeUnknownCollection   Code = "unknown_collection"
	CodeUnknownField        Code = "unknown_field"
	CodeMissingField        Code = "missing_field"
	CodeFieldTooLarge       Code = "field_too_large"
	CodeInvalidValue        Code = "invalid_value"
	CodeNotIndexed          Code = "field_not_indexed"
	CodeUnknownJurisdiction Code = "unknown_jurisdiction"
	CodeWrongRegion         Code = "wrong_region"
	CodeInvalidRecordID     Code = "invalid_record_id"
	CodeInvalidSubject      Code = "invalid_subject"
	CodeInvalidCursor       Code = "invalid_cursor"
	CodeNotFound            Code = "not_found"
	CodeIdempotencyReused   Code = "idempotency_key_reused"
	CodeTooMany             Code = "too_many_records"
	CodeIntegrity           Code = "integrity_failure"
	CodeSubjectErased       Code = "subject_erased"
	// CodeConflict: concurrent writers of one record kept winning; the
	// request changed nothing and may be retried.
	CodeConflict Code = "conflict"
	// CodeAuditUnavailable: the audit log could not record the operation,
	// so it was not done (fail closed).
	CodeAuditUnavailable Code = "audit_unavailable"
)

// Error is a vault error a caller can act on. Msg never contains a submitted
// value: values are personal data.
type Error struct {
	Code  Code
	Msg   string
	Field string // the field concerned, if any
	Index int    // for batch creates: the position of the offending record (-1 if none)
	Err   error  // internal cause, for logs; never shown to API callers
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Index: -1}
}

// CodeOf returns the code of err, or "" if err is not a vault error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
