package region

import (
	"context"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
)

// SealRule is the rule of the audit entry that records a region being
// sealed through the API.
const SealRule = "seal"

// UnsealRule returns the rule of the audit entry that records a region
// being unsealed online by method (shamir or pkcs11): unseal:METHOD.
func UnsealRule(method string) string { return "unseal:" + method }

// Seal decides a request to seal the region (admin) and records it in the
// audit log (action admin, rule seal) before anything is sealed; the
// caller (the node, which holds the keys) seals only when it returns nil.
// It fails closed: a seal the log cannot record is refused with
// audit_unavailable.
func (s *Service) Seal(ctx context.Context, c Caller, region string) error {
	if err := s.checkRegion(region); err != nil {
		return err
	}
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return err
	}
	if err := s.record(ctx, c, adminEntry(SealRule)); err != nil {
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the seal; the region stays unsealed")
	}
	s.log.Warn("region sealed through the API", "request_id", c.RequestID, "principal", c.Account.ID)
	return nil
}

// RecordUnseal records in the audit log that the region was unsealed
// online by method (shamir or pkcs11), at the request requestID. The
// unseal route is unauthenticated (the shares, or the node's HSM, are
// the credential), so the entry names no principal. It fails with
// audit_unavailable when the log cannot record it; the node then seals
// the region again.
func (s *Service) RecordUnseal(ctx context.Context, method, requestID string) error {
	log := s.v.Audit()
	if log == nil {
		return nil
	}
	e := entry.Entry{Action: entry.Admin, Decision: "allow", Rule: UnsealRule(method), RequestID: requestID, Outcome: entry.OK}
	if err := log.AppendNow(ctx, e); err != nil {
		return errcode.Wrap(errcode.AuditUnavailable, err, "the audit log cannot record the unseal; the region stays sealed")
	}
	s.log.Warn("region unsealed online", "request_id", requestID, "method", method)
	return nil
}
