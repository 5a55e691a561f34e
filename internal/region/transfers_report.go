package region

import (
	"context"
	"crypto/rand"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/transfer"
)

// This file serves the transfer ledger's yearly report, signed with the
// region's audit key so that a regulator or an auditor can check it
// offline with the key history ('domicile transfers verify').

// SignedReport is a year's transfer report and its signature: Payload is
// the report's JSON as signed (see transfer.SignReport), Report the same
// report.
type SignedReport struct {
	transfer.Signed
	Report *transfer.Report
}

// TransferReport returns the region's report of its cross-border transfers
// in year (0: the ledger's current year), signed with the region's current
// audit key (admin). The request is recorded like any administration; the
// audit log need not be on.
func (s *Service) TransferReport(ctx context.Context, c Caller, region string, year int) (*SignedReport, error) {
	if err := s.checkRegion(region); err != nil {
		return nil, err
	}
	if err := s.admin(ctx, c); err != nil {
		return nil, err
	}
	if s.ledger == nil {
		return nil, errcode.New(errcode.NotFound, "region %s keeps no transfer ledger", s.name)
	}
	this := s.ledger.ThisYear()
	switch {
	case year == 0:
		year = this
	case year < 2000 || year > this+1:
		return nil, errcode.New(errcode.InvalidRequest, "year must be from 2000 to %d", this+1)
	}
	r, err := s.ledger.Report(ctx, year)
	if err != nil {
		return nil, err
	}
	kr := s.v.Keyring()
	priv, err := kr.AuditSigner()
	if err != nil {
		return nil, domainError(err)
	}
	su := kr.Suite()
	signed, err := transfer.SignReport(r, s.origin(), priv, su.Signature(), su.Hash(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &SignedReport{Signed: *signed, Report: r}, nil
}

// origin is the name of the region's audit log, under which key hashes
// name its audit keys.
func (s *Service) origin() string {
	if l := s.v.Audit(); l != nil {
		return l.Origin()
	}
	return "domicile/" + s.name
}
