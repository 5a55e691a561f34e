package transfer

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/suite"
)

// A signed report is a Report that a regulator or an auditor checks
// offline. Its payload is the report as encoding/json writes it; the
// signature is the region's current audit key's over
//
//	SignedReportContext || payload
//
// (the context keeps a report signature from being taken for a checkpoint
// signature or anything else the key signs), and the key is named by the
// same 4-byte key hash as in the audit log's checkpoints: the first four
// bytes of checkpoint.Fingerprint under the log's origin
// ("domicile/<region>"), so 'domicile audit keys' shows which key signed.

// SignedReportContext is what a report signature covers before the
// payload.
const SignedReportContext = "domicile transfer report v1\n"

// Signed is a signed report: the exact bytes signed and the signature.
type Signed = signed.Envelope

// reportKind is the kind of document a transfer report is.
var reportKind = signed.Kind{Context: SignedReportContext, Noun: "report"}

// ErrReport is wrapped by every error of VerifyReport.
var ErrReport = errors.New("transfer report does not verify")

// SignReport marshals r and signs it with priv, a key of sig; origin is
// the region's audit log origin, which names the key (see checkpoint.KeyHash).
//
// Errors: those of the signature scheme, and when priv is not a key of sig.
func SignReport(r *Report, origin string, priv crypto.Signer, sig suite.Signature, h suite.Hash, rand io.Reader) (*Signed, error) {
	s, err := signed.SignJSON(reportKind, r, origin, priv, sig, h, rand)
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	return s, nil
}

// VerifyReport checks s with the key among keys (all of sig, the region's
// audit keys under origin) that its key hash names, and returns the report
// its payload holds, parsed strictly (see ParseReport).
//
// Errors: wrap ErrReport, in words: a wrong algorithm, a key that is not
// among keys, a signature that does not verify (an edited payload), a
// payload that is no report.
func VerifyReport(s *Signed, origin string, keys []crypto.PublicKey, sig suite.Signature, h suite.Hash) (*Report, error) {
	if err := signed.Verify(reportKind, s, origin, keys, sig, h); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	r, err := ParseReport(s.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReport, err)
	}
	return r, nil
}

// ParseReport parses a report's JSON strictly: one object, of Report's
// fields only, naming a region and a year.
//
// Errors: in words, for anything else.
func ParseReport(b []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("the payload is no transfer report: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the payload has data after the report")
	}
	if r.Region == "" || r.Year == 0 {
		return nil, errors.New("the payload is no transfer report: it names no region or year")
	}
	return &r, nil
}
