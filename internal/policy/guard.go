package policy

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The signals the guard measures per principal; a rule names one.
const (
	SignalRecords         = "records"         // distinct records read
	SignalReads           = "reads"           // records read, repeats included
	SignalClearFields     = "clear_fields"    // field values revealed in clear
	SignalSearches        = "searches"        // search requests
	SignalProbes          = "probes"          // distinct values searched for
	SignalDetokenizations = "detokenizations" // tokens turned back into values
	SignalExports         = "exports"         // export requests
	SignalErrors          = "errors"          // requests that failed
	SignalDenials         = "denials"         // requests the access decision denied
)

// GuardSignals lists every signal, in a fixed order.
var GuardSignals = []string{SignalRecords, SignalReads, SignalClearFields, SignalSearches, SignalProbes,
	SignalDetokenizations, SignalExports, SignalErrors, SignalDenials}

// The sliding windows a rule counts over.
const (
	WindowMinute = "minute"
	WindowHour   = "hour"
	WindowDay    = "day"
)

// GuardWindows lists the windows.
var GuardWindows = []string{WindowMinute, WindowHour, WindowDay}

// The responses of a guard rule. Every response raises an alert; slow and
// lock add to it.
const (
	ResponseAlert = "alert" // record the alert and send it on
	ResponseSlow  = "slow"  // and delay the principal's requests
	ResponseLock  = "lock"  // and lock the principal until an admin unlocks it
)

// GuardResponses lists the responses.
var GuardResponses = []string{ResponseAlert, ResponseSlow, ResponseLock}

