package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Abroad is what a strict region does with clear values that a principal
// located outside its jurisdictions reads without a transfer rule.
type Abroad string

// The abroad rules.
const (
	// AbroadMask returns such values masked (the field's mask).
	AbroadMask Abroad = "mask"
	// AbroadRefuse denies a read that would need such values.
	AbroadRefuse Abroad = "refuse"
)

// Masks.
const (
	MaskLast4  = "last4"  // all but the last four characters hidden
	MaskFirst1 = "first1" // all but the first character hidden
	MaskEmail  = "email"  // j***@example.com
	MaskRedact = "redact" // the whole value hidden
	MaskYear   = "year"   // a date's year only
	MaskHash   = "hash"   // a keyed, deterministic digest (joins without values)
)

// Masks lists every mask.
var Masks = []string{MaskLast4, MaskFirst1, MaskEmail, MaskRedact, MaskYear, MaskHash}

// Permission is what a role may do.
type Permission string

// The permissions. Each endpoint needs exactly one.
const (
	PermCreate Permission = "create"
	PermRead   Permission = "read"
	PermSearch Permission = "search"
	PermUpdate Permission = "update"
	PermDelete Permission = "delete"
	PermErase  Permission = "erase"
	PermAdmin  Permission = "admin"
	// PermDetokenize turns tokens back into values; what the principal
	// sees of each value follows its field access, as for a read.
	PermDetokenize Permission = "detokenize"
)

// Permissions lists every permission.
var Permissions = []Permission{PermCreate, PermRead, PermSearch, PermUpdate, PermDelete, PermErase, PermAdmin, PermDetokenize}

// AccessKind is what a role sees of a field.
type AccessKind string

// The field access kinds.
const (
	AccessClear  AccessKind = "clear"
	AccessMasked AccessKind = "masked"
	AccessNone   AccessKind = "none"
)

// FieldAccess is what a role sees of one field.
type FieldAccess struct {
	Kind AccessKind
	// Mask is the mask for AccessMasked (the field's own when the policy
	// says just "masked").
	Mask string
}

// Role says what a principal holding it may do and see. Anything not
// granted is denied.
type Role struct {
	Name        string
	Description string
	Permissions []Permission
	// Purposes are the purposes that allow clear access; a clear field
	// read for another purpose (or none) comes back masked.
	Purposes []string
	// Condition is an optional CEL expression over principal, record and
	// request; the role applies only where it is true.
	Condition     string
	ConditionLine int
	// Collections maps collection -> field -> access. Fields not listed
	// are not visible.
	Collections map[string]map[string]FieldAccess
	Line        int
}

// Has reports whether the role grants p.
func (r *Role) Has(p Permission) bool { return slices.Contains(r.Permissions, p) }

// Transfer is a cross-border transfer rule: clear values of the listed
// fields of From's records may be read by principals located in To, on a
// legal basis.
type Transfer struct {
	Name       string
	From       string   // region
	To         []string // ISO 3166-1 alpha-2 codes, groups, or "*"
	Basis      string
	Collection string
	Fields     []string
	// Mechanism names the transfer mechanism (see Mechanism) the rule
	// transfers under; empty when the rule names none.
	Mechanism string
	Line      int
}

// Bases are the legal bases a transfer rule may name.
var Bases = []string{"consent", "standard-contract", "security-assessment", "certification", "adequacy", "contract-necessity"}

// Allows reports whether the rule lets field of collection leave its
// region to a principal in location.
func (t *Transfer) Allows(collection, field, location string) bool {
	if t.Collection != collection || !slices.Contains(t.Fields, field) {
		return false
	}
	return coversLocation(t.To, location)
}

// Role returns the role named name.
func (p *Policy) Role(name string) (*Role, bool) {
	for i := range p.Roles {
		if p.Roles[i].Name == name {
			return &p.Roles[i], true
		}
	}
	return nil, false
}

// HasPurpose reports whether purpose is declared.
func (p *Policy) HasPurpose(purpose string) bool { return slices.Contains(p.Purposes, purpose) }

// CoversLocation reports whether entries (ISO 3166-1 alpha-2 codes, the
// groups EU and EEA, or "*"), as a transfer rule's or a mechanism's "to",
// cover the location loc.
func CoversLocation(entries []string, loc string) bool { return coversLocation(entries, loc) }

// ValidDestination reports whether s is an ISO 3166-1 alpha-2 code or a
// group (EU, EEA).
func ValidDestination(s string) bool {
	_, group := Group(s)
	return group || IsCountry(s)
}

func coversLocation(entries []string, loc string) bool {
	loc = strings.ToUpper(loc)
	for _, e := range entries {
		if e == "*" || e == loc {
			return true
		}
		if members, ok := Group(e); ok && slices.Contains(members, loc) {
			return true
		}
	}
	return false
}

var (
	roleName    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	purposeName = roleName
)

