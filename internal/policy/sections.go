package policy

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/domicile/domicile/internal/normalize"
	"github.com/domicile/domicile/internal/suite"
)

var (
	regionName     = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	collectionName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	fieldName      = collectionName
)

// suites are the suite names a region may use, for hints.
var suites = []string{string(suite.CN), string(suite.Intl)}

// fieldType describes what a field type allows.
type fieldType struct {
	normalizers []string // the first is the default
	indexable   bool
}

// fieldTypes are the field types, with the normalisers each accepts. Free
// text (addresses, notes) cannot be indexed: equality on it finds nothing
// useful and its index would leak the most common values.
var fieldTypes = map[string]fieldType{
	TypeString:     {normalizers: []string{normalize.None, normalize.Name}, indexable: true},
	TypeText:       {normalizers: []string{normalize.None}, indexable: false},
	TypeEmail:      {normalizers: []string{normalize.Email}, indexable: true},
	TypePhone:      {normalizers: []string{normalize.Phone}, indexable: true},
	TypeDate:       {normalizers: []string{normalize.Date}, indexable: true},
	TypeNationalID: {normalizers: []string{normalize.NationalID}, indexable: true},
}

var typeNames = []string{TypeString, TypeText, TypeEmail, TypePhone, TypeDate, TypeNationalID}

func (p *parser) parseTop(root *yaml.Node) *Policy {
	m := p.mapping(root, "policy", topKeys)
	if m == nil {
		return nil
	}
	pol := &Policy{Source: p.file}
	// A key missing because it is misspelt is reported as the misspelling
	// only (p.guessed).
	if e, ok := m["version"]; ok {
		if v, ok := p.integer(e.value, "version"); ok && v != Version {
			p.errorf(e.value, "this build of Domicile reads version 1 policy files", "unsupported policy version %d", v)
		}
	} else if !contains(p.guessed[root], "version") {
		p.errs = append(p.errs, &Error{File: p.file, Line: 1, Msg: "policy has no version", Hint: "add \"version: 1\" at the top of the file"})
	}
	// Regions are parsed first: default_region refers to them.
	if e, ok := m["regions"]; !ok {
		if !contains(p.guessed[root], "regions") {
			p.errorf(root, "add a \"regions:\" list; every policy needs at least one region", "policy has no regions")
		}
	} else {
		pol.Regions = p.parseRegions(e.value)
	}
	if e, ok := m["default_region"]; ok {
		if name, ok := p.str(e.value, "default_region"); ok {
			pol.DefaultRegion = name
			p.checkDefaultRegion(e.value, pol)
		}
	}
	if e, ok := m["collections"]; ok {
		pol.Collections = p.parseCollections(e.value)
	}
	if e, ok := m["purposes"]; ok {
		pol.Purposes = p.parsePurposes(e.value)
	}
	if e, ok := m["roles"]; ok {
		pol.Roles = p.parseRoles(e.value, pol)
	}
	// Mechanisms name regions and collections; transfer rules name
	// mechanisms.
	if e, ok := m["mechanisms"]; ok {
		pol.Mechanisms = p.parseMechanisms(e.value, pol)
	}
	if e, ok := m["transfers"]; ok {
		pol.Transfers = p.parseTransfers(e.value, pol)
	}
	// The guard's rules name roles, so it comes after them.
	if e, ok := m["guard"]; ok {
		pol.Guard = p.parseGuard(e.value, pol)
	} else {
		pol.Guard = Guard{Weight: DefaultBaselineWeight, MaxDelay: DefaultGuardMaxDelay, Floor: map[string]float64{}}
	}
	return pol
}

func (p *parser) checkDefaultRegion(node *yaml.Node, pol *Policy) {
	names := make([]string, len(pol.Regions))
	for i, r := range pol.Regions {
		names[i] = r.Name
	}
	if _, ok := pol.Region(pol.DefaultRegion); !ok {
		hint := didYouMean(pol.DefaultRegion, names)
		if hint == "" {
			hint = "name one of the regions: " + strings.Join(names, ", ")
		}
		p.errorf(node, hint, "default_region %q is not a region", pol.DefaultRegion)
		return
	}
	for _, r := range pol.Regions {
		if r.IsCatchAll() && r.Name != pol.DefaultRegion {
			p.errorf(node, fmt.Sprintf("make default_region %q, or remove \"*\" from region %q", r.Name, r.Name),
				"default_region %q conflicts with region %q (line %d), which lists \"*\"", pol.DefaultRegion, r.Name, r.Line)
		}
	}
}

