package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
)

// statusOf is the one table from error codes to HTTP statuses. Every code
// the API can answer with is here; the OpenAPI document lists them.
var statusOf = map[errcode.Code]int{
	errcode.UnknownCollection:             http.StatusBadRequest,
	errcode.UnknownField:                  http.StatusBadRequest,
	errcode.MissingField:                  http.StatusBadRequest,
	errcode.FieldTooLarge:                 http.StatusRequestEntityTooLarge,
	errcode.InvalidValue:                  http.StatusBadRequest,
	errcode.NotIndexed:                    http.StatusBadRequest,
	errcode.UnknownJurisdiction:           http.StatusBadRequest,
	errcode.WrongRegion:                   http.StatusMisdirectedRequest,
	errcode.InvalidRecordID:               http.StatusBadRequest,
	errcode.InvalidSubject:                http.StatusBadRequest,
	errcode.InvalidCursor:                 http.StatusBadRequest,
	errcode.NotFound:                      http.StatusNotFound,
	errcode.IdempotencyReused:             http.StatusUnprocessableEntity,
	errcode.TooManyRecords:                http.StatusBadRequest,
	errcode.Integrity:                     http.StatusInternalServerError,
	errcode.SubjectErased:                 http.StatusGone,
	errcode.Conflict:                      http.StatusConflict,
	errcode.AuditUnavailable:              http.StatusServiceUnavailable,
	errcode.AuditOutOfRange:               http.StatusNotFound,
	errcode.MalformedJSON:                 http.StatusBadRequest,
	errcode.BodyTooLarge:                  http.StatusRequestEntityTooLarge,
	errcode.Unauthenticated:               http.StatusUnauthorized,
	errcode.Forbidden:                     http.StatusForbidden,
	errcode.NoSuchEndpoint:                http.StatusNotFound,
	errcode.MethodNotAllowed:              http.StatusMethodNotAllowed,
	errcode.RegionSealed:                  http.StatusServiceUnavailable,
	errcode.InvalidRequest:                http.StatusBadRequest,
	errcode.RegionUnavailable:             http.StatusBadGateway,
	errcode.Internal:                      http.StatusInternalServerError,
	errcode.CrossRegionBatch:              http.StatusBadRequest,
	errcode.UnknownRegion:                 http.StatusNotFound,
	errcode.RateLimited:                   http.StatusTooManyRequests,
	errcode.PrincipalLocked:               http.StatusForbidden,
	errcode.PermissionDenied:              http.StatusForbidden,
	errcode.RegionNotAllowed:              http.StatusForbidden,
	errcode.ConditionNotMet:               http.StatusForbidden,
	errcode.TransferRequired:              http.StatusForbidden,
	errcode.TransferMechanismInsufficient: http.StatusForbidden,
	errcode.UnknownPurpose:                http.StatusBadRequest,
	errcode.PrincipalExists:               http.StatusConflict,
	errcode.NoSuchPrincipal:               http.StatusNotFound,
	errcode.InvalidPrincipal:              http.StatusBadRequest,
	errcode.TooManyItems:                  http.StatusBadRequest,
	errcode.HeaderTooLarge:                http.StatusRequestHeaderFieldsTooLarge,
	errcode.InvalidPolicy:                 http.StatusUnprocessableEntity,
	errcode.PolicyChangeRefused:           http.StatusConflict,
}

// hints tell callers what to do next, per code.
var hints = map[errcode.Code]string{
	errcode.UnknownJurisdiction:           "use an ISO 3166-1 alpha-2 country code such as CN, DE or US",
	errcode.WrongRegion:                   "send the request through the gateway, or to the node of the region named in the detail",
	errcode.NotIndexed:                    "search only fields the policy marks index: true",
	errcode.IdempotencyReused:             "use a new Idempotency-Key for a different request",
	errcode.Unauthenticated:               "send 'Authorization: Bearer <token>'; dev mode writes the admin token to DATA/admin.token",
	errcode.RegionSealed:                  "start the node with the region's unseal secret (DOMICILE_UNSEAL_<REGION> or --unseal-file)",
	errcode.CrossRegionBatch:              "send one batch per region; a batch is atomic and lives in one region",
	errcode.BodyTooLarge:                  "split the request into smaller batches",
	errcode.HeaderTooLarge:                "send fewer or shorter headers: the API reads only Authorization, Content-Type, Domicile-Purpose, Idempotency-Key and X-Request-Id",
	errcode.PermissionDenied:              "ask an administrator for a role that grants the permission named in the detail",
	errcode.TransferRequired:              "the region's data may leave it only under a transfer rule in the policy",
	errcode.TransferMechanismInsufficient: "record a mechanism in the policy that covers this destination, collection and the year's count (a filed standard contract or certification, or a security assessment), or read from inside the region; 'domicile transfers report' shows the counts",
	errcode.UnknownPurpose:                "send a Domicile-Purpose header naming a purpose listed in the policy",
	errcode.RateLimited:                   "too many failed authentications from this address; wait for Retry-After seconds",
	errcode.InvalidPolicy:                 "fix the lines the detail names ('domicile policy check FILE' lists every problem); the previous policy keeps serving",
	errcode.PolicyChangeRefused:           "a reload changes roles, purposes, masks, transfer rules and guard limits; regions, suites and where a jurisdiction's data lives change only with a migration",
	errcode.MalformedJSON:                 "send a JSON body with 'Content-Type: application/json'; the OpenAPI document at /v1/openapi.json has the shapes",
}

// StatusOf returns the HTTP status of code, and false for a code the API
// does not answer with (whose status is 500).
func StatusOf(code errcode.Code) (int, bool) {
	st, ok := statusOf[code]
	if !ok {
		return http.StatusInternalServerError, false
	}
	return st, true
}

// ProblemOf returns the problem document of err: its code, message, field
// and index when err holds an *errcode.Error, and an internal_error
// otherwise (whose cause is for the log only). The request id is not set.
func ProblemOf(err error) client.Problem {
	var p client.Problem
	var e *errcode.Error
	if errors.As(err, &e) {
		p.Code, p.Detail, p.Field = string(e.Code), e.Msg, e.Field
		if e.Index >= 0 {
			i := e.Index
			p.Index = &i
		}
	} else {
		p.Code, p.Detail = string(errcode.Internal), "internal error; the request id identifies it in the server log"
	}
	fillProblem(&p)
	return p
}

// problemType prefixes a code to make a problem's type URI.
const problemType = "https://domicile.dev/problems/"

// fillProblem sets p's status, title, type and hint from its code.
func fillProblem(p *client.Problem) {
	p.Status, _ = StatusOf(errcode.Code(p.Code))
	p.Title = http.StatusText(p.Status)
	p.Type = problemType + p.Code
	p.Hint = hints[errcode.Code(p.Code)]
}

// WriteError answers with the problem document of err (see ProblemOf),
// with the request's id, and logs the cause of server errors when log is
// not nil (never a submitted value: errcode messages carry none).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := ProblemOf(err)
	p.RequestID = RequestID(r)
	if p.Status >= 500 && log != nil {
		log.Error("request failed", "request_id", p.RequestID, "route", r.Pattern, "code", p.Code, "err", err)
	}
	WriteProblem(w, p)
}

// WriteProblem writes p as application/problem+json with p.Status.
func WriteProblem(w http.ResponseWriter, p client.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
