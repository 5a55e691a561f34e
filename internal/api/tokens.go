package api

import (
	"errors"
	"net/http"
	"slices"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/tokens"
)

// Item error codes of detokenize beyond the token service's.
const (
	// CodeClearAccessRequired: the principal may see the field, but not in
	// clear (its role masks it, or the purpose does not allow clear).
	CodeClearAccessRequired = "clear_access_required"
	CodeTooManyItems        = "too_many_items"
)

func itemError(code, detail string) *client.ItemError {
	return &client.ItemError{Code: code, Detail: detail}
}

func tokenItemError(err error) *client.ItemError {
	var te *tokens.Error
	if errors.As(err, &te) {
		if te.Code == tokens.CodeInternal {
			return itemError(CodeInternal, "internal error")
		}
		return itemError(string(te.Code), te.Msg)
	}
	return itemError(CodeInternal, "internal error")
}

// tokenize issues tokens for values. It needs the create permission for the
// collection: a token stands for a value the region now keeps.
func (h *region) tokenize(w http.ResponseWriter, r *http.Request) {
	var req client.TokenizeRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if len(req.Items) > tokens.MaxBatch {
		writeProblem(w, r, h.log, Errorf(CodeTooManyItems, "at most %d items per request, got %d", tokens.MaxBatch, len(req.Items)))
		return
	}
	a, _ := AccountOf(r.Context())
	out := client.TokenizeResponse{Results: make([]client.TokenizeResult, len(req.Items))}
	var items []tokens.Item
	var pos []int
	for i, it := range req.Items {
		d := h.engine.Decide(a.Principal(), access.Request{Action: policy.PermCreate, Purpose: r.Header.Get(PurposeHeader),
			Region: h.v.Region().Name, Collection: it.Collection, Jurisdiction: it.Jurisdiction})
		if !d.Allowed {
			out.Results[i].Error = itemError(d.Code, firstReason(d))
			continue
		}
		items = append(items, tokens.Item{Collection: it.Collection, Field: it.Field, Value: it.Value, Jurisdiction: it.Jurisdiction})
		pos = append(pos, i)
	}
	res, err := h.tokens.Tokenize(r.Context(), items)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	issued := 0
	for j, rs := range res {
		i := pos[j]
		if rs.Err != nil {
			out.Results[i].Error = tokenItemError(rs.Err)
			continue
		}
		out.Results[i] = client.TokenizeResult{Token: rs.Token, Kind: rs.Kind, KeyVersion: rs.KeyVersion}
		issued++
	}
	h.log.Info("tokenize", "request_id", requestID(r), "principal", a.ID, "items", len(req.Items), "issued", issued)
	if !h.record(w, r, entry.Entry{Action: entry.Tokenize, Decision: "allow", Outcome: entry.OK}) {
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// detokenize turns tokens back into values, each through the access
// decision with the detokenize permission: a value is returned only when
// the principal may see its field in clear, here and now (purpose,
// location, transfer rules); otherwise the item fails with the reason.
func (h *region) detokenize(w http.ResponseWriter, r *http.Request) {
	var req client.DetokenizeRequest
	if err := DecodeJSON(r, &req); err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	if len(req.Items) > tokens.MaxBatch {
		writeProblem(w, r, h.log, Errorf(CodeTooManyItems, "at most %d items per request, got %d", tokens.MaxBatch, len(req.Items)))
		return
	}
	a, _ := AccountOf(r.Context())
	region := h.v.Region().Name
	out := client.DetokenizeResponse{Results: make([]client.DetokenizeResult, len(req.Items))}
	var items []tokens.DItem
	var pos []int
	for i, it := range req.Items {
		if it.Region != "" && it.Region != region {
			out.Results[i].Error = itemError(string(tokens.CodeWrongRegion), "this node serves region "+region)
			continue
		}
		items = append(items, tokens.DItem{Token: it.Token, Collection: it.Collection, Field: it.Field, KeyVersion: it.KeyVersion})
		pos = append(pos, i)
	}
	res, err := h.tokens.Detokenize(r.Context(), items)
	if err != nil {
		writeProblem(w, r, h.log, err)
		return
	}
	purpose := r.Header.Get(PurposeHeader)
	shown, refused := 0, 0
	for j, rs := range res {
		i := pos[j]
		if rs.Err != nil {
			out.Results[i].Error = tokenItemError(rs.Err)
			continue
		}
		j := rs.Jurisdiction
		if j == "" {
			// fpe tokens record nothing; the caller's jurisdiction is the
			// context a role condition sees.
			j = req.Items[i].Jurisdiction
		}
		d := h.engine.Decide(a.Principal(), access.Request{Action: policy.PermDetokenize, Purpose: purpose,
			Region: region, Collection: rs.Collection, Jurisdiction: j})
		res := client.DetokenizeResult{Collection: rs.Collection, Field: rs.Field, Rule: d.Rule}
		t, visible := d.Fields[rs.Field]
		switch {
		case !d.Allowed:
			res.Error = itemError(d.Code, firstReason(d))
		case !visible || t.Kind == policy.AccessNone:
			res.Error = itemError(access.CodePermissionDenied, "the principal may not see field "+rs.Field)
		case t.Kind != policy.AccessClear && t.Abroad:
			res.Error = itemError(access.CodeTransferRequired, "field "+rs.Field+" of region "+region+" may not leave it in clear for "+a.Location+" without a transfer rule")
		case t.Kind != policy.AccessClear:
			res.Error = itemError(CodeClearAccessRequired, "the principal's roles do not show field "+rs.Field+" in clear for this purpose")
		default:
			res.Value = rs.Value
		}
		if res.Error != nil {
			refused++
		} else {
			shown++
		}
		out.Results[i] = res
	}
	h.log.Info("detokenize", "request_id", requestID(r), "principal", a.ID, "location", a.Location, "purpose", purpose,
		"items", len(req.Items), "shown", shown, "refused", refused)
	var presented, recs []string
	for _, it := range items {
		presented = append(presented, it.Token)
	}
	for _, rs := range res {
		if rs.RecordID != "" {
			recs = append(recs, rs.RecordID)
		}
	}
	if !h.observe(w, r, guard.Event{Action: guard.ActionDetokenize, Tokens: presented, RecordIDs: recs, ClearFields: shown}) {
		return
	}
	de := entry.Entry{Action: entry.Detokenize, Records: recs, Decision: "allow", Outcome: entry.OK}
	if refused > 0 && shown == 0 {
		de.Decision, de.Outcome = "deny", entry.Denied
	}
	fields := map[string]bool{}
	for _, res := range out.Results {
		if res.Field != "" {
			fields[res.Field] = true
		}
	}
	for f := range fields {
		de.Fields = append(de.Fields, f)
	}
	slices.Sort(de.Fields)
	if !h.record(w, r, de) {
		return
	}
	WriteJSON(w, http.StatusOK, out)
}