// The severities of an alert, lowest first.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// GuardSeverities lists the severities, lowest first.
var GuardSeverities = []string{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// HoneytokenRule is the rule name of alerts raised by a decoy read; no
// policy rule may take it.
const HoneytokenRule = "honeytoken"

// Guard defaults and limits.
const (
	DefaultGuardDelay     = time.Second
	DefaultGuardMaxDelay  = 5 * time.Second
	MaxGuardDelay         = time.Minute
	DefaultBaselineWeight = 0.25
	DefaultWebhookRetries = 3
	MaxWebhookRetries     = 20
)

// Guard is the policy's guard section: what the detection watches and how
// it responds. The zero value has no rules; decoy reads still raise
// critical alerts.
type Guard struct {
	// Rules compare a principal's activity in a window with a budget
	// and/or its learned baseline.
	Rules []GuardRule
	// Floor is, per signal, the least hourly activity a baseline assumes:
	// new principals and quiet hours are measured against it.
	Floor map[string]float64
	// Weight is the weight of the newest week in a baseline slot (an
	// exponentially weighted moving average), in (0, 1].
	Weight float64
	// HoneytokenLock locks a principal that touches a decoy, besides the
	// critical alert.
	HoneytokenLock bool
	// MaxDelay bounds the delay of slow responses.
	MaxDelay time.Duration
	// Webhooks receive every alert.
	Webhooks []Webhook
	// Line is the line of the section in the policy file (0 if absent).
	Line int
}

// GuardRule is one detection rule. It fires when the count of Signal over
// the sliding Window exceeds Max (when set), or exceeds Baseline times the
// principal's expected count for that window and at least Min (when
// Baseline is set).
type GuardRule struct {
	Name     string
	Signal   string
	Window   string
	Max      int64   // absolute budget; 0 means none
	Baseline float64 // multiple of the learned baseline; 0 means none
	Min      int64   // with Baseline: never fire at or below this count
	// Roles the rule applies to: principals holding any of them. Empty
	// means every principal.
	Roles    []string
	Response string
	Severity string
	// Delay is the delay of a slow response.
	Delay time.Duration
	Line  int
}

// Webhook is an HTTP endpoint that receives alerts as JSON.
type Webhook struct {
	URL     string
	Retries int // attempts after the first, with backoff
}

// Applies reports whether the rule covers a principal holding roles.
func (r *GuardRule) Applies(roles []string) bool {
	if len(r.Roles) == 0 {
		return true
	}
	for _, x := range roles {
		if slices.Contains(r.Roles, x) {
			return true
		}
	}
	return false
}

var (
	guardKeys      = []string{"rules", "baseline", "honeytokens", "max_delay", "webhooks"}
	guardRuleKeys  = []string{"name", "signal", "window", "max", "baseline", "min", "roles", "response", "severity", "delay"}
	baselineKeys   = []string{"floor", "weight"}
	honeytokenKeys = []string{"lock"}
	webhookKeys    = []string{"url", "retries"}
)

func (p *parser) parseGuard(node *yaml.Node, pol *Policy) Guard {
	g := Guard{Line: node.Line, Weight: DefaultBaselineWeight, MaxDelay: DefaultGuardMaxDelay, Floor: map[string]float64{}}
	m := p.mapping(node, "guard", guardKeys)
	if m == nil {
		return g
	}
	if e, ok := m["max_delay"]; ok {
		if d, ok := p.duration(e.value, "max_delay"); ok {
			g.MaxDelay = d
			if d <= 0 || d > MaxGuardDelay {
				p.errorf(e.value, "use a duration from 1ms to 1m, such as 5s", "max_delay %s out of range", d)
			}
		}
	}
	if e, ok := m["baseline"]; ok {
		p.parseBaseline(e.value, &g)
	}
	if e, ok := m["honeytokens"]; ok {
		if hm := p.mapping(e.value, "honeytokens", honeytokenKeys); hm != nil {
			if e, ok := hm["lock"]; ok {
				g.HoneytokenLock, _ = p.boolean(e.value, "lock")
			}
		}
	}
	if e, ok := m["webhooks"]; ok {
		g.Webhooks = p.parseWebhooks(e.value)
	}
	if e, ok := m["rules"]; ok {
		g.Rules = p.parseGuardRules(e.value, pol, g.MaxDelay)
	}
	return g
}

func (p *parser) parseBaseline(node *yaml.Node, g *Guard) {
	m := p.mapping(node, "baseline", baselineKeys)
	if m == nil {
		return
	}
	if e, ok := m["weight"]; ok {
		if w, ok := p.number(e.value, "weight"); ok {
			g.Weight = w
			if w <= 0 || w > 1 {
				p.errorf(e.value, "use a number above 0 and at most 1, such as 0.25", "weight %v out of range", w)
			}
		}
	}
	e, ok := m["floor"]
	if !ok || !p.plain(e.value, "floor") {
		return
	}
	if e.value.Kind != yaml.MappingNode {
		p.errorf(e.value, "write one \"signal: per-hour count\" line per signal, such as records: 20", "floor must be a mapping")
		return
	}
	for i := 0; i+1 < len(e.value.Content); i += 2 {
		k, v := e.value.Content[i], e.value.Content[i+1]
		if !slices.Contains(GuardSignals, k.Value) {
			p.errorf(k, signalHint(k.Value), "unknown signal %q in floor", k.Value)
			continue
		}
		if n, ok := p.number(v, "floor"); ok {
			if n < 0 {
				p.errorf(v, "use a count per hour of 0 or more", "floor of %s is negative", k.Value)
				continue
			}
			g.Floor[k.Value] = n
		}
	}
}

func (p *parser) parseWebhooks(node *yaml.Node) []Webhook {
	items, ok := p.sequence(node, "webhooks", "list the webhooks, each starting with \"- url:\"")
	if !ok {
		return nil
	}
	var out []Webhook
	for _, item := range items {
		m := p.mapping(item, "webhook", webhookKeys)
		if m == nil {
			continue
		}
		p.require(item, m, "webhook", "url")
		w := Webhook{Retries: DefaultWebhookRetries}
		if e, ok := m["url"]; ok {
			if s, ok := p.str(e.value, "url"); ok {
				w.URL = s
				u, err := url.Parse(s)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
					p.errorf(e.value, "write an absolute https:// URL without credentials, such as https://siem.example.com/hooks/domicile", "invalid webhook url %q", s)
				}
			}
		}
		if e, ok := m["retries"]; ok {
			if n, ok := p.integer(e.value, "retries"); ok {
				w.Retries = n
				if n < 0 || n > MaxWebhookRetries {
					p.errorf(e.value, fmt.Sprintf("use 0 to %d", MaxWebhookRetries), "retries %d out of range", n)
				}
			}
		}
		out = append(out, w)
	}
	return out
}

func (p *parser) parseGuardRules(node *yaml.Node, pol *Policy, maxDelay time.Duration) []GuardRule {
	items, ok := p.sequence(node, "rules", "list the guard rules, each starting with \"- name:\"")
	if !ok {
		return nil
	}
	var out []GuardRule
	seen := map[string]int{}
	for _, item := range items {
		r, ok := p.parseGuardRule(item, pol, maxDelay)
		if !ok {
			continue
		}
		if line, dup := seen[r.Name]; dup && r.Name != "" {
			p.errorf(item, "give each rule its own name", "duplicate guard rule %q (first on line %d)", r.Name, line)
			continue
		}
		seen[r.Name] = r.Line
		out = append(out, r)
	}
	return out
}

