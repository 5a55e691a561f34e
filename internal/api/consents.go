package api

import (
	"encoding/hex"
	"net/http"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

func (h *handler) giveConsent(w http.ResponseWriter, r *http.Request) {
	var req client.ConsentRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.s.GiveConsent(r.Context(), caller(r), r.PathValue("region"), r.PathValue("subject"),
		region.Consent{Destination: req.Destination, Recipient: req.Recipient, Purpose: req.Purpose, Evidence: req.Evidence})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, wireConsent(c))
}

func (h *handler) withdrawConsent(w http.ResponseWriter, r *http.Request) {
	c, err := h.s.WithdrawConsent(r.Context(), caller(r), r.PathValue("region"), r.PathValue("subject"), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, wireConsent(c))
}

func (h *handler) listConsents(w http.ResponseWriter, r *http.Request) {
	list, err := h.s.Consents(r.Context(), caller(r), r.PathValue("region"), r.PathValue("subject"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.Consents{Region: h.s.Name(), Consents: make([]client.Consent, len(list))}
	for i := range list {
		out.Consents[i] = wireConsent(&list[i])
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func wireConsent(c *region.Consent) client.Consent {
	out := client.Consent{ID: c.ID, Destination: c.Destination, Recipient: c.Recipient, Purpose: c.Purpose, Evidence: c.Evidence, Given: c.Given}
	if !c.Withdrawn.IsZero() {
		w := c.Withdrawn
		out.Withdrawn = &w
	}
	return out
}

// exportSubject answers the subject's package of the region, signed.
func (h *handler) exportSubject(w http.ResponseWriter, r *http.Request) {
	p, err := h.s.ExportSubject(r.Context(), caller(r), r.PathValue("region"), r.PathValue("subject"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.SubjectPackage{Region: p.Package.Region, Algorithm: p.Algorithm,
		KeyHash: hex.EncodeToString(p.KeyHash[:]), Payload: p.Payload, Signature: p.Signature, Package: p.Payload})
}
