package region

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
)

// This file is the policy of a region as its administrators see it: which
// policy the node serves (its version and digest) and how a new one
// replaces it without a restart. The node (internal/app) holds the
// current policy and swaps it; the service decides who may ask and says
// which changes a reload may make (CheckPolicyChange).

// How a policy came to be in force, as PolicyInfo.Source and the audit
// entry of a reload name it.
const (
	// PolicyFromFile: the node's --policy file (or the built-in example),
	// read at start.
	PolicyFromFile = "file"
	// PolicyFromSignal: the --policy file, read again on SIGHUP.
	PolicyFromSignal = "signal"
	// PolicyFromAPI: sent to PUT /v1/regions/{region}/policy.
	PolicyFromAPI = "api"
	// PolicyFromStore: a newer policy another node of the region stored.
	PolicyFromStore = "store"
)

// MaxPolicySize is the largest policy document a reload accepts, in bytes.
const MaxPolicySize = 1 << 20

// PolicyInfo says which policy a region's node serves. It never holds the
// policy's text.
type PolicyInfo struct {
	Region string `json:"region"`
	// Version counts the policies accepted in the region's store, 1 for
	// the first; every node of the region serving the same version serves
	// the same policy.
	Version int64 `json:"version"`
	// Digest is the policy document's hash under the region's suite:
	// "sha256:HEX" (intl) or "sm3:HEX" (cn).
	Digest string `json:"digest"`
	// Source is how the policy came to be in force (PolicyFromFile, ...).
	Source string `json:"source"`
	// Since is when this node began to serve it.
	Since time.Time `json:"since"`
}

// PolicyControl holds a region node's current policy and replaces it. The
// node implements it; the service calls it once a request is allowed.
type PolicyControl interface {
	// ActivePolicy returns the policy the node serves now.
	ActivePolicy() PolicyInfo
	// ReloadPolicy validates doc as at start, checks the change with
	// CheckPolicyChange, stores it as the region's next version, audits
	// it and serves it; on any error the previous policy keeps serving.
	// Errors are *errcode.Error: InvalidPolicy, PolicyChangeRefused, or
	// the store's and audit log's.
	ReloadPolicy(ctx context.Context, doc []byte, principal, requestID, source string) (PolicyInfo, error)
}

// ActivePolicy returns the policy the region's node serves. It needs the
// admin permission and is audited like every administrative request.
func (s *Service) ActivePolicy(ctx context.Context, c Caller, region string) (PolicyInfo, error) {
	if err := s.checkRegion(region); err != nil {
		return PolicyInfo{}, err
	}
	if s.policy == nil {
		return PolicyInfo{}, errcode.New(errcode.NoSuchEndpoint, "this node does not change its policy online")
	}
	if err := s.admin(ctx, c); err != nil {
		return PolicyInfo{}, err
	}
	return s.policy.ActivePolicy(), nil
}

// ReloadPolicy replaces the region's policy with doc (the YAML document).
// It needs the admin permission; the node audits the accepted change (old
// and new digest, who, how) and every node of the region converges on it.
// A refused policy changes nothing and is answered with InvalidPolicy or
// PolicyChangeRefused.
func (s *Service) ReloadPolicy(ctx context.Context, c Caller, region string, doc []byte) (PolicyInfo, error) {
	if err := s.checkRegion(region); err != nil {
		return PolicyInfo{}, err
	}
	if s.policy == nil {
		return PolicyInfo{}, errcode.New(errcode.NoSuchEndpoint, "this node does not change its policy online")
	}
	if _, err := s.decide(ctx, c, target{action: policy.PermAdmin}); err != nil {
		return PolicyInfo{}, err
	}
	if len(doc) > MaxPolicySize {
		return PolicyInfo{}, errcode.New(errcode.BodyTooLarge, "the policy is %d bytes; at most %d are accepted", len(doc), MaxPolicySize)
	}
	return s.policy.ReloadPolicy(ctx, doc, c.Account.ID, c.RequestID, PolicyFromAPI) // logs a refusal
}

