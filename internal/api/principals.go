package api

import (
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

// WirePrincipal renders an account without its token MACs.
func WirePrincipal(a *access.Account) client.Principal {
	out := client.Principal{ID: a.ID, Kind: a.Kind, Roles: a.Roles, Location: a.Location, Organisation: a.Organisation, Regions: a.Regions,
		State: string(a.State), Created: a.Created, Tokens: []client.TokenInfo{}}
	for _, t := range a.Tokens {
		out.Tokens = append(out.Tokens, client.TokenInfo{ID: t.ID, Created: t.Created, Expires: t.Expires})
	}
	return out
}

func (h *handler) createPrincipal(w http.ResponseWriter, r *http.Request) {
	var req client.PrincipalRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	a, tok, err := h.s.CreatePrincipal(r.Context(), caller(r), region.NewPrincipal{Token: req.Token, ExpiresIn: req.ExpiresIn,
		Account: access.Account{ID: req.ID, Kind: req.Kind, Roles: req.Roles, Location: req.Location, Organisation: req.Organisation, Regions: req.Regions}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, client.PrincipalToken{Principal: WirePrincipal(a), Token: tok})
}

// principalFilter reads a principal listing's query: role, location,
// organisation and state.
func principalFilter(r *http.Request) (access.Filter, error) {
	q := r.URL.Query()
	f := access.Filter{Role: q.Get("role"), Location: q.Get("location"), Organisation: q.Get("organisation"), State: access.State(q.Get("state"))}
	switch f.State {
	case "", access.Active, access.Disabled, access.Locked:
	default:
		return f, errcode.New(errcode.InvalidRequest, "state must be active, disabled or locked")
	}
	return f, nil
}

func (h *handler) listPrincipals(w http.ResponseWriter, r *http.Request) {
	f, err := principalFilter(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.s.Principals(r.Context(), caller(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.PrincipalsResponse{Principals: []client.Principal{}}
	for i := range list {
		out.Principals = append(out.Principals, WirePrincipal(&list[i]))
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) getPrincipal(w http.ResponseWriter, r *http.Request) {
	h.principal(w, r, func(c region.Caller, id string) (*access.Account, error) { return h.s.Principal(r.Context(), c, id) })
}

func (h *handler) setState(st access.State) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.principal(w, r, func(c region.Caller, id string) (*access.Account, error) {
			return h.s.SetPrincipalState(r.Context(), c, id, st)
		})
	}
}

func (h *handler) updatePrincipal(w http.ResponseWriter, r *http.Request) {
	var req client.PrincipalChange
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	h.principal(w, r, func(c region.Caller, id string) (*access.Account, error) {
		return h.s.UpdatePrincipal(r.Context(), c, id, access.Change{Roles: req.Roles, Location: req.Location, Organisation: req.Organisation, Regions: req.Regions})
	})
}

func (h *handler) deletePrincipal(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeletePrincipal(r.Context(), caller(r), r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) unlock(w http.ResponseWriter, r *http.Request) {
	h.principal(w, r, func(c region.Caller, id string) (*access.Account, error) { return h.s.Unlock(r.Context(), c, id) })
}

// principal answers a request about principal {id} with the account do
// returns.
func (h *handler) principal(w http.ResponseWriter, r *http.Request, do func(c region.Caller, id string) (*access.Account, error)) {
	a, err := do(caller(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, WirePrincipal(a))
}

func (h *handler) rotateToken(w http.ResponseWriter, r *http.Request) {
	var req client.TokenRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	a, tok, err := h.s.RotateToken(r.Context(), caller(r), r.PathValue("id"),
		region.TokenRotation{Token: req.Token, ExpiresIn: req.ExpiresIn, Overlap: req.Overlap})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.PrincipalToken{Principal: WirePrincipal(a), Token: tok})
}
