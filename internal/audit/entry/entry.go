// Package entry is the wire format of one audit log entry.
//
// An entry records one access to a region's data: who (principal and where
// it operates), what (action, collection, record ids, field names), why
// (purpose), under which decision and rule, and how it ended. It never holds
// a personal value: subjects appear only as keyed MACs (SubjectMAC), and
// every other string is an identifier restricted to printable ASCII without
// spaces, so free text cannot slip in.
//
// # Encoding (version 2; version 1 is still read)
//
// The encoding is canonical: Marshal is a bijection between valid entries
// and their bytes, and Parse accepts exactly the bytes Marshal produces
// (Marshal(Parse(b)) == b). All integers are big-endian; a "str" is a
// minimal uvarint length followed by that many bytes; a "list" is a minimal
// uvarint count followed by that many items.
//
//	byte     version (0x02; 0x01 for entries written before version 2)
//	uint64   index in the log
//	int64    time, Unix nanoseconds (UTC)
//	str      region
//	str      request id
//	str      principal
//	str      location (ISO 3166-1 alpha-2 of the principal, or empty)
//	str      action (one of the Action constants)
//	str      collection
//	list str record ids
//	list str field names
//	list str subject MACs (raw bytes, 16..64 each)
//	str      purpose
//	str      decision
//	str      rule
//	str      outcome ("ok", "denied", "aborted" or "error:<code>")
//	list str masked field names                        (version 2 only)
//	list     refused fields, each: str field, str code (version 2 only)
//
// The leaf of the Merkle tree is the hash of exactly these bytes.
//
// # What the field lists mean
//
// In a version 2 entry every field a request touched is named once per
// treatment: Fields are the fields written (create, patch) or shown in
// clear (read, search, detokenize), Masked the fields shown masked, and
// Refused the fields withheld, each with the reason's code. A field of
// one record is in exactly one of the three; in an entry about several
// records a field may be in two when the records were treated differently.
// A version 1 entry (Version 1) has only Fields, the fields shown in any
// form, and is kept exactly as it was written so that its leaf hash, and
// with it the log, still verifies.
package entry

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Version is the encoding version this package writes; it also reads
// LegacyVersion.
const Version = 2

// LegacyVersion is the first encoding, without Masked and Refused.
const LegacyVersion = 1

// Limits enforced by Marshal and Parse.
const (
	MaxString  = 256  // longest identifier, in bytes
	MaxList    = 1000 // most record ids, fields or subjects in one entry
	MinMAC     = 16   // shortest subject MAC, in bytes
	MaxMAC     = 64   // longest subject MAC, in bytes
	MaxEncoded = 1 << 20
)

// Action is what an entry records.
type Action string

// The actions of DESIGN promise 5.
const (
	Create     Action = "create"
	Read       Action = "read"
	Search     Action = "search"
	Patch      Action = "patch"
	Delete     Action = "delete"
	Erase      Action = "erase"
	Tokenize   Action = "tokenize"
	Detokenize Action = "detokenize"
	Export     Action = "export"
	Transfer   Action = "transfer"
	Admin      Action = "admin"
	Key        Action = "key"
	// Void marks an index that was reserved by a request that never
	// committed and whose entry was lost (written by crash recovery).
	Void Action = "void"
)

var actions = map[Action]bool{Create: true, Read: true, Search: true, Patch: true, Delete: true,
	Erase: true, Tokenize: true, Detokenize: true, Export: true, Transfer: true, Admin: true, Key: true, Void: true}

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return actions[a] }

// Outcomes other than error codes.
const (
	OK     = "ok"     // the operation succeeded
	Denied = "denied" // the access decision refused it
	// Aborted is written by the log over the entries of a request whose
	// batch failed to commit: the operation did not happen.
	Aborted = "aborted"
)

// ErrorOutcome returns the outcome of an operation that failed with the
// stable error code code ("error:<code>").
func ErrorOutcome(code string) string { return "error:" + code }

// SubjectMAC is a keyed MAC of a subject id (for example
// keyring.SubjectRef(subject)). Entries hold subjects only in this form.
type SubjectMAC []byte