func (p *parser) parseRegions(node *yaml.Node) []Region {
	items, ok := p.sequence(node, "regions", "list the regions, each starting with \"- name:\"")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(node, "add at least one region", "regions is empty")
	}
	var regions []Region
	var entries [][]*yaml.Node // the nodes of each region's jurisdictions
	seen := map[string]int{}   // region name -> line
	for _, item := range items {
		r, nodes, ok := p.parseRegion(item)
		if !ok {
			continue
		}
		if line, dup := seen[r.Name]; dup && r.Name != "" {
			p.errorf(item, "give each region its own name", "duplicate region %q (first on line %d)", r.Name, line)
		} else {
			seen[r.Name] = r.Line
		}
		regions = append(regions, r)
		entries = append(entries, nodes)
	}
	p.checkClaims(regions, entries)
	return regions
}

// parseRegion reads one region and returns the nodes of its jurisdiction
// entries, index-aligned with r.Jurisdictions. ok is false when item is not
// a mapping.
func (p *parser) parseRegion(item *yaml.Node) (r Region, nodes []*yaml.Node, ok bool) {
	m := p.mapping(item, "region", regionKeys)
	if m == nil {
		return Region{}, nil, false
	}
	r = Region{Line: item.Line, Residency: Strict}
	p.require(item, m, "region", "name", "suite", "jurisdictions")
	if e, ok := m["name"]; ok {
		if name, ok := p.str(e.value, "region name"); ok {
			r.Name = name
			if !regionName.MatchString(name) {
				p.errorf(e.value, "use 2 to 32 lower-case letters, digits and hyphens, starting with a letter, such as eu-central", "invalid region name %q", name)
			}
		}
	}
	if e, ok := m["suite"]; ok {
		if s, ok := p.str(e.value, "suite"); ok {
			r.Suite = suite.ID(s)
			if _, err := suite.ByID(r.Suite); err != nil {
				hint := didYouMean(s, suites)
				if hint == "" {
					hint = "the suites are " + strings.Join(suites, ", ")
				}
				p.errorf(e.value, hint, "unknown suite %q", s)
			}
		}
	}
	if e, ok := m["residency"]; ok {
		if s, ok := p.str(e.value, "residency"); ok {
			r.Residency = Residency(s)
			if r.Residency != Strict && r.Residency != Standard {
				hint := didYouMean(s, []string{string(Strict), string(Standard)})
				if hint == "" {
					hint = "write strict or standard"
				}
				p.errorf(e.value, hint, "unknown residency %q", s)
			}
		}
	}
	if e, ok := m["jurisdictions"]; ok {
		r.Jurisdictions, nodes = p.parseJurisdictions(e.value)
	}
	r.Abroad = AbroadMask
	if e, ok := m["abroad"]; ok {
		if s, ok := p.str(e.value, "abroad"); ok {
			r.Abroad = Abroad(s)
			if r.Abroad != AbroadMask && r.Abroad != AbroadRefuse {
				p.errorf(e.value, "write mask (clear fields leave masked) or refuse (the read is denied)", "unknown abroad rule %q", s)
			}
		}
	}
	r.TimeZone = time.UTC
	if e, ok := m["time_zone"]; ok {
		if loc, ok := p.parseTimeZone(e.value); ok {
			r.TimeZone = loc
		}
	}
	if e, ok := m["transfer_thresholds"]; ok {
		r.Thresholds = p.parseThresholds(e.value)
	}
	return r, nodes, true
}

