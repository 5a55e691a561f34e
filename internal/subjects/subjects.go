// Package subjects is a data subject's request for everything a region
// holds about them (PIPL art. 45, GDPR art. 15 and 20): the package one
// region assembles, in that region, and signs with its audit key so that
// the subject, a regulator or an auditor checks it offline.
//
// A package holds the subject's records as the requesting principal may
// see them, the subject's consents to transfers, the transfers of the
// subject's data abroad, and every access to it from the region's audit
// log, found by the subject's keyed reference (entries never name the
// subject's id). The package names the subject by that reference too;
// the records in it carry the id, as they are the subject's own data.
package subjects

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/transfer"
)

// Format names the package format; Parse accepts only it.
const Format = "domicile subject package v1"

// Package is what one region holds about one subject.
type Package struct {
	Format string `json:"format"`
	Region string `json:"region"`
	// Suite is the region's cryptographic suite, such as "cn".
	Suite string `json:"suite"`
	// SubjectRef is the subject's keyed reference in the region (hex),
	// the value the audit log's entries name the subject by.
	SubjectRef string    `json:"subject_ref"`
	Generated  time.Time `json:"generated"`
	// RequestedBy is the principal that assembled the package, and
	// Location where it was (a delivery abroad is itself a transfer).
	RequestedBy string `json:"requested_by"`
	Location    string `json:"location,omitempty"`
	// AuditSize is the number of audit log entries searched: every entry
	// below it that names the subject is in Accesses or Transfers.
	AuditSize uint64             `json:"audit_size"`
	Records   []Record           `json:"records"`
	Consents  []transfer.Consent `json:"consents"`
	Transfers []Transfer         `json:"transfers"`
	Accesses  []Access           `json:"accesses"`
	Erasures  []time.Time        `json:"erasures,omitempty"`
}

// Record is one of the subject's records, as the requesting principal may
// see it: Treatment says for each field whether it is in clear or masked.
type Record struct {
	ID           string            `json:"id"`
	Collection   string            `json:"collection"`
	Subject      string            `json:"subject"`
	Jurisdiction string            `json:"jurisdiction"`
	Created      time.Time         `json:"created"`
	Updated      time.Time         `json:"updated"`
	Fields       map[string]string `json:"fields"`
	Treatment    map[string]string `json:"treatment,omitempty"`
}

// Transfer is one transfer of the subject's data abroad, from the audit
// log's transfer entry: when, to whom and where, why, under which
// mechanism, and which records and fields.
type Transfer struct {
	Index       uint64    `json:"index"`
	Time        time.Time `json:"time"`
	Principal   string    `json:"principal"`
	Destination string    `json:"destination"`
	Purpose     string    `json:"purpose,omitempty"`
	Mechanism   string    `json:"mechanism"`
	Class       string    `json:"class"`
	Rule        string    `json:"rule,omitempty"`
	Records     []string  `json:"records,omitempty"`
	Fields      []string  `json:"fields,omitempty"`
}

// Access is one audit log entry that names the subject: who did what to
// its data, where from, why and when, with which fields in clear, masked
// or refused.
type Access struct {
	Index     uint64            `json:"index"`
	Time      time.Time         `json:"time"`
	Principal string            `json:"principal"`
	Location  string            `json:"location,omitempty"`
	Action    string            `json:"action"`
	Purpose   string            `json:"purpose,omitempty"`
	Rule      string            `json:"rule,omitempty"`
	Outcome   string            `json:"outcome"`
	Records   []string          `json:"records,omitempty"`
	Clear     []string          `json:"clear,omitempty"`
	Masked    []string          `json:"masked,omitempty"`
	Refused   map[string]string `json:"refused,omitempty"`
}

// Signed is a signed package.
type Signed = signed.Envelope

// Context is what a package's signature covers before the payload.
const Context = "domicile subject package v1\n"

var kind = signed.Kind{Context: Context, Noun: "package"}

// ErrPackage is wrapped by every error of Verify and Parse.
var ErrPackage = errors.New("subject package does not verify")

// Sign marshals p and signs it with priv, a key of sig; origin is the
// region's audit log origin, which names the key.
//
// Errors: those of the signature scheme, and when priv is not a key of sig.
func Sign(p *Package, origin string, priv crypto.Signer, sig suite.Signature, h suite.Hash, rand io.Reader) (*Signed, error) {
	e, err := signed.SignJSON(kind, p, origin, priv, sig, h, rand)
	if err != nil {
		return nil, fmt.Errorf("subjects: %w", err)
	}
	return e, nil
}

// Verify checks e with the key among keys (the region's audit keys under
// origin) that its key hash names, and returns the package its payload
// holds, parsed strictly (see Parse).
//
// Errors: wrap ErrPackage, in words.
func Verify(e *Signed, origin string, keys []crypto.PublicKey, sig suite.Signature, h suite.Hash) (*Package, error) {
	if err := signed.Verify(kind, e, origin, keys, sig, h); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackage, err)
	}
	return Parse(e.Payload)
}

// Parse parses a package's JSON strictly: one object of Package's fields
// only, of this format, naming a region and a subject reference.
//
// Errors: wrap ErrPackage, in words, for anything else.
func Parse(b []byte) (*Package, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Package
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: the payload is no subject package: %v", ErrPackage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: the payload has data after the package", ErrPackage)
	}
	switch {
	case p.Format != Format:
		return nil, fmt.Errorf("%w: the payload's format is %q, not %q", ErrPackage, p.Format, Format)
	case p.Region == "" || p.SubjectRef == "":
		return nil, fmt.Errorf("%w: the payload names no region or subject", ErrPackage)
	}
	return &p, nil
}

// Add sorts es, entries of the region's audit log that name the subject,
// into p: a transfer entry is a Transfer, every other entry an Access, and
// an erase entry adds its time to Erasures. own are the ids of the
// subject's records in p.Records: an entry about several subjects (a
// search, a page of a list) names only those of its records, so that the
// package shows nothing of other subjects.
func (p *Package) Add(own map[string]bool, es ...entry.Entry) {
	for i := range es {
		e := &es[i]
		recs := e.Records
		if len(e.Subjects) > 1 {
			recs = nil
			for _, id := range e.Records {
				if own[id] {
					recs = append(recs, id)
				}
			}
		}
		switch e.Action {
		case entry.Transfer:
			// The decision is the ledger's bucket: jurisdiction,
			// destination, mechanism and class.
			parts := strings.SplitN(e.Decision, "/", 4)
			for len(parts) < 4 {
				parts = append(parts, "")
			}
			p.Transfers = append(p.Transfers, Transfer{Index: e.Index, Time: e.Time.UTC(), Principal: e.Principal, Destination: parts[1],
				Purpose: e.Purpose, Mechanism: parts[2], Class: parts[3], Rule: e.Rule, Records: recs, Fields: e.Fields})
			continue
		case entry.Erase:
			if e.Outcome == "ok" {
				p.Erasures = append(p.Erasures, e.Time.UTC())
			}
		}
		a := Access{Index: e.Index, Time: e.Time.UTC(), Principal: e.Principal, Location: e.Location, Action: string(e.Action),
			Purpose: e.Purpose, Rule: e.Rule, Outcome: e.Outcome, Records: recs, Clear: e.Fields, Masked: e.Masked}
		for _, r := range e.Refused {
			if a.Refused == nil {
				a.Refused = map[string]string{}
			}
			a.Refused[r.Field] = r.Code
		}
		p.Accesses = append(p.Accesses, a)
	}
}
