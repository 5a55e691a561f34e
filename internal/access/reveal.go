package access

import (
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
)

// ClearField says whether d shows field name in clear, and if not why, as
// an error with a stable code: permission_denied when the decision does not
// show the field at all (or d is a denial: its own code),
// transfer_required when the field would be clear in the region but leaves
// it without a transfer rule, clear_access_required when the principal's
// roles show it only masked for this purpose. This is the one place that
// decides whether a value may leave in clear (detokenization uses it).
func (d Decision) ClearField(name, region, location string) *errcode.Error {
	if !d.Allowed {
		reason := d.Code
		if len(d.Reasons) > 0 {
			reason = d.Reasons[len(d.Reasons)-1]
		}
		return errcode.New(errcode.Code(d.Code), "%s", reason)
	}
	t, visible := d.Fields[name]
	switch {
	case !visible || t.Kind == policy.AccessNone:
		return errcode.New(errcode.PermissionDenied, "the principal may not see field %s", name)
	case t.Kind != policy.AccessClear && t.Abroad:
		return errcode.New(errcode.TransferRequired, "field %s of region %s may not leave it in clear for %s without a transfer rule", name, region, location)
	case t.Kind != policy.AccessClear:
		return errcode.New(errcode.ClearAccessRequired, "the principal's roles do not show field %s in clear for this purpose", name)
	}
	return nil
}