func (p *parser) parseJurisdictions(node *yaml.Node) (js []string, nodes []*yaml.Node) {
	items, ok := p.sequence(node, "jurisdictions", "list country codes such as [DE, FR], groups (EU, EEA) or \"*\"")
	if !ok {
		return nil, nil
	}
	if len(items) == 0 {
		p.errorf(node, "list at least one country code, group or \"*\"", "jurisdictions is empty")
	}
	seen := map[string]bool{}
	for _, item := range items {
		j, ok := p.str(item, "jurisdiction")
		if !ok {
			continue
		}
		switch {
		case j == Everywhere || IsCountry(j) || groups[j] != nil:
		default:
			p.errorf(item, jurisdictionHint(j), "unknown jurisdiction %q", j)
			continue
		}
		if seen[j] {
			p.errorf(item, "remove the second entry", "jurisdiction %q listed twice", j)
			continue
		}
		seen[j] = true
		js = append(js, j)
		nodes = append(nodes, item)
	}
	return js, nodes
}

func jurisdictionHint(j string) string {
	u := strings.ToUpper(j)
	switch {
	case u != j && (IsCountry(u) || groups[u] != nil):
		return fmt.Sprintf("write codes in upper case: %q", u)
	case wellKnownMistakes[u] != "":
		return fmt.Sprintf("the ISO 3166-1 code is %q", wellKnownMistakes[u])
	case len(j) == 3 && strings.ToUpper(j) == j:
		return "use the two-letter ISO 3166-1 alpha-2 code (CN, not CHN)"
	}
	return "use an ISO 3166-1 alpha-2 country code such as DE, a group (EU, EEA) or \"*\" for every other country"
}

// checkClaims reports countries claimed by two regions and a "*" listed by
// more than one region. entries holds the nodes of each region's
// jurisdictions, for positions.
func (p *parser) checkClaims(regions []Region, entries [][]*yaml.Node) {
	type claim struct {
		region string
		line   int
	}
	owner := map[string]claim{}
	var catchAll *claim
	for i, r := range regions {
		reported := map[string]bool{}
		for k, j := range r.Jurisdictions {
			pos := entries[i][k]
			if j == Everywhere {
				if catchAll != nil && catchAll.region != r.Name {
					p.errorf(pos, "let one region take every other country, and list countries explicitly elsewhere",
						"region %q lists \"*\" but region %q (line %d) already does", r.Name, catchAll.region, catchAll.line)
				} else if catchAll == nil {
					catchAll = &claim{r.Name, r.Line}
				}
				continue
			}
			// Countries claimed by another region, grouped by that region.
			clash := map[string][]string{}
			var others []claim
			for _, c := range expand(j) {
				o, taken := owner[c]
				if !taken {
					owner[c] = claim{r.Name, r.Line}
					continue
				}
				if o.region == r.Name || reported[c] {
					// A region may name a country twice, e.g. through
					// EU and EEA; a clash is reported once per region.
					continue
				}
				reported[c] = true
				if clash[o.region] == nil {
					others = append(others, o)
				}
				clash[o.region] = append(clash[o.region], c)
			}
			for _, o := range others {
				cs := clash[o.region]
				what := "country " + cs[0] + " is"
				if len(cs) > 1 {
					what = "countries " + strings.Join(cs, ", ") + " are"
				}
				p.errorf(pos, "a country's data must live in exactly one region; remove it from one of them",
					"%s claimed by both region %q (line %d) and region %q", what, o.region, o.line, r.Name)
			}
		}
	}
}

func (p *parser) parseCollections(node *yaml.Node) []Collection {
	items, ok := p.sequence(node, "collections", "list the collections, each starting with \"- name:\"")
	if !ok {
		return nil
	}
	var cols []Collection
	seen := map[string]int{}
	for _, item := range items {
		c, ok := p.parseCollection(item)
		if !ok {
			continue
		}
		if line, dup := seen[c.Name]; dup && c.Name != "" {
			p.errorf(item, "give each collection its own name", "duplicate collection %q (first on line %d)", c.Name, line)
		} else {
			seen[c.Name] = c.Line
		}
		cols = append(cols, c)
	}
	return cols
}