func (p *parser) checkMask(node *yaml.Node, mask, fieldType string) {
	if !slices.Contains(Masks, mask) {
		hint := didYouMean(mask, Masks)
		if hint == "" {
			hint = "the masks are " + strings.Join(Masks, ", ")
		}
		p.errorf(node, hint, "unknown mask %q", mask)
		return
	}
	if mask == MaskYear && fieldType != "" && fieldType != TypeDate {
		p.errorf(node, "use mask year only on date fields", "mask year does not fit type %s", fieldType)
	}
	if mask == MaskEmail && fieldType != "" && fieldType != TypeEmail {
		p.errorf(node, "use mask email only on email fields", "mask email does not fit type %s", fieldType)
	}
}

func (p *parser) parsePurposes(node *yaml.Node) []string {
	items, ok := p.sequence(node, "purposes", "list the purposes, such as [support, fraud-investigation, dsr]")
	if !ok {
		return nil
	}
	var out []string
	for _, it := range items {
		s, ok := p.str(it, "purpose")
		if !ok {
			continue
		}
		if !purposeName.MatchString(s) {
			p.errorf(it, "use lower-case letters, digits, hyphens and underscores, such as fraud-investigation", "invalid purpose %q", s)
			continue
		}
		if slices.Contains(out, s) {
			p.errorf(it, "list each purpose once", "duplicate purpose %q", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) strList(node *yaml.Node, what, hint string) ([]string, []*yaml.Node) {
	items, ok := p.sequence(node, what, hint)
	if !ok {
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, it := range items {
		if s, ok := p.str(it, what); ok {
			out = append(out, s)
			nodes = append(nodes, it)
		}
	}
	return out, nodes
}

func (p *parser) parseRoles(node *yaml.Node, pol *Policy) []Role {
	items, ok := p.sequence(node, "roles", "list the roles, each starting with \"- name:\"")
	if !ok {
		return nil
	}
	var roles []Role
	seen := map[string]int{}
	for _, item := range items {
		r, ok := p.parseRole(item, pol)
		if !ok {
			continue
		}
		if line, dup := seen[r.Name]; dup && r.Name != "" {
			p.errorf(item, "give each role its own name", "duplicate role %q (first on line %d)", r.Name, line)
			continue
		}
		seen[r.Name] = r.Line
		roles = append(roles, r)
	}
	return roles
}

func (p *parser) parseRole(item *yaml.Node, pol *Policy) (Role, bool) {
	m := p.mapping(item, "role", roleKeys)
	if m == nil {
		return Role{}, false
	}
	r := Role{Line: item.Line, Collections: map[string]map[string]FieldAccess{}}
	p.require(item, m, "role", "name", "permissions")
	if e, ok := m["name"]; ok {
		if s, ok := p.str(e.value, "role name"); ok {
			r.Name = s
			if !roleName.MatchString(s) {
				p.errorf(e.value, "use lower-case letters, digits, hyphens and underscores, such as support", "invalid role name %q", s)
			}
		}
	}
	if e, ok := m["description"]; ok {
		r.Description, _ = p.str(e.value, "description")
	}
	if e, ok := m["permissions"]; ok {
		names, nodes := p.strList(e.value, "permissions", "list what the role may do, such as [read, search]")
		for i, s := range names {
			perm := Permission(s)
			if !slices.Contains(Permissions, perm) {
				var known []string
				for _, x := range Permissions {
					known = append(known, string(x))
				}
				hint := didYouMean(s, known)
				if hint == "" {
					hint = "the permissions are " + strings.Join(known, ", ")
				}
				p.errorf(nodes[i], hint, "unknown permission %q", s)
				continue
			}
			r.Permissions = append(r.Permissions, perm)
		}
	}
	if e, ok := m["purposes"]; ok {
		names, nodes := p.strList(e.value, "purposes", "list the purposes that allow clear access, such as [support]")
		for i, s := range names {
			if !pol.HasPurpose(s) {
				hint := didYouMean(s, pol.Purposes)
				if hint == "" {
					hint = "declare it in the top-level purposes list"
				}
				p.errorf(nodes[i], hint, "role %s names undeclared purpose %q", r.Name, s)
				continue
			}
			r.Purposes = append(r.Purposes, s)
		}
	}
	if e, ok := m["condition"]; ok {
		if s, ok := p.str(e.value, "condition"); ok {
			r.Condition, r.ConditionLine = s, e.value.Line
			if err := checkCondition(s); err != nil {
				p.errorf(e.value, "conditions are CEL over principal (id, roles, location), record (jurisdiction, region, collection) and request (action, purpose, region), e.g. record.jurisdiction == principal.location", "invalid condition: %v", err)
			}
		}
	}
	if e, ok := m["collections"]; ok {
		p.parseRoleCollections(e.value, pol, &r)
	}
	return r, true
}

// parseRoleCollections reads "collections: {customers: {name: clear, phone: masked:last4}}".
func (p *parser) parseRoleCollections(node *yaml.Node, pol *Policy, r *Role) {
	if !p.plain(node, "role collections") {
		return
	}
	if node.Kind != yaml.MappingNode {
		p.errorf(node, "write \"collections:\" then one \"NAME:\" mapping per collection", "role collections must be a mapping")
		return
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		c, ok := pol.Collection(k.Value)
		if !ok {
			p.errorf(k, "name a collection defined under collections", "role %s names unknown collection %q", r.Name, k.Value)
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.errorf(v, "write one \"field: clear|masked|masked:MASK|none\" line per field", "access of collection %s must be a mapping", c.Name)
			continue
		}
		fields := map[string]FieldAccess{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			f, ok := c.Field(fk.Value)
			if !ok {
				var names []string
				for _, x := range c.Fields {
					names = append(names, x.Name)
				}
				hint := didYouMean(fk.Value, names)
				if hint == "" {
					hint = "the fields of " + c.Name + " are " + strings.Join(names, ", ")
				}
				p.errorf(fk, hint, "role %s names unknown field %q of %s", r.Name, fk.Value, c.Name)
				continue
			}
			s, ok := p.str(fv, "field access")
			if !ok {
				continue
			}
			kind, mask, _ := strings.Cut(s, ":")
			fa := FieldAccess{Kind: AccessKind(kind)}
			switch fa.Kind {
			case AccessClear, AccessNone:
				if mask != "" {
					p.errorf(fv, "only masked takes a mask, as in masked:last4", "%q takes no mask", kind)
				}
			case AccessMasked:
				fa.Mask = mask
				if mask == "" {
					fa.Mask = f.Mask
				} else {
					p.checkMask(fv, mask, f.Type)
				}
			case "token":
				p.errorf(fv, "this version has no tokenization yet; use masked or clear", "token access is not supported yet")
				continue
			default:
				p.errorf(fv, "write clear, masked, masked:MASK or none", "unknown field access %q", s)
				continue
			}
			fields[f.Name] = fa
		}
		r.Collections[c.Name] = fields
	}
}

func (p *parser) parseTransfers(node *yaml.Node, pol *Policy) []Transfer {
	items, ok := p.sequence(node, "transfers", "list the transfer rules, each starting with \"- name:\"")
	if !ok {
		return nil
	}
	var out []Transfer
	for _, item := range items {
		m := p.mapping(item, "transfer", transferKeys)
		if m == nil {
			continue
		}
		t := Transfer{Line: item.Line}
		p.require(item, m, "transfer", "from", "to", "basis", "collection", "fields")
		if e, ok := m["name"]; ok {
			t.Name, _ = p.str(e.value, "transfer name")
		}
		if e, ok := m["from"]; ok {
			if s, ok := p.str(e.value, "from"); ok {
				t.From = s
				if r, ok := pol.Region(s); !ok {
					p.errorf(e.value, "name a region of this policy", "transfer from unknown region %q", s)
				} else if r.Residency != Strict {
					p.errorf(e.value, "transfer rules apply to strict regions; reads from standard regions need none", "region %s is not strict", s)
				}
			}
		}
		if e, ok := m["to"]; ok {
			to, nodes := p.strList(e.value, "to", "list the locations the data may be read from, such as [US] or [\"*\"]")
			for i, s := range to {
				if s == "*" || IsCountry(s) {
					t.To = append(t.To, s)
				} else if _, ok := Group(s); ok {
					t.To = append(t.To, s)
				} else {
					p.errorf(nodes[i], "use ISO 3166-1 alpha-2 codes, EU, EEA or \"*\"", "unknown location %q", s)
				}
			}
		}
		if e, ok := m["basis"]; ok {
			if s, ok := p.str(e.value, "basis"); ok {
				t.Basis = s
				if !slices.Contains(Bases, s) {
					hint := didYouMean(s, Bases)
					if hint == "" {
						hint = "the legal bases are " + strings.Join(Bases, ", ")
					}
					p.errorf(e.value, hint, "unknown legal basis %q", s)
				}
			}
		}
		var coll *Collection
		if e, ok := m["collection"]; ok {
			if s, ok := p.str(e.value, "collection"); ok {
				t.Collection = s
				if coll, ok = pol.Collection(s); !ok {
					p.errorf(e.value, "name a collection defined under collections", "transfer of unknown collection %q", s)
				}
			}
		}
		if e, ok := m["fields"]; ok {
			fields, nodes := p.strList(e.value, "fields", "list the fields that may leave in clear")
			for i, f := range fields {
				if coll != nil {
					if _, ok := coll.Field(f); !ok {
						p.errorf(nodes[i], "name a field of "+coll.Name, "transfer of unknown field %q", f)
						continue
					}
				}
				t.Fields = append(t.Fields, f)
			}
		}
		if t.Name == "" {
			t.Name = fmt.Sprintf("%s-to-%s-%s", t.From, strings.Join(t.To, "+"), t.Basis)
		}
		if e, ok := m["mechanism"]; ok {
			if s, ok := p.str(e.value, "mechanism"); ok {
				t.Mechanism = s
				p.checkTransferMechanism(item, &t, pol)
			}
		}
		out = append(out, t)
	}
	return out
}