// Entry is one audit record. The zero Time is invalid; Index is assigned by
// the log.
//
// The JSON form (used by exports and the API) is for reading only; the
// Merkle tree covers the binary encoding.
type Entry struct {
	Index      uint64       `json:"index"`
	Time       time.Time    `json:"time"`
	Region     string       `json:"region"`
	RequestID  string       `json:"request_id,omitempty"`
	Principal  string       `json:"principal,omitempty"`
	Location   string       `json:"location,omitempty"`
	Action     Action       `json:"action"`
	Collection string       `json:"collection,omitempty"`
	Records    []string     `json:"records,omitempty"`
	Fields     []string     `json:"fields,omitempty"`
	Subjects   []SubjectMAC `json:"subjects,omitempty"`
	Purpose    string       `json:"purpose,omitempty"`
	Decision   string       `json:"decision,omitempty"`
	Rule       string       `json:"rule,omitempty"`
	Outcome    string       `json:"outcome"`
	// Masked are the fields shown masked (version 2).
	Masked []string `json:"masked,omitempty"`
	// Refused are the fields withheld, with the reason (version 2).
	Refused []Refusal `json:"refused,omitempty"`
	// Version is the entry's encoding: 0 for the current one (Version),
	// LegacyVersion for an entry read from a version 1 encoding, which
	// has no Masked or Refused and whose Fields are the fields shown in
	// any form.
	Version int `json:"version,omitempty"`
}

// Refusal is a field withheld from the caller and the stable code of the
// reason (for example "permission_denied" or "clear_access_required").
type Refusal struct {
	Field string `json:"field"`
	Code  string `json:"code"`
}

// Error is the error of Marshal and Parse.
type Error struct{ msg string }

func (e *Error) Error() string { return "audit entry: " + e.msg }

func errorf(format string, a ...any) error { return &Error{msg: fmt.Sprintf(format, a...)} }

// Validate checks every field against the format's rules.
//
// Errors: an *Error naming the first invalid field; never contains the
// offending value.
func (e *Entry) Validate() error {
	if e.Time.IsZero() {
		return errorf("time is zero")
	}
	if ns := e.Time.UnixNano(); !time.Unix(0, ns).Equal(e.Time) {
		return errorf("time outside the years 1678..2262")
	}
	if !e.Action.Valid() {
		return errorf("unknown action")
	}
	switch e.Version {
	case 0:
	case LegacyVersion:
		if len(e.Masked) != 0 || len(e.Refused) != 0 {
			return errorf("a version 1 entry has no masked or refused fields")
		}
	default:
		return errorf("unknown version %d", e.Version)
	}
	for _, f := range []struct{ name, v string }{
		{"region", e.Region}, {"request id", e.RequestID}, {"principal", e.Principal},
		{"location", e.Location}, {"collection", e.Collection}, {"purpose", e.Purpose},
		{"decision", e.Decision}, {"rule", e.Rule}, {"outcome", e.Outcome},
	} {
		if err := checkIdent(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkOutcome(e.Outcome); err != nil {
		return err
	}
	if len(e.Records) > MaxList || len(e.Fields) > MaxList || len(e.Subjects) > MaxList || len(e.Masked) > MaxList || len(e.Refused) > MaxList {
		return errorf("more than %d record ids, fields or subjects", MaxList)
	}
	for _, s := range e.Masked {
		if err := checkIdent("masked field", s); err != nil {
			return err
		}
	}
	for _, r := range e.Refused {
		if err := checkIdent("refused field", r.Field); err != nil {
			return err
		}
		if err := checkIdent("refusal code", r.Code); err != nil {
			return err
		}
	}
	for _, s := range e.Records {
		if err := checkIdent("record id", s); err != nil {
			return err
		}
	}
	for _, s := range e.Fields {
		if err := checkIdent("field", s); err != nil {
			return err
		}
	}
	for _, m := range e.Subjects {
		if len(m) < MinMAC || len(m) > MaxMAC {
			return errorf("subject MAC is %d bytes, want %d..%d", len(m), MinMAC, MaxMAC)
		}
	}
	return nil
}

// checkIdent accepts up to MaxString bytes of printable ASCII without
// spaces.
func checkIdent(name, s string) error {
	if len(s) > MaxString {
		return errorf("%s is longer than %d bytes", name, MaxString)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return errorf("%s has a byte outside printable ASCII at offset %d", name, i)
		}
	}
	return nil
}

func checkOutcome(o string) error {
	switch o {
	case OK, Denied, Aborted:
		return nil
	}
	code, ok := strings.CutPrefix(o, "error:")
	if !ok || code == "" {
		return errorf(`outcome must be "ok", "denied", "aborted" or "error:<code>"`)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return errorf("outcome error code has a byte outside [a-z0-9_.-]")
		}
	}
	return nil
}

// Marshal returns the canonical encoding of e.
//
// Errors: an *Error when e does not Validate.
func Marshal(e *Entry) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return AppendMarshal(make([]byte, 0, e.size()), e), nil
}

