// Package access decides who may see what: for every request it answers,
// from the policy, whether the principal may perform the action and, field
// by field, whether it sees the value in clear, masked, or not at all. A
// clear read of a strict region's data by a principal located outside the
// region is a cross-border transfer and needs a transfer rule.
//
// Decide is pure: the same principal, request and policy always give the
// same decision, with its reasons, so it is table-tested exhaustively and
// every caller (reads, searches, creates, erasure, admin) goes through it.
package access

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
)

// Principal is who a request acts for, as the decision sees it.
type Principal struct {
	ID       string
	Roles    []string
	Location string   // ISO 3166-1 alpha-2: where the principal operates
	Regions  []string // regions it may reach; empty means all
}

// Request is what is asked.
type Request struct {
	Action     policy.Permission
	Purpose    string
	Region     string // the region whose data is touched
	Collection string // "" for actions on no collection (admin)
	// Jurisdiction of the record, when a record is concerned (for role
	// conditions); "" otherwise.
	Jurisdiction string
}

// Treatment is what the principal gets of one field.
type Treatment struct {
	Kind policy.AccessKind // clear, masked or none
	Mask string            // for masked
	// Abroad is true when the field would be clear but is masked because
	// the read would leave a strict region without a transfer rule.
	Abroad bool
	// Transfer names the transfer rule that lets a clear field leave a
	// strict region (a cross-border transfer); "" otherwise.
	Transfer string
}

// Denial codes, stable: the API returns them as problem codes. They are
// internal/errcode's codes, as strings (Decision.Code is a string).
const (
	CodePermissionDenied = string(errcode.PermissionDenied)
	CodeRegionDenied     = string(errcode.RegionNotAllowed)
	CodePurposeUnknown   = string(errcode.UnknownPurpose)
	CodeTransferRequired = string(errcode.TransferRequired)
	CodeConditionFailed  = string(errcode.ConditionNotMet)
)

// Decision is the outcome of Decide.
type Decision struct {
	Allowed bool
	// Code and Missing explain a denial: Missing names the permission
	// lacking for CodePermissionDenied.
	Code    string
	Missing string
	// Fields is the treatment of every field of the collection the
	// principal sees (fields it may not see are absent).
	Fields map[string]Treatment
	// Transfer is true when the principal reads from outside a strict
	// region; Rule names what governed it: the transfer rules applied
	// ("cn-to-us-scc"), "abroad-masked", "in-region" or "standard".
	Transfer bool
	Rule     string
	// Roles are the roles that applied.
	Roles []string
	// Reasons explain the decision in words, without values.
	Reasons []string
}

// Engine holds a policy with its role conditions compiled.
type Engine struct {
	pol   *policy.Policy
	conds map[string]cel.Program
}

// New compiles the policy's role conditions.
func New(pol *policy.Policy) (*Engine, error) {
	env, err := policy.ConditionEnv()
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	e := &Engine{pol: pol, conds: map[string]cel.Program{}}
	for _, r := range pol.Roles {
		if r.Condition == "" {
			continue
		}
		prg, err := policy.CompileCondition(env, r.Condition)
		if err != nil {
			return nil, fmt.Errorf("access: role %s condition: %w", r.Name, err)
		}
		e.conds[r.Name] = prg
	}
	return e, nil
}

// Policy returns the engine's policy.
func (e *Engine) Policy() *policy.Policy { return e.pol }

func (e *Engine) conditionHolds(role string, p Principal, req Request) (bool, error) {
	prg, ok := e.conds[role]
	if !ok {
		return true, nil
	}
	roles := make([]any, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = r
	}
	out, _, err := prg.Eval(map[string]any{
		"principal": map[string]any{"id": p.ID, "roles": roles, "location": p.Location},
		"record":    map[string]string{"jurisdiction": req.Jurisdiction, "region": req.Region, "collection": req.Collection},
		"request":   map[string]string{"action": string(req.Action), "purpose": req.Purpose, "region": req.Region},
	})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	return ok && b, nil
}

func deny(d *Decision, code, missing, reason string) Decision {
	d.Allowed, d.Code, d.Missing, d.Fields = false, code, missing, nil
	d.Reasons = append(d.Reasons, reason)
	return *d
}

// rank orders treatments from least to most revealing.
func rank(t Treatment) int {
	switch t.Kind {
	case policy.AccessClear:
		return 3
	case policy.AccessMasked:
		if t.Mask == policy.MaskRedact {
			return 1
		}
		return 2
	}
	return 0
}

