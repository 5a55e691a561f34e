package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The keys of each mapping in a policy file. New sections are added here
// and in parseTop.
var (
	topKeys        = []string{"version", "default_region", "regions", "collections", "purposes", "roles", "mechanisms", "transfers", "guard"}
	regionKeys     = []string{"name", "suite", "residency", "jurisdictions", "abroad", "time_zone", "transfer_thresholds"}
	collectionKeys = []string{"name", "fields"}
	fieldKeys      = []string{"name", "type", "normalizer", "index", "max_length", "required", "mask", "token", "token_format", "sensitive"}
	roleKeys       = []string{"name", "description", "permissions", "purposes", "condition", "collections"}
	transferKeys   = []string{"name", "from", "to", "basis", "collection", "fields", "mechanism"}
)

// plannedKeys are top-level sections of the policy format that this version
// does not read yet.
var plannedKeys = []string{}

// parser collects every problem it finds instead of stopping at the first.
type parser struct {
	file string
	errs ErrorList
	// guessed holds, per mapping, the keys a misspelt key was taken for,
	// so that the key is not also reported missing.
	guessed map[*yaml.Node][]string
}

// errorf records a problem at node's position.
func (p *parser) errorf(node *yaml.Node, hint, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if node != nil {
		e.Line, e.Column = node.Line, node.Column
	}
	p.errs = append(p.errs, e)
}

// yamlLine matches yaml.v3's syntax errors, which carry only a line.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Policy {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errs = append(p.errs, &Error{File: p.file, Line: 1, Msg: "empty policy file", Hint: "start the file with \"version: 1\"; see examples/policy.yaml"})
			return nil
		}
		p.syntaxError(data, err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "keep the whole policy in one YAML document; remove the \"---\" separator", "more than one YAML document")
	} else if !errors.Is(err, io.EOF) {
		p.syntaxError(data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.errorf(&doc, "", "not a policy document")
		return nil
	}
	return p.parseTop(doc.Content[0])
}

func (p *parser) syntaxError(data []byte, err error) {
	e := &Error{File: p.file, Msg: "YAML syntax error: " + strings.TrimPrefix(err.Error(), "yaml: "),
		Hint: "check the indentation and the quoting near this line; values with ':', '#' or '*' must be quoted"}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML syntax error: " + m[2]
		e.Line = problemLine(data, e.Line, m[2])
	}
	p.errs = append(p.errs, e)
}

// maxProblemScan bounds how far from yaml.v3's line problemLine looks.
const maxProblemScan = 200

// problemLine narrows down where a syntax error is. yaml.v3 reports the line
// where the enclosing block starts, which for a misindented key can be far
// above it, or for some scanner errors the line below. problemLine returns
// the smallest n near reported such that the file's first n lines fail to
// parse with the same message, or reported if there is none.
func problemLine(data []byte, reported int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	for n := max(1, reported-maxProblemScan); n <= len(lines) && n <= reported+maxProblemScan; n++ {
		var node yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &node)
		if err == nil {
			continue
		}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
			return n
		}
	}
	return reported
}

// entry is one key of a mapping and its value.
type entry struct {
	key, value *yaml.Node
}

// mapping checks that node is a mapping of known keys and returns its
// entries by key. what names the mapping in messages ("region"). Unknown
// and duplicate keys are reported and left out.
func (p *parser) mapping(node *yaml.Node, what string, known []string) map[string]entry {
	if !p.plain(node, what) {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		p.errorf(node, fmt.Sprintf("write the %s as \"key: value\" lines", what), "%s must be a mapping, not %s", what, kindName(node))
		return nil
	}
	m := make(map[string]entry, len(node.Content)/2)
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			p.errorf(k, "write each key out; merge keys and complex keys are not supported", "unsupported key in %s", what)
			continue
		}
		if prev, dup := m[k.Value]; dup {
			p.errorf(k, fmt.Sprintf("remove one of them; the first is on line %d", prev.key.Line), "duplicate key %q in %s", k.Value, what)
			continue
		}
		if !contains(known, k.Value) {
			p.errorf(k, p.unknownKeyHint(k.Value, what, known), "unknown key %q in %s", k.Value, what)
			if c := closest(k.Value, known); c != "" {
				if p.guessed == nil {
					p.guessed = map[*yaml.Node][]string{}
				}
				p.guessed[node] = append(p.guessed[node], c)
			}
			continue
		}
		m[k.Value] = entry{k, v}
	}
	return m
}

func (p *parser) unknownKeyHint(key, what string, known []string) string {
	if h := didYouMean(key, known); h != "" {
		return h
	}
	if what == "policy" && contains(plannedKeys, key) {
		return fmt.Sprintf("this version of Domicile does not support %q yet; remove the section", key)
	}
	return "the keys of a " + what + " are " + strings.Join(known, ", ")
}

// plain rejects aliases and nil nodes, which a policy never needs. It
// reports whether node can be read.
func (p *parser) plain(node *yaml.Node, what string) bool {
	if node == nil {
		return false
	}
	if node.Kind == yaml.AliasNode {
		p.errorf(node, "write the value out in full; anchors and aliases are not supported in policy files", "alias in %s", what)
		return false
	}
	return true
}

// require reports a missing required key of the mapping at node.
func (p *parser) require(node *yaml.Node, m map[string]entry, what string, keys ...string) {
	if m == nil {
		return
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok && !contains(p.guessed[node], k) {
			p.errorf(node, fmt.Sprintf("add \"%s: ...\"", k), "%s has no %s", what, k)
		}
	}
}

// str returns a scalar value as a string; ok is false (and a problem
// reported) for a null, a mapping or a sequence.
func (p *parser) str(node *yaml.Node, what string) (string, bool) {
	if !p.plain(node, what) {
		return "", false
	}
	if node.Kind != yaml.ScalarNode {
		p.errorf(node, "", "%s must be a single value, not %s", what, kindName(node))
		return "", false
	}
	if node.Tag == "!!null" {
		p.errorf(node, "fill in the value or remove the key", "%s is empty", what)
		return "", false
	}
	return node.Value, true
}

// boolean returns a true/false value.
func (p *parser) boolean(node *yaml.Node, what string) (bool, bool) {
	if !p.plain(node, what) {
		return false, false
	}
	var b bool
	if node.Kind != yaml.ScalarNode || node.Tag != "!!bool" || node.Decode(&b) != nil {
		p.errorf(node, "write true or false", "%s must be true or false", what)
		return false, false
	}
	return b, true
}

// integer returns a whole-number value.
func (p *parser) integer(node *yaml.Node, what string) (int, bool) {
	if !p.plain(node, what) {
		return 0, false
	}
	var n int
	if node.Kind != yaml.ScalarNode || node.Tag != "!!int" || node.Decode(&n) != nil {
		p.errorf(node, "write a whole number such as 1024, without quotes", "%s must be a whole number", what)
		return 0, false
	}
	return n, true
}

// sequence returns the items of a sequence.
func (p *parser) sequence(node *yaml.Node, what, hint string) ([]*yaml.Node, bool) {
	if !p.plain(node, what) {
		return nil, false
	}
	if node.Kind != yaml.SequenceNode {
		if node.Tag == "!!null" {
			p.errorf(node, hint, "%s is empty", what)
		} else {
			p.errorf(node, hint, "%s must be a list, not %s", what, kindName(node))
		}
		return nil, false
	}
	return node.Content, true
}

func kindName(node *yaml.Node) string {
	switch node.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if node.Tag == "!!null" {
			return "empty"
		}
		return "a single value"
	}
	return "an alias"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
