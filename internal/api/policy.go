package api

import (
	"io"
	"net/http"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

// getPolicy serves GET /v1/regions/{region}/policy: the version and digest
// of the policy the node serves, never its text.
func (h *handler) getPolicy(w http.ResponseWriter, r *http.Request) {
	info, err := h.s.ActivePolicy(r.Context(), caller(r), r.PathValue("region"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, info)
}

// putPolicy serves PUT /v1/regions/{region}/policy: the body is the whole
// policy document (YAML), which replaces the region's policy once it
// validates and the change is one a reload may make. The answer is the new
// policy's version and digest; a refused policy answers invalid_policy or
// policy_change_refused, and the old policy keeps serving.
func (h *handler) putPolicy(w http.ResponseWriter, r *http.Request) {
	doc, err := io.ReadAll(io.LimitReader(r.Body, region.MaxPolicySize+1))
	if err != nil {
		h.fail(w, r, web.BodyError(err))
		return
	}
	if len(doc) == 0 {
		h.fail(w, r, errcode.New(errcode.InvalidPolicy, "the request body is empty; send the whole policy document (YAML)"))
		return
	}
	info, err := h.s.ReloadPolicy(r.Context(), caller(r), r.PathValue("region"), doc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, info)
}
