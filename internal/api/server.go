// Package api is the HTTP transport of one region's node: each handler
// decodes a request, calls the region service (internal/region), where the
// request is decided, revealed, watched and recorded, and encodes what it
// returns. The plumbing it shares with the gateway (middleware, request
// ids, strict JSON, the one table from error codes to
// application/problem+json, metrics, the route table and the OpenAPI
// document) is in internal/web.
package api

import (
	"log/slog"
	"net/http"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/web"
)

func requestID(r *http.Request) string { return web.RequestID(r) }

// fail answers r with the problem document of err, logging the internal
// cause of server errors (never a submitted value: errcode errors carry
// none).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errcode.CodeOf(err) == errcode.PrincipalLocked {
		if a, ok := AccountOf(r.Context()); ok {
			// The gateway holds the lock in every region.
			w.Header().Set(web.GuardUsageHeader, web.FormatGuardUsage(web.GuardUsage{Principal: a.ID, Locked: true}))
		}
	}
	web.WriteError(w, r, h.log, err)
}

func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	web.WriteError(w, r, log, err)
}
