// Package errcode is Domicile's one vocabulary of stable error codes and
// the one error type that carries them. The vault, the token service, the
// access engine and the HTTP layer all answer with these codes; the HTTP
// layer (internal/web) maps each to a status. Codes are a published
// contract: once released, a code never changes its meaning or spelling.
//
// The package is a leaf: it imports only the standard library and never
// net/http, so domain packages can use it.
package errcode

import (
	"errors"
	"fmt"
)

// Code is a stable error code, shown to callers in problem+json documents
// and per-item errors, and printed by the CLI.
type Code string

// Request and protocol errors.
const (
	InvalidRequest   Code = "invalid_request"
	MalformedJSON    Code = "malformed_json"
	BodyTooLarge     Code = "body_too_large"
	HeaderTooLarge   Code = "header_too_large"
	NoSuchEndpoint   Code = "no_such_endpoint"
	MethodNotAllowed Code = "method_not_allowed"
	RateLimited      Code = "rate_limited"
	// TooManyItems: a tokenize or detokenize batch has more items than
	// one request takes.
	TooManyItems Code = "too_many_items"
)

// Authentication, principals and authorisation.
const (
	Unauthenticated  Code = "unauthenticated"
	Forbidden        Code = "forbidden"
	PrincipalLocked  Code = "principal_locked"
	PrincipalExists  Code = "principal_exists"
	NoSuchPrincipal  Code = "no_such_principal"
	InvalidPrincipal Code = "invalid_principal"
	// The access decision's denials.
	PermissionDenied Code = "permission_denied"
	RegionNotAllowed Code = "region_not_allowed"
	UnknownPurpose   Code = "unknown_purpose"
	TransferRequired Code = "transfer_required"
	ConditionNotMet  Code = "condition_not_met"
	// TransferMechanismInsufficient: a transfer rule lets the value leave,
	// but the mechanisms the policy records do not cover this transfer
	// (none for the destination, expired, or a yearly count of
	// individuals that needs a higher one).
	TransferMechanismInsufficient Code = "transfer_mechanism_insufficient"
	// ClearAccessRequired: the principal may see the field, but not in
	// clear (its role masks it, or the purpose does not allow clear).
	ClearAccessRequired Code = "clear_access_required"
)

// Regions and routing.
const (
	RegionSealed      Code = "region_sealed"
	RegionUnavailable Code = "region_unavailable"
	UnknownRegion     Code = "unknown_region"
	CrossRegionBatch  Code = "cross_region_batch"
	// WrongRegion: the record, token or jurisdiction belongs to another
	// region than the node's.
	WrongRegion Code = "wrong_region"
)

// Policy changes.
const (
	// InvalidPolicy: a policy sent to reload does not parse or validate;
	// the detail names the line and the fix.
	InvalidPolicy Code = "invalid_policy"
	// PolicyChangeRefused: a valid policy changes what a reload may not
	// change (the regions, a region's suite, where a jurisdiction's data
	// lives, a collection or a stored field's shape).
	PolicyChangeRefused Code = "policy_change_refused"
)

// Records, fields and values.
const (
	UnknownCollection   Code = "unknown_collection"
	UnknownField        Code = "unknown_field"
	MissingField        Code = "missing_field"
	FieldTooLarge       Code = "field_too_large"
	InvalidValue        Code = "invalid_value"
	NotIndexed          Code = "field_not_indexed"
	UnknownJurisdiction Code = "unknown_jurisdiction"
	InvalidRecordID     Code = "invalid_record_id"
	InvalidSubject      Code = "invalid_subject"
	InvalidCursor       Code = "invalid_cursor"
	NotFound            Code = "not_found"
	IdempotencyReused   Code = "idempotency_key_reused"
	TooManyRecords      Code = "too_many_records"
	SubjectErased       Code = "subject_erased"
	// Conflict: concurrent writers of one record kept winning; the
	// request changed nothing and may be retried.
	Conflict Code = "conflict"
)

// Tokens.
const (
	NotTokenized      Code = "field_not_tokenized"
	MalformedToken    Code = "malformed_token"
	TokenNeedsField   Code = "token_needs_field"
	TokenNeedsRegion  Code = "token_needs_region"
	FieldMismatch     Code = "field_mismatch"
	UnknownKeyVersion Code = "unknown_key_version"
	TokenNotFound     Code = "token_not_found"
	TokenRetired      Code = "token_retired"
)

// The audit log and server-side failures.
const (
	// AuditUnavailable: the audit log could not record the operation, so
	// it was not done (fail closed).
	AuditUnavailable Code = "audit_unavailable"
	// AuditOutOfRange: no such entry or tree size in the region's log.
	AuditOutOfRange Code = "audit_out_of_range"
	// Integrity: stored data failed to parse or authenticate.
	Integrity Code = "integrity_failure"
	// Internal: an unexpected server-side failure; the cause is logged,
	// never shown.
	Internal Code = "internal_error"
)

// NoIndex is the Index of an error that concerns no item of a batch.
const NoIndex = -1

// Error is an error a caller can act on. Msg is shown to callers and never
// holds a submitted value (values are personal data); Err is the internal
// cause, for the server's log only.
type Error struct {
	Code Code
	Msg  string
	// Field is the field concerned, if any.
	Field string
	// Index is the position of the offending item in a batch, or NoIndex
	// (-1). Build errors with New or Wrap, which set it to NoIndex.
	Index int
	// Err is the internal cause, never shown to callers.
	Err error
}

// Error returns "code: msg", followed by ": cause" when there is one.
func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and a message made as fmt.Sprintf does.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Index: NoIndex}
}

// Wrap is New with an internal cause, which Unwrap returns and callers
// never see.
func Wrap(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Index: NoIndex, Err: cause}
}

// CodeOf returns the code of the first *Error in err's chain, or "" if
// there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
