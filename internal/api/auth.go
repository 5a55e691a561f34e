package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

type ctxKey int

const accountKey ctxKey = 0

// AccountOf returns the authenticated principal of a request.
func AccountOf(ctx context.Context) (*access.Account, bool) {
	a, ok := ctx.Value(accountKey).(*access.Account)
	return a, ok
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// RequireAuth wraps h with bearer-token authentication by the region
// service: unknown, malformed, expired and disabled tokens all get the
// same 401; a locked principal gets 403 principal_locked.
func RequireAuth(h http.Handler, s *region.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="domicile"`)
			writeProblem(w, r, log, errcode.New(errcode.Unauthenticated, "missing bearer token"))
			return
		}
		a, err := s.Authenticate(r.Context(), tok)
		if err != nil {
			switch errcode.CodeOf(err) {
			case errcode.Unauthenticated:
				w.Header().Set("WWW-Authenticate", `Bearer realm="domicile", error="invalid_token"`)
			case errcode.PrincipalLocked:
				if a != nil {
					w.Header().Set(web.GuardUsageHeader, web.FormatGuardUsage(web.GuardUsage{Principal: a.ID, Locked: true}))
				}
			}
			writeProblem(w, r, log, err)
			return
		}
		// What the principal did here so far, for the gateway to relay to
		// the other regions' guards.
		w.Header().Set(web.GuardUsageHeader, web.FormatGuardUsage(web.GuardUsage{Principal: a.ID, Counts: s.Usage(a.ID)}))
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey, a)))
	})
}
