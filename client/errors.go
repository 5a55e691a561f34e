package client

import (
	"errors"
	"fmt"
)

// Error is the error the client returns for every answer that is not 2xx. It
// holds the server's problem document; when the body was not one (a proxy's
// HTML page, say) the code is "http_<status>", such as "http_502".
//
// Problem.Status is always the HTTP status of the response, and
// Problem.RequestID falls back to the X-Request-Id response header.
type Error struct {
	Problem Problem
}

// Error returns "domicile: <code>: <detail> (HTTP <status>)".
func (e *Error) Error() string {
	detail := e.Problem.Detail
	if detail == "" {
		detail = e.Problem.Title
	}
	return fmt.Sprintf("domicile: %s: %s (HTTP %d)", e.Problem.Code, detail, e.Problem.Status)
}

// CodeOf returns the stable problem code of err (such as "not_found" or
// "unknown_jurisdiction") if err is or wraps an *Error, and "" otherwise.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Problem.Code
	}
	return ""
}
