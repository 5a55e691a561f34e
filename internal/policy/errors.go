package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownJurisdiction is wrapped by RegionFor when its argument is not an
// officially assigned ISO 3166-1 alpha-2 code.
var ErrUnknownJurisdiction = errors.New("policy: unknown jurisdiction")

// ErrNoRegion is wrapped by RegionFor when a valid jurisdiction is claimed
// by no region and the policy has neither a "*" region nor a
// default_region.
var ErrNoRegion = errors.New("policy: no region for jurisdiction")

// Error is one problem in a policy file, with its position and a hint that
// says how to fix it.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the problem concerns the whole file
	Column int // 1-based; 0 when unknown
	Msg    string
	Hint   string // may be empty
}

// Position returns "file:line:col", leaving out the parts that are unknown.
func (e *Error) Position() string {
	switch {
	case e.Line == 0:
		return e.File
	case e.Column == 0:
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
}

// Error returns "file:line:col: msg (hint: hint)".
func (e *Error) Error() string {
	s := e.Position() + ": " + e.Msg
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

// ErrorList is every problem found in a policy file, sorted by position.
// Parse and Load return it as a *ErrorList; use errors.As with a
// `var list *policy.ErrorList` as the target.
type ErrorList []*Error

// Error returns one line per problem.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sort orders the list by line, then column; problems at the same position
// keep the order they were found in.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
}

// didYouMean returns a hint naming the candidate closest to s, or "" when
// none is close enough to be a likely typo.
func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf("did you mean %q?", c)
	}
	return ""
}

// closest returns the candidate nearest to s by edit distance (with
// transpositions counting one), ignoring case, if it is within a typo's
// reach: one edit for words of up to four letters, two for longer ones.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions, by
// byte. Inputs longer than 64 bytes are never typos of a key and count as
// far apart.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
