package api

import (
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

func itemError(e *errcode.Error) *client.ItemError {
	if e == nil {
		return nil
	}
	return &client.ItemError{Code: string(e.Code), Detail: e.Msg}
}

// tokenize issues tokens for values (region.Service.Tokenize).
func (h *handler) tokenize(w http.ResponseWriter, r *http.Request) {
	var req client.TokenizeRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	items := make([]region.TokenizeItem, len(req.Items))
	for i, it := range req.Items {
		items[i] = region.TokenizeItem{Collection: it.Collection, Field: it.Field, Value: it.Value, Jurisdiction: it.Jurisdiction, Subject: it.Subject}
	}
	res, err := h.s.Tokenize(r.Context(), caller(r), items)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.TokenizeResponse{Results: make([]client.TokenizeResult, len(res))}
	for i, rs := range res {
		out.Results[i] = client.TokenizeResult{Token: rs.Token, Kind: rs.Kind, KeyVersion: rs.KeyVersion, Error: itemError(rs.Err)}
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// detokenize turns tokens back into values (region.Service.Detokenize).
func (h *handler) detokenize(w http.ResponseWriter, r *http.Request) {
	var req client.DetokenizeRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	items := make([]region.DetokenizeItem, len(req.Items))
	for i, it := range req.Items {
		items[i] = region.DetokenizeItem{Token: it.Token, Region: it.Region, Collection: it.Collection, Field: it.Field,
			Jurisdiction: it.Jurisdiction, KeyVersion: it.KeyVersion}
	}
	res, err := h.s.Detokenize(r.Context(), caller(r), items)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.DetokenizeResponse{Results: make([]client.DetokenizeResult, len(res))}
	for i, rs := range res {
		out.Results[i] = client.DetokenizeResult{Value: rs.Value, Collection: rs.Collection, Field: rs.Field, Rule: rs.Rule, Error: itemError(rs.Err)}
	}
	web.WriteJSON(w, http.StatusOK, out)
}
