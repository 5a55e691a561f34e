// Package recordfmt is the stored form of one record: its metadata in clear
// (collection, jurisdiction, times, key version), its subject as a keyed
// reference plus an envelope, each field as an envelope, and the blind-index
// keys that point at it. It holds no personal value in clear.
//
// Format v1, every length an unsigned varint:
//
//	0x01 | collection | jurisdiction | subject ref | subject envelope |
//	created (unix ns, varint) | updated | field count | (name, envelope)... |
//	index count | index key...
//
// Field names are sorted and unique. Parse is strict: Marshal(Parse(b)) == b.
package recordfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

const version1 = 0x01

// Limits that keep a corrupt or hostile blob from allocating without bound.
const (
	maxFields = 256
	maxIndex  = 1024
)

// ErrMalformed is wrapped by every Parse error.
var ErrMalformed = errors.New("recordfmt: malformed record")

// Field is one encrypted field.
type Field struct {
	Name     string
	Envelope []byte
}

// Record is the stored form of a record.
type Record struct {
	Collection   string
	Jurisdiction string
	SubjectRef   []byte
	Subject      []byte // envelope of the subject id
	Created      int64  // unix nanoseconds
	Updated      int64
	Fields       []Field  // sorted by Name
	Index        [][]byte // store keys of the record's blind-index entries
}

// Field returns the envelope of the named field.
func (r *Record) Field(name string) ([]byte, bool) {
	i := sort.Search(len(r.Fields), func(i int) bool { return r.Fields[i].Name >= name })
	if i < len(r.Fields) && r.Fields[i].Name == name {
		return r.Fields[i].Envelope, true
	}
	return nil, false
}

// SortFields orders the fields by name, as Marshal requires.
func (r *Record) SortFields() {
	sort.Slice(r.Fields, func(i, j int) bool { return r.Fields[i].Name < r.Fields[j].Name })
}

// Marshal encodes r. Fields must be sorted and unique.
func Marshal(r *Record) []byte {
	n := 32 + len(r.Collection) + len(r.Jurisdiction) + len(r.SubjectRef) + len(r.Subject)
	for _, f := range r.Fields {
		n += 4 + len(f.Name) + len(f.Envelope)
	}
	for _, k := range r.Index {
		n += 2 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, version1)
	b = appendBytes(b, []byte(r.Collection))
	b = appendBytes(b, []byte(r.Jurisdiction))
	b = appendBytes(b, r.SubjectRef)
	b = appendBytes(b, r.Subject)
	b = binary.AppendVarint(b, r.Created)
	b = binary.AppendVarint(b, r.Updated)
	b = binary.AppendUvarint(b, uint64(len(r.Fields)))
	for _, f := range r.Fields {
		b = appendBytes(b, []byte(f.Name))
		b = appendBytes(b, f.Envelope)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Index)))
	for _, k := range r.Index {
		b = appendBytes(b, k)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Parse decodes a stored record. The returned slices alias b.
func Parse(b []byte) (*Record, error) {
	p := parser{b: b}
	if v := p.byte(); v != version1 {
		return nil, p.fail("unknown version")
	}
	r := &Record{}
	r.Collection = string(p.bytes())
	r.Jurisdiction = string(p.bytes())
	r.SubjectRef = p.bytes()
	r.Subject = p.bytes()
	r.Created = p.varint()
	r.Updated = p.varint()
	nf := p.uvarint()
	if nf > maxFields {
		return nil, p.fail("too many fields")
	}
	r.Fields = make([]Field, 0, nf)
	for i := uint64(0); i < nf && p.err == nil; i++ {
		name := string(p.bytes())
		env := p.bytes()
		if i > 0 && name <= r.Fields[i-1].Name {
			return nil, p.fail("fields not sorted or repeated")
		}
		r.Fields = append(r.Fields, Field{Name: name, Envelope: env})
	}
	ni := p.uvarint()
	if ni > maxIndex {
		return nil, p.fail("too many index keys")
	}
	r.Index = make([][]byte, 0, ni)
	for i := uint64(0); i < ni && p.err == nil; i++ {
		r.Index = append(r.Index, p.bytes())
	}
	if p.err != nil {
		return nil, p.err
	}
	if len(p.b) != 0 {
		return nil, p.fail("trailing bytes")
	}
	if !bytes.Equal(Marshal(r), b) {
		return nil, p.fail("non-canonical encoding")
	}
	return r, nil
}

type parser struct {
	b   []byte
	err error
}

func (p *parser) fail(msg string) error {
	if p.err == nil {
		p.err = fmt.Errorf("%w: %s", ErrMalformed, msg)
	}
	return p.err
}

func (p *parser) byte() byte {
	if p.err != nil || len(p.b) == 0 {
		p.fail("truncated")
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *parser) uvarint() uint64 {
	if p.err != nil {
		return 0
	}
	v, n := binary.Uvarint(p.b)
	if n <= 0 {
		p.fail("bad length")
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) varint() int64 {
	if p.err != nil {
		return 0
	}
	v, n := binary.Varint(p.b)
	if n <= 0 {
		p.fail("bad number")
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) bytes() []byte {
	n := p.uvarint()
	if p.err != nil {
		return nil
	}
	if n > uint64(len(p.b)) {
		p.fail("truncated")
		return nil
	}
	v := p.b[:n:n]
	p.b = p.b[n:]
	return v
}