// Decide returns what principal p may do and see for req. It denies
// unless a role grants the action; fields a role does not list are not
// visible; clear access needs a purpose the role allows; from outside a
// strict region, clear fields need a transfer rule or come back masked (or
// the read is refused, as the region's abroad rule says).
func (e *Engine) Decide(p Principal, req Request) Decision {
	d := Decision{Rule: "standard"}
	region, ok := e.pol.Region(req.Region)
	if !ok {
		return deny(&d, CodeRegionDenied, "", "region "+req.Region+" is not in the policy")
	}
	if len(p.Regions) > 0 && !slices.Contains(p.Regions, req.Region) {
		return deny(&d, CodeRegionDenied, "", "the principal may not reach region "+req.Region)
	}
	if req.Purpose != "" && !e.pol.HasPurpose(req.Purpose) {
		return deny(&d, CodePurposeUnknown, "", "purpose "+req.Purpose+" is not declared in the policy")
	}
	var roles []*policy.Role
	conditionFailed := false
	for _, name := range p.Roles {
		r, ok := e.pol.Role(name)
		if !ok || !r.Has(req.Action) {
			continue
		}
		holds, err := e.conditionHolds(r.Name, p, req)
		if err != nil {
			d.Reasons = append(d.Reasons, "role "+r.Name+": condition failed to evaluate")
		}
		if !holds {
			conditionFailed = true
			d.Reasons = append(d.Reasons, "role "+r.Name+": condition not met")
			continue
		}
		roles = append(roles, r)
		d.Roles = append(d.Roles, r.Name)
	}
	if len(roles) == 0 {
		if conditionFailed {
			return deny(&d, CodeConditionFailed, string(req.Action), "no role's condition holds for this request")
		}
		return deny(&d, CodePermissionDenied, string(req.Action), "no role of the principal grants "+string(req.Action))
	}
	d.Allowed = true
	if region.Residency == policy.Strict {
		d.Rule = "in-region"
	}
	if req.Action != policy.PermRead && req.Action != policy.PermSearch && req.Action != policy.PermDetokenize {
		// Writes, deletions, erasure and administration move no value out
		// of the region: no field treatment, no transfer.
		return d
	}
	if req.Collection == "" {
		return d
	}
	coll, ok := e.pol.Collection(req.Collection)
	if !ok {
		return d // the vault reports the unknown collection
	}
	// The most revealing treatment any applying role grants, per field;
	// clear only for a purpose that role allows.
	d.Fields = map[string]Treatment{}
	for _, r := range roles {
		purposeOK := req.Purpose != "" && slices.Contains(r.Purposes, req.Purpose)
		for name, fa := range r.Collections[req.Collection] {
			t := Treatment{Kind: fa.Kind, Mask: fa.Mask}
			if t.Kind == policy.AccessNone {
				continue
			}
			if t.Kind == policy.AccessClear && !purposeOK {
				f, _ := coll.Field(name)
				t = Treatment{Kind: policy.AccessMasked, Mask: f.Mask}
				d.Reasons = appendOnce(d.Reasons, "role "+r.Name+": clear access needs purpose "+strings.Join(r.Purposes, " or "))
			}
			if prev, ok := d.Fields[name]; !ok || rank(t) > rank(prev) {
				d.Fields[name] = t
			}
		}
	}
	// Access from abroad is a transfer.
	if region.Residency == policy.Strict && !region.Covers(p.Location) {
		d.Transfer = true
		var used []string
		masked := false
		for _, name := range sortedKeys(d.Fields) {
			t := d.Fields[name]
			if t.Kind != policy.AccessClear {
				continue
			}
			rule := e.transferRule(region.Name, req.Collection, name, p.Location)
			if rule != "" {
				used = appendOnce(used, rule)
				t.Transfer = rule
				d.Fields[name] = t
				continue
			}
			if region.Abroad == policy.AbroadRefuse {
				return deny(&d, CodeTransferRequired, "", fmt.Sprintf("field %s of region %s may not leave it for %s without a transfer rule", name, region.Name, p.Location))
			}
			f, _ := coll.Field(name)
			d.Fields[name] = Treatment{Kind: policy.AccessMasked, Mask: f.Mask, Abroad: true}
			masked = true
		}
		switch {
		case len(used) > 0:
			d.Rule = strings.Join(used, ",")
			d.Reasons = append(d.Reasons, "read from "+p.Location+" is a transfer under "+d.Rule)
		case masked:
			d.Rule = "abroad-masked"
			d.Reasons = append(d.Reasons, "read from "+p.Location+" without a transfer rule: clear fields masked")
		default:
			d.Rule = "abroad-no-clear"
		}
		if len(used) > 0 && masked {
			d.Reasons = append(d.Reasons, "fields outside the rule masked")
		}
	}
	return d
}

func (e *Engine) transferRule(region, collection, field, location string) string {
	for i := range e.pol.Transfers {
		t := &e.pol.Transfers[i]
		if t.From == region && t.Allows(collection, field, location) {
			return t.Name
		}
	}
	return ""
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func sortedKeys(m map[string]Treatment) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String renders a treatment as the policy writes it.
func (t Treatment) String() string {
	if t.Kind == policy.AccessMasked {
		return "masked:" + t.Mask
	}
	return string(t.Kind)
}
