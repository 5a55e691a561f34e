package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/vault"
)

// API error codes that are not vault codes.
const (
	CodeMalformedJSON    = "malformed_json"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeNotFoundRoute    = "no_such_endpoint"
	CodeMethod           = "method_not_allowed"
	CodeSealed           = "region_sealed"
	CodeInvalidRequest   = "invalid_request"
	CodeUnavailable      = "region_unavailable"
	CodeInternal         = "internal_error"
	CodeCrossRegionBatch = "cross_region_batch"
	CodeUnknownRegion    = "unknown_region"
	CodeRateLimited      = "rate_limited"
	CodePrincipalExists  = "principal_exists"
	CodeNoPrincipal      = "no_such_principal"
	CodeInvalidPrincipal = "invalid_principal"
)

// statusOf is the one table from error codes to HTTP statuses. Every code
// the API can answer with is here; the OpenAPI document lists them.
var statusOf = map[string]int{
	string(vault.CodeUnknownCollection):   http.StatusBadRequest,
	string(vault.CodeUnknownField):        http.StatusBadRequest,
	string(vault.CodeMissingField):        http.StatusBadRequest,
	string(vault.CodeFieldTooLarge):       http.StatusRequestEntityTooLarge,
	string(vault.CodeInvalidValue):        http.StatusBadRequest,
	string(vault.CodeNotIndexed):          http.StatusBadRequest,
	string(vault.CodeUnknownJurisdiction): http.StatusBadRequest,
	string(vault.CodeWrongRegion):         http.StatusMisdirectedRequest,
	string(vault.CodeInvalidRecordID):     http.StatusBadRequest,
	string(vault.CodeInvalidSubject):      http.StatusBadRequest,
	string(vault.CodeInvalidCursor):       http.StatusBadRequest,
	string(vault.CodeNotFound):            http.StatusNotFound,
	string(vault.CodeIdempotencyReused):   http.StatusUnprocessableEntity,
	string(vault.CodeTooMany):             http.StatusBadRequest,
	string(vault.CodeIntegrity):           http.StatusInternalServerError,
	string(vault.CodeSubjectErased):       http.StatusGone,
	string(vault.CodeConflict):            http.StatusConflict,
	string(vault.CodeAuditUnavailable):    http.StatusServiceUnavailable,
	CodeAuditOutOfRange:                   http.StatusNotFound,
	CodeMalformedJSON:                     http.StatusBadRequest,
	CodeBodyTooLarge:                      http.StatusRequestEntityTooLarge,
	CodeUnauthenticated:                   http.StatusUnauthorized,
	CodeForbidden:                         http.StatusForbidden,
	CodeNotFoundRoute:                     http.StatusNotFound,
	CodeMethod:                            http.StatusMethodNotAllowed,
	CodeSealed:                            http.StatusServiceUnavailable,
	CodeInvalidRequest:                    http.StatusBadRequest,
	CodeUnavailable:                       http.StatusBadGateway,
	CodeInternal:                          http.StatusInternalServerError,
	CodeCrossRegionBatch:                  http.StatusBadRequest,
	CodeUnknownRegion:                     http.StatusNotFound,
	CodeRateLimited:                       http.StatusTooManyRequests,
	CodePrincipalLocked:                   http.StatusForbidden,
	access.CodePermissionDenied:           http.StatusForbidden,
	access.CodeRegionDenied:               http.StatusForbidden,
	access.CodeConditionFailed:            http.StatusForbidden,
	access.CodeTransferRequired:           http.StatusForbidden,
	access.CodePurposeUnknown:             http.StatusBadRequest,
	CodePrincipalExists:                   http.StatusConflict,
	CodeNoPrincipal:                       http.StatusNotFound,
	CodeInvalidPrincipal:                  http.StatusBadRequest,
	CodeTooManyItems:                      http.StatusBadRequest,
}

// hints tell callers what to do next, per code.
var hints = map[string]string{
	string(vault.CodeUnknownJurisdiction): "use an ISO 3166-1 alpha-2 country code such as CN, DE or US",
	string(vault.CodeWrongRegion):         "send the request through the gateway, or to the node of the region named in the detail",
	string(vault.CodeNotIndexed):          "search only fields the policy marks index: true",
	string(vault.CodeIdempotencyReused):   "use a new Idempotency-Key for a different request",
	CodeUnauthenticated:                   "send 'Authorization: Bearer <token>'; dev mode writes the admin token to DATA/admin.token",
	CodeSealed:                            "start the node with the region's unseal secret (DOMICILE_UNSEAL_<REGION> or --unseal-file)",
	CodeCrossRegionBatch:                  "send one batch per region; a batch is atomic and lives in one region",
	CodeBodyTooLarge:                      "split the request into smaller batches",
	access.CodePermissionDenied:           "ask an administrator for a role that grants the permission named in the detail",
	access.CodeTransferRequired:           "the region's data may leave it only under a transfer rule in the policy",
	access.CodePurposeUnknown:             "send a Domicile-Purpose header naming a purpose listed in the policy",
	CodeRateLimited:                       "too many failed authentications from this address; wait for Retry-After seconds",
	CodeMalformedJSON:                     "send a JSON body with 'Content-Type: application/json'; the OpenAPI document at /v1/openapi.json has the shapes",
}

// Error is an API error with a stable code. Detail is shown to callers and
// never holds a submitted value; Err is for the server's log only.
type Error struct {
	Code   string
	Detail string
	Field  string
	Index  *int
	Err    error
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an API error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// problemOf turns any error into a problem document.
func problemOf(err error) (client.Problem, error) {
	var p client.Problem
	var ae *Error
	var ve *vault.Error
	switch {
	case errors.As(err, &ae):
		p.Code, p.Detail, p.Field, p.Index = ae.Code, ae.Detail, ae.Field, ae.Index
	case errors.As(err, &ve):
		p.Code, p.Detail, p.Field = string(ve.Code), ve.Msg, ve.Field
		if ve.Index >= 0 {
			i := ve.Index
			p.Index = &i
		}
	case errors.Is(err, access.ErrExists):
		p.Code, p.Detail = CodePrincipalExists, "a principal with that id exists"
	case errors.Is(err, access.ErrNoPrincipal):
		p.Code, p.Detail = CodeNoPrincipal, "no principal with that id"
	case errors.Is(err, access.ErrInvalid):
		p.Code, p.Detail = CodeInvalidPrincipal, strings.TrimPrefix(err.Error(), "access: invalid principal: ")
	case errors.Is(err, keyring.ErrSealed), errors.Is(err, keyring.ErrWrongSecret):
		p.Code, p.Detail = CodeSealed, "the region is sealed"
	default:
		p.Code, p.Detail = CodeInternal, "internal error; the request id identifies it in the server log"
	}
	st, ok := statusOf[p.Code]
	if !ok {
		st = http.StatusInternalServerError
	}
	p.Status = st
	p.Title = http.StatusText(st)
	p.Type = "https://domicile.dev/problems/" + p.Code
	p.Hint = hints[p.Code]
	return p, err
}

// writeProblem answers with an application/problem+json document and logs
// the internal cause of server errors (never a submitted value: vault and
// API errors carry none).
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p, cause := problemOf(err)
	p.RequestID = requestID(r)
	if p.Status >= 500 && log != nil {
		log.Error("request failed", "request_id", p.RequestID, "route", r.Pattern, "code", p.Code, "err", cause)
	}
	WriteProblem(w, p)
}

// WriteError answers with the problem document of err.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeProblem(w, r, log, err)
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p client.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
