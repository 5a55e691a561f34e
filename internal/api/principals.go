package api

import (
	"net/http"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
)

func (h *region) principalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/principals", h.createPrincipal)
	mux.HandleFunc("GET /v1/principals", h.listPrincipals)
	mux.HandleFunc("GET /v1/principals/{id}", h.getPrincipal)
	mux.HandleFunc("POST /v1/principals/{id}/disable", h.setState(access.Disabled))
	mux.HandleFunc("POST /v1/principals/{id}/enable", h.setState(access.Active))
	mux.HandleFunc("POST /v1/principals/{id}/unlock", h.unlock)
	mux.HandleFunc("POST /v1/principals/{id}/rotate-token", h.rotateToken)
}

// WirePrincipal renders an account without its token MACs.
func WirePrincipal(a *access.Account) client.Principal {
	out := client.Principal{ID: a.ID, Kind: a.Kind, Roles: a.Roles, Location: a.Location, Regions: a.Regions,
		State: string(a.State), Created: a.Created, Tokens: []client.TokenInfo{}}
	for _, t := range a.Tokens {
		out.Tokens = append(out.Tokens, client.TokenInfo{ID: t.ID, Created: t.Created, Expires: t.Expires})
	}
	return out
}

// expiry parses a lifetime such as "720h"; empty means none.
func expiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, Errorf(CodeInvalidRequest, "expires_in must be a positive duration such as 720h")
	}
	return time.Now().Add(d).UTC(), nil
}

// chooseToken returns the token the gateway chose for every region, or a
// fresh one when the node is called directly.
func chooseToken(given string) string {
	if given == "" {
		return access.NewToken()
	}
	return given
}

func (h *region) createPrincipal(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
		return
	}
	var req client.PrincipalRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	exp, err := expiry(req.ExpiresIn)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	tok := chooseToken(req.Token)
	a, err := h.dir.Create(r.Context(), access.Account{ID: req.ID, Kind: req.Kind, Roles: req.Roles, Location: req.Location, Regions: req.Regions}, tok, exp)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusCreated, client.PrincipalToken{Principal: WirePrincipal(a), Token: tok})
}

func (h *region) listPrincipals(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
		return
	}
	list, err := h.dir.List(r.Context())
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	out := client.PrincipalsResponse{Principals: []client.Principal{}}
	for i := range list {
		out.Principals = append(out.Principals, WirePrincipal(&list[i]))
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *region) getPrincipal(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
		return
	}
	a, err := h.dir.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, WirePrincipal(a))
}

func (h *region) setState(s access.State) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.checkAdmin(w, r) {
			return
		}
		a, err := h.dir.SetState(r.Context(), r.PathValue("id"), s)
		if err != nil {
			writeProblem(w, r, h.log, err)
			return
		}
		WriteJSON(w, http.StatusOK, WirePrincipal(a))
	}
}

func (h *region) rotateToken(w http.ResponseWriter, r *http.Request) {
	if !h.checkAdmin(w, r) {
		return
	}
	var req client.TokenRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	exp, err := expiry(req.ExpiresIn)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	tok := chooseToken(req.Token)
	a, err := h.dir.RotateToken(r.Context(), r.PathValue("id"), tok, exp)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, client.PrincipalToken{Principal: WirePrincipal(a), Token: tok})
}
