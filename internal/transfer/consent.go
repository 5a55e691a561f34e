package transfer

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// Consents are kept per subject in the subject's region, under
//
//	x/c/<subject ref>/<consent id>   JSON of Consent
//
// and read on every transfer that rests on consent, so that a withdrawal
// takes effect on the next request on every node.

// Errors of the consent calls.
var (
	ErrNoConsent      = errors.New("transfer: no such consent")
	ErrInvalidConsent = errors.New("transfer: invalid consent")
)

// Consent is a subject's separate consent (PIPL art. 39, GDPR art. 49(1)(a))
// to the transfer of its data to a destination, for a purpose, possibly to
// one recipient. It holds no personal value: the subject appears only in
// its key, as the region's keyed reference, and Evidence is a reference to
// where the signed consent is kept (a document id), not the document.
type Consent struct {
	ID          string    `json:"id"`
	Destination string    `json:"destination"`         // ISO 3166-1 alpha-2, EU, EEA or "*"
	Recipient   string    `json:"recipient,omitempty"` // a principal id; "" any
	Purpose     string    `json:"purpose"`
	Evidence    string    `json:"evidence"`
	Given       time.Time `json:"given"`
	Withdrawn   time.Time `json:"withdrawn,omitzero"`
}

// Live reports whether c is given and not withdrawn.
func (c *Consent) Live() bool { return c.Withdrawn.IsZero() }

// Covers reports whether c, live, covers a transfer to a recipient in
// destination for purpose.
func (c *Consent) Covers(destination, recipient, purpose string) bool {
	return c.Live() && c.Purpose == purpose && (c.Recipient == "" || c.Recipient == recipient) &&
		policy.CoversLocation([]string{c.Destination}, destination)
}

var evidenceRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$`)

// GiveConsent records c for the subject ref (its ID, Given and Withdrawn
// are set here) and returns it.
//
// Errors: ErrInvalidConsent (wrapped, naming the field) for an unknown
// destination or purpose, a recipient or evidence that is not an
// identifier; the store's, wrapped.
func (l *Ledger) GiveConsent(ctx context.Context, ref []byte, c Consent) (*Consent, error) {
	c.Destination = strings.ToUpper(c.Destination)
	switch {
	case c.Destination != "*" && !policy.ValidDestination(c.Destination):
		return nil, fmt.Errorf("%w: destination %q is not an ISO 3166-1 alpha-2 code, EU, EEA or *", ErrInvalidConsent, c.Destination)
	case !l.pol.HasPurpose(c.Purpose):
		return nil, fmt.Errorf("%w: purpose %q is not in the policy", ErrInvalidConsent, c.Purpose)
	case c.Recipient != "" && !evidenceRef.MatchString(c.Recipient):
		return nil, fmt.Errorf("%w: recipient must be a principal id", ErrInvalidConsent)
	case !evidenceRef.MatchString(c.Evidence):
		return nil, fmt.Errorf("%w: evidence must be a reference (1 to 128 of A-Z a-z 0-9 . _ : / # -), such as the signed form's document id", ErrInvalidConsent)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("transfer: consent id: %w", err)
	}
	c.ID = "cns_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(id[:]))
	c.Given, c.Withdrawn = l.now().UTC().Truncate(time.Millisecond), time.Time{}
	v, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var b store.Batch
	b.Insert(consentKey(ref, c.ID), v)
	if err := l.st.Apply(ctx, &b); err != nil {
		return nil, fmt.Errorf("transfer: record consent: %w", err)
	}
	return &c, nil
}

// WithdrawConsent marks consent id of the subject ref withdrawn, now, and
// returns it; withdrawing twice keeps the first time.
//
// Errors: ErrNoConsent; the store's, wrapped.
func (l *Ledger) WithdrawConsent(ctx context.Context, ref []byte, id string) (*Consent, error) {
	for {
		old, err := l.st.Get(ctx, consentKey(ref, id))
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoConsent
		}
		if err != nil {
			return nil, fmt.Errorf("transfer: read consent: %w", err)
		}
		var c Consent
		if err := json.Unmarshal(old, &c); err != nil {
			return nil, fmt.Errorf("transfer: consent %s is corrupt: %w", id, err)
		}
		if !c.Live() {
			return &c, nil
		}
		c.Withdrawn = l.now().UTC().Truncate(time.Millisecond)
		v, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		var b store.Batch
		b.Expect(consentKey(ref, id), old)
		b.Put(consentKey(ref, id), v)
		err = l.st.Apply(ctx, &b)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("transfer: withdraw consent: %w", err)
		}
		return &c, nil
	}
}

// Consents returns the subject's consents, withdrawn ones included, by id.
//
// Errors: the store's, wrapped.
func (l *Ledger) Consents(ctx context.Context, ref []byte) ([]Consent, error) {
	prefix := consentKey(ref, "")
	kvs, err := l.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil {
		return nil, fmt.Errorf("transfer: read consents: %w", err)
	}
	out := make([]Consent, 0, len(kvs))
	for _, kv := range kvs {
		var c Consent
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			return nil, fmt.Errorf("transfer: consent %s is corrupt: %w", kv.Key[len(prefix):], err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Consent) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Consented reports whether the subject ref has a live consent covering a
// transfer to recipient in destination for purpose.
//
// Errors: those of Consents.
func (l *Ledger) Consented(ctx context.Context, ref []byte, destination, recipient, purpose string) (bool, error) {
	cs, err := l.Consents(ctx, ref)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(cs, func(c Consent) bool { return c.Covers(destination, recipient, purpose) }), nil
}

// EraseConsents deletes every consent of the subject ref (its erasure).
//
// Errors: the store's, wrapped.
func (l *Ledger) EraseConsents(ctx context.Context, ref []byte) (int, error) {
	prefix := consentKey(ref, "")
	kvs, err := l.st.Scan(ctx, prefix, store.PrefixEnd(prefix), 0)
	if err != nil || len(kvs) == 0 {
		return 0, err
	}
	var b store.Batch
	for _, kv := range kvs {
		b.Delete(kv.Key)
	}
	if err := l.st.Apply(ctx, &b); err != nil {
		return 0, fmt.Errorf("transfer: erase consents: %w", err)
	}
	return len(kvs), nil
}

// RestsOnConsent reports whether transfer rule name has the legal basis
// consent.
func (l *Ledger) RestsOnConsent(name string) bool {
	r := l.rule(name)
	return r != nil && r.Basis == "consent"
}

func consentKey(ref []byte, id string) []byte {
	k := append([]byte("x/c/"), ref...)
	k = append(k, '/')
	return append(k, id...)
}
