package region

import (
	"context"
	"errors"
	"strings"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/transfer"
)

// Consent is a subject's separate consent to a transfer (see
// transfer.Consent).
type Consent = transfer.Consent

// consents checks the region, the admin permission and the subject id,
// and returns the ledger and the subject's keyed reference.
func (s *Service) consents(ctx context.Context, c Caller, region, subject string) (*transfer.Ledger, []byte, error) {
	if err := s.checkRegion(region); err != nil {
		return nil, nil, err
	}
	if subject == "" || len(subject) > 256 {
		return nil, nil, errcode.New(errcode.InvalidSubject, "a subject id is 1 to 256 bytes")
	}
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return nil, nil, err
	}
	if s.ledger == nil {
		return nil, nil, errcode.New(errcode.InvalidRequest, "this region keeps no transfer ledger")
	}
	return s.ledger, s.v.Keyring().SubjectRef(subject), nil
}

// GiveConsent records the subject's consent to transfers to
// con.Destination for con.Purpose (admin): a transfer rule resting on
// consent lets the subject's fields leave for a principal there only while
// a live consent covers it. The consent is recorded in the audit log by
// id, with the subject as its keyed reference.
func (s *Service) GiveConsent(ctx context.Context, c Caller, region, subject string, con Consent) (*Consent, error) {
	l, ref, err := s.consents(ctx, c, region, subject)
	if err != nil {
		return nil, err
	}
	out, err := l.GiveConsent(ctx, ref, con)
	if errors.Is(err, transfer.ErrInvalidConsent) {
		return nil, errcode.Wrap(errcode.InvalidRequest, err, "%s", strings.TrimPrefix(err.Error(), transfer.ErrInvalidConsent.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, c, subjectEntry("consent-given:"+out.ID, ref)); err != nil {
		return nil, err
	}
	return out, nil
}

// WithdrawConsent withdraws consent id of the subject (admin), from the
// next request on every node.
func (s *Service) WithdrawConsent(ctx context.Context, c Caller, region, subject, id string) (*Consent, error) {
	l, ref, err := s.consents(ctx, c, region, subject)
	if err != nil {
		return nil, err
	}
	out, err := l.WithdrawConsent(ctx, ref, id)
	if errors.Is(err, transfer.ErrNoConsent) {
		return nil, errcode.New(errcode.NotFound, "the subject has no consent %s in region %s", id, s.name)
	}
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, c, subjectEntry("consent-withdrawn:"+out.ID, ref)); err != nil {
		return nil, err
	}
	return out, nil
}

// Consents lists the subject's consents, withdrawn ones included (admin).
func (s *Service) Consents(ctx context.Context, c Caller, region, subject string) ([]Consent, error) {
	l, ref, err := s.consents(ctx, c, region, subject)
	if err != nil {
		return nil, err
	}
	out, err := l.Consents(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, c, subjectEntry("consent-list", ref)); err != nil {
		return nil, err
	}
	return out, nil
}

// subjectEntry is the entry of an administration about one subject,
// named by its keyed reference.
func subjectEntry(rule string, ref []byte) entry.Entry {
	return entry.Entry{Action: entry.Admin, Decision: "allow", Rule: rule, Subjects: []entry.SubjectMAC{ref}}
}