func (p *parser) parseGuardRule(item *yaml.Node, pol *Policy, maxDelay time.Duration) (GuardRule, bool) {
	m := p.mapping(item, "guard rule", guardRuleKeys)
	if m == nil {
		return GuardRule{}, false
	}
	r := GuardRule{Line: item.Line, Response: ResponseAlert, Severity: SeverityMedium}
	p.require(item, m, "guard rule", "name", "signal", "window")
	if e, ok := m["name"]; ok {
		if s, ok := p.str(e.value, "rule name"); ok {
			r.Name = s
			switch {
			case !roleName.MatchString(s):
				p.errorf(e.value, "use lower-case letters, digits, hyphens and underscores, such as support-clear-budget", "invalid rule name %q", s)
			case s == HoneytokenRule:
				p.errorf(e.value, "decoy reads always alert; configure them under honeytokens", "rule name %q is reserved", s)
			}
		}
	}
	if e, ok := m["signal"]; ok {
		if s, ok := p.str(e.value, "signal"); ok {
			r.Signal = s
			if !slices.Contains(GuardSignals, s) {
				p.errorf(e.value, signalHint(s), "unknown signal %q", s)
			}
		}
	}
	if e, ok := m["window"]; ok {
		if s, ok := p.str(e.value, "window"); ok {
			r.Window = s
			if !slices.Contains(GuardWindows, s) {
				p.errorf(e.value, oneOf(s, GuardWindows, "windows"), "unknown window %q", s)
			}
		}
	}
	if e, ok := m["max"]; ok {
		if n, ok := p.integer(e.value, "max"); ok {
			r.Max = int64(n)
			if n < 1 {
				p.errorf(e.value, "use a count of 1 or more", "max %d out of range", n)
			}
		}
	}
	if e, ok := m["baseline"]; ok {
		if x, ok := p.number(e.value, "baseline"); ok {
			r.Baseline = x
			if x < 1 {
				p.errorf(e.value, "write how many times the principal's usual activity fires the rule, such as 4", "baseline %v must be at least 1", x)
			}
		}
	}
	if e, ok := m["min"]; ok {
		if n, ok := p.integer(e.value, "min"); ok {
			r.Min = int64(n)
			if n < 0 {
				p.errorf(e.value, "use a count of 0 or more", "min %d out of range", n)
			}
			if _, ok := m["baseline"]; !ok {
				p.errorf(e.key, "min bounds a baseline rule from below; add \"baseline: N\" or remove min", "min without baseline")
			}
		}
	}
	if _, hasMax := m["max"]; !hasMax {
		if _, hasBase := m["baseline"]; !hasBase {
			p.errorf(item, "add \"max: N\" (a budget), \"baseline: N\" (N times the principal's usual activity), or both", "guard rule %q has no threshold", r.Name)
		}
	}
	if e, ok := m["roles"]; ok {
		names, nodes := p.strList(e.value, "roles", "list the roles the rule applies to, such as [support]")
		for i, s := range names {
			if _, ok := pol.Role(s); !ok {
				var known []string
				for _, x := range pol.Roles {
					known = append(known, x.Name)
				}
				p.errorf(nodes[i], oneOf(s, known, "roles"), "guard rule %s names unknown role %q", r.Name, s)
				continue
			}
			r.Roles = append(r.Roles, s)
		}
	}
	if e, ok := m["response"]; ok {
		if s, ok := p.str(e.value, "response"); ok {
			r.Response = s
			if !slices.Contains(GuardResponses, s) {
				p.errorf(e.value, oneOf(s, GuardResponses, "responses"), "unknown response %q", s)
			}
		}
	}
	if e, ok := m["severity"]; ok {
		if s, ok := p.str(e.value, "severity"); ok {
			r.Severity = s
			if !slices.Contains(GuardSeverities, s) {
				p.errorf(e.value, oneOf(s, GuardSeverities, "severities"), "unknown severity %q", s)
			}
		}
	}
	if r.Response == ResponseSlow {
		r.Delay = min(DefaultGuardDelay, maxDelay)
	}
	if e, ok := m["delay"]; ok {
		if d, ok := p.duration(e.value, "delay"); ok {
			r.Delay = d
			switch {
			case r.Response != ResponseSlow:
				p.errorf(e.key, "only response: slow takes a delay", "delay without response slow")
			case d <= 0 || d > maxDelay:
				p.errorf(e.value, fmt.Sprintf("use a duration above 0 and at most max_delay (%s)", maxDelay), "delay %s out of range", d)
			}
		}
	}
	return r, true
}

// number returns a whole or decimal number.
func (p *parser) number(node *yaml.Node, what string) (float64, bool) {
	if !p.plain(node, what) {
		return 0, false
	}
	var x float64
	if node.Kind != yaml.ScalarNode || (node.Tag != "!!int" && node.Tag != "!!float") || node.Decode(&x) != nil {
		p.errorf(node, "write a number such as 3 or 2.5, without quotes", "%s must be a number", what)
		return 0, false
	}
	return x, true
}

// duration returns a Go duration such as 2s or 500ms.
func (p *parser) duration(node *yaml.Node, what string) (time.Duration, bool) {
	s, ok := p.str(node, what)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(node, "write a duration such as 500ms, 2s or 1m", "invalid %s %q", what, s)
		return 0, false
	}
	return d, true
}

func signalHint(s string) string { return oneOf(s, GuardSignals, "signals") }

// oneOf hints at the nearest of known, or lists them all.
func oneOf(s string, known []string, what string) string {
	if h := didYouMean(s, known); h != "" {
		return h
	}
	return "the " + what + " are " + strings.Join(known, ", ")
}
