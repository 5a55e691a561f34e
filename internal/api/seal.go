package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/web"
)

// Sealer is a region node's seal state, which the seal and unseal routes
// drive; internal/app implements it around the region's keys.
type Sealer interface {
	// Status is the node's seal state.
	Status() client.SealStatus
	// Unseal takes one unseal request (a share, the node's HSM, or a
	// reset) for region from the client at addr; requestID names it in
	// the log and the audit entry. Refusals are *errcode.Error.
	Unseal(ctx context.Context, region string, req client.UnsealRequest, addr, requestID string) (client.SealStatus, error)
	// Seal seals the region: the node drops its keys and answers
	// region_sealed until unsealed. The caller has already decided and
	// recorded the request.
	Seal(ctx context.Context) (client.SealStatus, error)
}

// UnsealHandler serves POST /v1/regions/{region}/unseal for s, sealed or
// not. The route is public: the shares (or the node's HSM) are the
// credential. It decodes the body, which never leaves this function but
// for the share handed to s.
func UnsealHandler(s Sealer, log *slog.Logger) http.HandlerFunc {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req client.UnsealRequest
		if err := web.DecodeJSON(r, &req); err != nil {
			web.WriteError(w, r, log, err)
			return
		}
		st, err := s.Unseal(r.Context(), r.PathValue("region"), req, web.ClientAddr(r, nil), requestID(r))
		req.Share = ""
		if err != nil {
			writeSealProblem(w, r, log, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, st)
	}
}

// unsealHints are the unseal route's hints, which say more than the
// table's for the codes it answers with.
var unsealHints = map[errcode.Code]string{
	errcode.RateLimited:  "too many refused unseal requests at this node; wait for Retry-After seconds, then give the shares again",
	errcode.RegionSealed: "the node logged why; fix it, then retry: domicile keys unseal --region REGION (with shares, or --hsm)",
}

// writeSealProblem answers an unseal refusal: its problem document, with
// the unseal route's own hint for the codes the table's hint does not fit.
func writeSealProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := web.ProblemOf(err)
	p.RequestID = requestID(r)
	if h, ok := unsealHints[errcode.Code(p.Code)]; ok {
		p.Hint = h
	}
	if p.Status >= 500 {
		log.Error("unseal failed", "request_id", p.RequestID, "code", p.Code, "err", err)
	}
	if p.Code == string(errcode.RateLimited) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "6")
	}
	web.WriteProblem(w, p)
}

// seal serves POST /v1/regions/{region}/seal: the region service decides
// and records it, then the node seals.
func (h *handler) seal(w http.ResponseWriter, r *http.Request) {
	if h.sealer == nil {
		h.fail(w, r, errcode.New(errcode.InvalidRequest, "this node cannot be sealed through the API; stop it to seal its region"))
		return
	}
	if err := h.s.Seal(r.Context(), caller(r), r.PathValue("region")); err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.sealer.Seal(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, st)
}

// unsealed answers the unseal route of a node that is not sealed (or
// cannot be unsealed through the API): its state, which is no secret.
func (h *handler) unsealed(w http.ResponseWriter, r *http.Request) {
	if h.sealer != nil {
		UnsealHandler(h.sealer, h.log)(w, r)
		return
	}
	var req client.UnsealRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	req.Share = ""
	if name := r.PathValue("region"); name != h.s.Name() {
		h.fail(w, r, errcode.New(errcode.UnknownRegion, "this node serves region %s", h.s.Name()))
		return
	}
	web.WriteJSON(w, http.StatusOK, client.SealStatus{Region: h.s.Name()})
}
