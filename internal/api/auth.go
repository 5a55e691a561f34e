package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/domicile/domicile/internal/access"
)

// API codes of authentication and authorisation.
const (
	CodePrincipalLocked = "principal_locked"
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

// RequireAuth wraps h with bearer-token authentication against the
// region's directory: unknown, malformed, expired and disabled tokens all
// get the same 401; a locked principal gets 403 principal_locked.
func RequireAuth(h http.Handler, dir *access.Directory, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="domicile"`)
			writeProblem(w, r, log, Errorf(CodeUnauthenticated, "missing bearer token"))
			return
		}
		a, err := dir.Authenticate(r.Context(), tok)
		switch {
		case errors.Is(err, access.ErrLocked):
			writeProblem(w, r, log, Errorf(CodePrincipalLocked, "principal %s is locked; an administrator unlocks it with 'domicile principals unlock'", a.ID))
			return
		case errors.Is(err, access.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="domicile", error="invalid_token"`)
			writeProblem(w, r, log, Errorf(CodeUnauthenticated, "invalid or expired token"))
			return
		case err != nil:
			writeProblem(w, r, log, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey, a)))
	})
}
