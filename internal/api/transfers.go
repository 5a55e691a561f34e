package api

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/transfer"
	"github.com/domicile/domicile/internal/web"
)

// transferReport answers the region's signed transfer report of ?year=
// (default: the current year).
func (h *handler) transferReport(w http.ResponseWriter, r *http.Request) {
	year := 0
	if s := r.URL.Query().Get("year"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			h.fail(w, r, errcode.New(errcode.InvalidRequest, "year must be a whole number, such as 2026"))
			return
		}
		year = n
	}
	sr, err := h.s.TransferReport(r.Context(), caller(r), r.PathValue("region"), year)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.TransferReport{Region: sr.Report.Region, Year: sr.Report.Year, Algorithm: sr.Algorithm,
		KeyHash: hex.EncodeToString(sr.KeyHash[:]), Payload: sr.Payload, Signature: sr.Signature, Report: wireTransferReport(sr.Report)})
}

// wireTransferReport is the report as an object: field for field the
// payload's JSON ('domicile transfers verify' checks that they agree).
func wireTransferReport(r *transfer.Report) client.TransferReportBody {
	out := client.TransferReportBody{Region: r.Region, Year: r.Year, TimeZone: r.TimeZone, Generated: r.Generated,
		Individuals: client.TransferIndividuals{NonSensitive: r.Individuals.NonSensitive, Sensitive: r.Individuals.Sensitive},
		Required:    r.Required, Transfers: make([]client.TransferCount, len(r.Transfers)), Mechanisms: make([]client.TransferMechanism, len(r.Mechanisms))}
	for _, t := range r.Thresholds {
		out.Thresholds = append(out.Thresholds, client.TransferThreshold{Level: t.Level, LimitNonSensitive: t.LimitNonSensitive,
			LimitSensitive: t.LimitSensitive, HeadroomNonSensitive: t.HeadroomNonSensitive, HeadroomSensitive: t.HeadroomSensitive})
	}
	for i, c := range r.Transfers {
		out.Transfers[i] = client.TransferCount{Jurisdiction: c.Jurisdiction, Destination: c.Destination, Mechanism: c.Mechanism,
			Class: c.Class, Individuals: c.Individuals, Records: c.Records}
	}
	for i, m := range r.Mechanisms {
		out.Mechanisms[i] = client.TransferMechanism{Name: m.Name, Kind: m.Kind, Reference: m.Reference, To: m.To, ValidFrom: m.ValidFrom,
			ValidUntil: m.ValidUntil, Status: m.Status, Individuals: m.Individuals, Records: m.Records}
	}
	return out
}