// ParsePolicy parses and validates doc as a start does and returns the
// errors as InvalidPolicy, the first problems with their lines and hints
// in the message.
func ParsePolicy(name string, doc []byte) (*policy.Policy, error) {
	p, err := policy.Parse(name, doc)
	if err == nil {
		return p, nil
	}
	var list *policy.ErrorList
	if !errors.As(err, &list) {
		return nil, errcode.Wrap(errcode.InvalidPolicy, err, "the policy is not valid")
	}
	var b strings.Builder
	for i, pe := range *list {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(*list)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "line %d: %s", pe.Line, pe.Msg)
		if pe.Hint != "" {
			fmt.Fprintf(&b, " (hint: %s)", pe.Hint)
		}
	}
	return nil, errcode.Wrap(errcode.InvalidPolicy, err, "the policy is not valid: %s", b.String())
}

// CheckPolicyChange says whether a running deployment may go from old to
// next without a restart or a migration. A reload may change roles,
// permissions, purposes, masks, transfer rules and mechanisms, guard
// limits, residency modes and thresholds, field limits and add fields,
// collections and jurisdictions no region held. It refuses, as
// PolicyChangeRefused naming every problem, what would strand stored
// data or keys: adding or removing a region, changing a region's suite,
// moving a jurisdiction to another region or leaving it to none, removing
// a collection or a field, and changing a field's type, normaliser, index
// or token (stored blind indexes and tokens were made under them).
func CheckPolicyChange(old, next *policy.Policy) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for i := range old.Regions {
		or := &old.Regions[i]
		nr, ok := next.Region(or.Name)
		switch {
		case !ok:
			add("region %s is removed", or.Name)
		case nr.Suite != or.Suite:
			add("region %s changes suite from %s to %s (a suite changes only by migrating the region's keys online)", or.Name, or.Suite, nr.Suite)
		}
	}
	for i := range next.Regions {
		if _, ok := old.Region(next.Regions[i].Name); !ok {
			add("region %s is added (a new region needs its own nodes: restart with the new policy)", next.Regions[i].Name)
		}
	}
	var moved, dropped []string
	for _, code := range policy.Countries() {
		or, oerr := old.RegionFor(code)
		if oerr != nil {
			continue // no data can be stored for it yet
		}
		nr, nerr := next.RegionFor(code)
		switch {
		case nerr != nil:
			dropped = append(dropped, code)
		case nr.Name != or.Name:
			moved = append(moved, code+" ("+or.Name+" to "+nr.Name+")")
		}
	}
	if len(moved) > 0 {
		add("jurisdictions move to another region: %s", listSome(moved))
	}
	if len(dropped) > 0 {
		add("jurisdictions are left without a region: %s", listSome(dropped))
	}
	for i := range old.Collections {
		oc := &old.Collections[i]
		nc, ok := next.Collection(oc.Name)
		if !ok {
			add("collection %s is removed", oc.Name)
			continue
		}
		for j := range oc.Fields {
			of := &oc.Fields[j]
			nf, ok := nc.Field(of.Name)
			if !ok {
				add("field %s.%s is removed", oc.Name, of.Name)
				continue
			}
			var what []string
			if nf.Type != of.Type {
				what = append(what, "type")
			}
			if nf.Normalizer != of.Normalizer {
				what = append(what, "normalizer")
			}
			if nf.Index != of.Index {
				what = append(what, "index")
			}
			if nf.Token != of.Token || nf.TokenFormat != of.TokenFormat {
				what = append(what, "token")
			}
			if len(what) > 0 {
				add("field %s.%s changes its %s", oc.Name, of.Name, strings.Join(what, ", "))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errcode.New(errcode.PolicyChangeRefused, "the new policy changes what a reload may not change: %s", strings.Join(problems, "; "))
}

// listSome joins up to ten items, saying how many more there are.
func listSome(items []string) string {
	slices.Sort(items)
	if len(items) <= 10 {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:10], ", ") + fmt.Sprintf(" and %d more", len(items)-10)
}
