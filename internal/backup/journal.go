package backup

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// An erasure journal lists the subjects erased in a region, by ref (the
// keyed MAC of the audit log, never the id), with the time of each
// erasure. It is JSON lines, as 'domicile audit entries --action erase
// --json' and 'domicile erasures export' write them: one audit entry per
// line ({"region":..., "time":..., "action":"erase", "subjects":[base64],
// "outcome":"ok", ...}); lines of an audit export ({"type":"entry",
// "entry":{...}}) are read too. Entries of other actions, of other
// outcomes than "ok", and export lines of other types are skipped.

// Erasure is one erased subject of a journal.
type Erasure struct {
	Ref  []byte
	Time time.Time
}

// journalLine is the part of an audit entry's JSON (or of an export line)
// that a journal needs; other fields are ignored.
type journalLine struct {
	Type     string       `json:"type"`
	Entry    *journalLine `json:"entry"`
	Region   string       `json:"region"`
	Time     time.Time    `json:"time"`
	Action   string       `json:"action"`
	Subjects [][]byte     `json:"subjects"`
	Outcome  string       `json:"outcome"`
}

// maxJournalLine bounds one line of a journal.
const maxJournalLine = 4 << 20

// ReadJournal reads an erasure journal of region from r and returns its
// erasures in the order read, each subject once (at its first erasure).
//
// Errors: in words, with the line number: a line that is not JSON, an
// entry of another region, an erasure with no time.
func ReadJournal(r io.Reader, region string) ([]Erasure, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxJournalLine)
	var out []Erasure
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l journalLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("erasure journal line %d: not an audit entry in JSON: %v", n, err)
		}
		if l.Type != "" {
			if l.Type != "entry" || l.Entry == nil {
				continue // an export's header or checkpoint
			}
			l = *l.Entry
		}
		if l.Action != "erase" || l.Outcome != "ok" {
			continue
		}
		if l.Region != region {
			return nil, fmt.Errorf("erasure journal line %d: an entry of region %q, this restore is of region %s", n, l.Region, region)
		}
		if l.Time.IsZero() {
			return nil, fmt.Errorf("erasure journal line %d: the erasure has no time", n)
		}
		for _, ref := range l.Subjects {
			if seen[string(ref)] {
				continue
			}
			seen[string(ref)] = true
			out = append(out, Erasure{Ref: ref, Time: l.Time})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("erasure journal: %w", err)
	}
	return out, nil
}