// AppendMarshal appends the encoding of e, which must Validate, to dst.
func AppendMarshal(dst []byte, e *Entry) []byte {
	if e.Version == LegacyVersion {
		dst = append(dst, LegacyVersion)
	} else {
		dst = append(dst, Version)
	}
	dst = binary.BigEndian.AppendUint64(dst, e.Index)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Time.UnixNano()))
	for _, s := range []string{e.Region, e.RequestID, e.Principal, e.Location, string(e.Action), e.Collection} {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Records)))
	for _, s := range e.Records {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Fields)))
	for _, s := range e.Fields {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Subjects)))
	for _, m := range e.Subjects {
		dst = binary.AppendUvarint(dst, uint64(len(m)))
		dst = append(dst, m...)
	}
	for _, s := range []string{e.Purpose, e.Decision, e.Rule, e.Outcome} {
		dst = appendStr(dst, s)
	}
	if e.Version == LegacyVersion {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Masked)))
	for _, s := range e.Masked {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Refused)))
	for _, r := range e.Refused {
		dst = appendStr(appendStr(dst, r.Field), r.Code)
	}
	return dst
}

func (e *Entry) size() int {
	n := 1 + 8 + 8 + 10*2
	for _, s := range []string{e.Region, e.RequestID, e.Principal, e.Location, string(e.Action), e.Collection, e.Purpose, e.Decision, e.Rule, e.Outcome} {
		n += 2 + len(s)
	}
	for _, s := range e.Records {
		n += 2 + len(s)
	}
	for _, s := range e.Fields {
		n += 2 + len(s)
	}
	for _, m := range e.Subjects {
		n += 1 + len(m)
	}
	for _, s := range e.Masked {
		n += 2 + len(s)
	}
	for _, r := range e.Refused {
		n += 4 + len(r.Field) + len(r.Code)
	}
	return n
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads the encoding; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = errorf(format, a...)
	}
}

func (d *decoder) fixed(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated %s", what)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

// uvarint reads a minimal uvarint no larger than max.
func (d *decoder) uvarint(max uint64, what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad length of %s", what)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail("non-minimal length of %s", what)
		return 0
	}
	if v > max {
		d.fail("%s length %d exceeds %d", what, v, max)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(what string) string {
	n := d.uvarint(MaxString, what)
	return string(d.fixed(int(n), what))
}

func (d *decoder) list(what string) []string {
	n := d.uvarint(MaxList, what+" count")
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]string, 0, min(n, 64))
	for range n {
		out = append(out, d.str(what))
		if d.err != nil {
			return nil
		}
	}
	return out
}

// Parse decodes b strictly: any byte that Marshal would not have written,
// trailing data included, is an error.
//
// Errors: an *Error describing the first problem (never the value).
func Parse(b []byte) (*Entry, error) {
	if len(b) > MaxEncoded {
		return nil, errorf("entry is %d bytes, at most %d allowed", len(b), MaxEncoded)
	}
	if len(b) == 0 {
		return nil, errorf("empty")
	}
	if b[0] != Version && b[0] != LegacyVersion {
		return nil, errorf("unknown version %d", b[0])
	}
	d := &decoder{b: b[1:]}
	e := &Entry{}
	if f := d.fixed(8, "index"); f != nil {
		e.Index = binary.BigEndian.Uint64(f)
	}
	if f := d.fixed(8, "time"); f != nil {
		e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(f))).UTC()
	}
	e.Region = d.str("region")
	e.RequestID = d.str("request id")
	e.Principal = d.str("principal")
	e.Location = d.str("location")
	e.Action = Action(d.str("action"))
	e.Collection = d.str("collection")
	e.Records = d.list("record id")
	e.Fields = d.list("field")
	if n := d.uvarint(MaxList, "subject count"); n > 0 && d.err == nil {
		e.Subjects = make([]SubjectMAC, 0, min(n, 64))
		for range n {
			m := d.fixed(int(d.uvarint(MaxMAC, "subject MAC")), "subject MAC")
			if d.err != nil {
				break
			}
			e.Subjects = append(e.Subjects, SubjectMAC(append([]byte(nil), m...)))
		}
	}
	e.Purpose = d.str("purpose")
	e.Decision = d.str("decision")
	e.Rule = d.str("rule")
	e.Outcome = d.str("outcome")
	if b[0] == LegacyVersion {
		e.Version = LegacyVersion
	} else {
		e.Masked = d.list("masked field")
		if n := d.uvarint(MaxList, "refused count"); n > 0 && d.err == nil {
			e.Refused = make([]Refusal, 0, min(n, 64))
			for range n {
				r := Refusal{Field: d.str("refused field"), Code: d.str("refusal code")}
				if d.err != nil {
					break
				}
				e.Refused = append(e.Refused, r)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errorf("%d bytes of trailing data", len(d.b))
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}