func (p *parser) parseCollection(item *yaml.Node) (Collection, bool) {
	m := p.mapping(item, "collection", collectionKeys)
	if m == nil {
		return Collection{}, false
	}
	c := Collection{Line: item.Line}
	p.require(item, m, "collection", "name", "fields")
	if e, ok := m["name"]; ok {
		if name, ok := p.str(e.value, "collection name"); ok {
			c.Name = name
			if !collectionName.MatchString(name) {
				p.errorf(e.value, "use up to 63 lower-case letters, digits and underscores, starting with a letter, such as customers", "invalid collection name %q", name)
			}
		}
	}
	e, ok := m["fields"]
	if !ok {
		return c, true
	}
	items, ok := p.sequence(e.value, "fields", "list the fields, each starting with \"- name:\"")
	if !ok {
		return c, true
	}
	if len(items) == 0 {
		p.errorf(e.value, "add at least one field", "collection %q has no fields", c.Name)
	}
	seen := map[string]int{}
	for _, fi := range items {
		f, ok := p.parseField(fi)
		if !ok {
			continue
		}
		if line, dup := seen[f.Name]; dup && f.Name != "" {
			p.errorf(fi, "give each field its own name", "duplicate field %q (first on line %d)", f.Name, line)
		} else {
			seen[f.Name] = f.Line
		}
		c.Fields = append(c.Fields, f)
	}
	return c, true
}

func (p *parser) parseField(item *yaml.Node) (Field, bool) {
	m := p.mapping(item, "field", fieldKeys)
	if m == nil {
		return Field{}, false
	}
	f := Field{Line: item.Line, MaxLength: DefaultMaxLength}
	p.require(item, m, "field", "name", "type")
	if e, ok := m["name"]; ok {
		if name, ok := p.str(e.value, "field name"); ok {
			f.Name = name
			if !fieldName.MatchString(name) {
				p.errorf(e.value, "use up to 63 lower-case letters, digits and underscores, starting with a letter, such as date_of_birth", "invalid field name %q", name)
			}
		}
	}
	var ft fieldType
	typeOK := false
	if e, ok := m["type"]; ok {
		if t, ok := p.str(e.value, "type"); ok {
			f.Type = t
			ft, typeOK = fieldTypes[t]
			if !typeOK {
				hint := didYouMean(t, typeNames)
				if hint == "" {
					hint = "the types are " + strings.Join(typeNames, ", ")
				}
				p.errorf(e.value, hint, "unknown field type %q", t)
			} else {
				f.Normalizer = ft.normalizers[0]
			}
		}
	}
	if e, ok := m["normalizer"]; ok {
		if n, ok := p.str(e.value, "normalizer"); ok {
			f.Normalizer = n
			if _, err := normalize.ByName(n); err != nil {
				hint := didYouMean(n, normalize.Names())
				if hint == "" {
					hint = "the normalizers are " + strings.Join(normalize.Names(), ", ")
				}
				p.errorf(e.value, hint, "unknown normalizer %q", n)
			} else if typeOK && !contains(ft.normalizers, n) {
				hint := fmt.Sprintf("fields of type %s take normalizer %s", f.Type, strings.Join(ft.normalizers, " or "))
				if len(ft.normalizers) == 1 {
					hint = fmt.Sprintf("fields of type %s are always normalised with %q; remove the normalizer key", f.Type, ft.normalizers[0])
				}
				p.errorf(e.value, hint, "normalizer %q does not fit type %s", n, f.Type)
			}
		}
	}
	if e, ok := m["index"]; ok {
		if b, ok := p.boolean(e.value, "index"); ok {
			f.Index = b
			if b && typeOK && !ft.indexable {
				p.errorf(e.value, "use type string for a value you search by, or remove \"index: true\"", "fields of type %s cannot be indexed", f.Type)
			}
		}
	}
	if e, ok := m["max_length"]; ok {
		if n, ok := p.integer(e.value, "max_length"); ok {
			f.MaxLength = n
			if n < 1 || n > MaxMaxLength {
				p.errorf(e.value, fmt.Sprintf("use a length in bytes from 1 to %d", MaxMaxLength), "max_length %d out of range", n)
			}
		}
	}
	if e, ok := m["required"]; ok {
		if b, ok := p.boolean(e.value, "required"); ok {
			f.Required = b
		}
	}
	f.Mask = MaskRedact
	if e, ok := m["mask"]; ok {
		if s, ok := p.str(e.value, "mask"); ok {
			f.Mask = s
			p.checkMask(e.value, s, f.Type)
		}
	}
	p.parseFieldToken(item, m, &f)
	f.Sensitive = f.Type == TypeNationalID
	if e, ok := m["sensitive"]; ok {
		if b, ok := p.boolean(e.value, "sensitive"); ok {
			f.Sensitive = b
		}
	}
	return f, true
}
