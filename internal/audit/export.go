package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// RawEntry is one stored entry as a Reader yields it.
type RawEntry struct {
	Index uint64 // where it is filed (key), not what it says
	Data  []byte // nil when the index has a leaf hash but no entry
	Leaf  []byte // stored leaf hash, nil if none
}

// RawCheckpoint is one stored checkpoint.
type RawCheckpoint struct {
	Size uint64 // the size it is filed under
	Text []byte
}

// Reader reads a log for Verify and Export: a region's store
// (StoreReader) or an export (NewExportReader). Checkpoints must be called
// before Entries.
type Reader interface {
	// Checkpoints returns every stored checkpoint in ascending size.
	Checkpoints(ctx context.Context) ([]RawCheckpoint, error)
	// Entries calls fn for every stored entry index in ascending order.
	Entries(ctx context.Context, fn func(RawEntry) error) error
	// Total is the expected number of entries, 0 if unknown (progress).
	Total() int
}

// StoreReader reads the audit log of st, whose tree uses hash h (the
// stored leaf hashes are given only if the tree's hash is h); it only
// calls Get and Scan, so st may be opened read-only.
func StoreReader(st store.Store, h suite.Hash) Reader { return &storeReader{st: st, h: h} }

type storeReader struct {
	st store.Store
	h  suite.Hash
	// With limited, entries from limit on and checkpoints larger than
	// limit are not read.
	limit   uint64
	limited bool
}

func (r *storeReader) Total() int {
	if r.limited {
		return int(r.limit)
	}
	v, err := r.st.Get(context.Background(), keySize)
	if err != nil || len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// Integrated returns the size of the tree the log integrated (0 before
// the first pass).
func (r *storeReader) Integrated(ctx context.Context) (uint64, error) {
	v, err := r.st.Get(ctx, keySize)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("audit: read the tree size: %w", err)
	case len(v) != 8:
		return 0, fmt.Errorf("%w: a/m/size is %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (r *storeReader) Checkpoints(ctx context.Context) ([]RawCheckpoint, error) {
	kvs, err := r.st.Scan(ctx, prefixCheckpoint, store.PrefixEnd(prefixCheckpoint), 0)
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	out := make([]RawCheckpoint, 0, len(kvs))
	for _, kv := range kvs {
		if len(kv.Key) != len(prefixCheckpoint)+8 {
			return nil, fmt.Errorf("audit: read checkpoints: %w: key %q", ErrCorrupt, kv.Key)
		}
		size := binary.BigEndian.Uint64(kv.Key[len(prefixCheckpoint):])
		if r.limited && size > r.limit {
			break // signed after the limit was read
		}
		out = append(out, RawCheckpoint{Size: size, Text: kv.Value})
	}
	return out, nil
}

const readPage = 4096

// pager pages through one prefix of 8-byte BE indexes.
type pager struct {
	st     store.Store
	prefix []byte
	kvs    []store.KV
	next   []byte // start of the next page, nil at the end
}

func (p *pager) peek(ctx context.Context) (uint64, []byte, bool, error) {
	for len(p.kvs) == 0 {
		if p.next == nil {
			return 0, nil, false, nil
		}
		kvs, err := p.st.Scan(ctx, p.next, store.PrefixEnd(p.prefix), readPage)
		if err != nil {
			return 0, nil, false, err
		}
		p.kvs = kvs
		if len(kvs) < readPage {
			p.next = nil
		} else {
			p.next = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
		}
	}
	kv := p.kvs[0]
	if len(kv.Key) != len(p.prefix)+8 {
		return 0, nil, false, fmt.Errorf("%w: key %q", ErrCorrupt, kv.Key)
	}
	return binary.BigEndian.Uint64(kv.Key[len(p.prefix):]), kv.Value, true, nil
}

// leafHash is the hash of the stored tree, whose leaf hashes Entries gives
// when it is the reader's.
func (r *storeReader) leafHash(ctx context.Context) (string, error) {
	t, err := readTreeHash(ctx, r.st, r.h)
	if err != nil {
		return "", err
	}
	return t.h.ID(), nil
}

func (r *storeReader) Entries(ctx context.Context, fn func(RawEntry) error) error {
	es := &pager{st: r.st, prefix: prefixEntry, next: prefixEntry}
	tree, err := readTreeHash(ctx, r.st, r.h)
	if err != nil {
		return err
	}
	var leaves *leafTiles
	if tree.h.ID() == r.h.ID() {
		leaves = &leafTiles{st: r.st, hs: r.h.Size(), tiles: tree.tiles}
	}
	for {
		i, v, ok, err := es.peek(ctx)
		if err != nil {
			return fmt.Errorf("audit: read entries: %w", err)
		}
		if !ok || (r.limited && i >= r.limit) {
			return nil
		}
		es.kvs = es.kvs[1:]
		var leaf []byte
		if leaves != nil {
			if leaf, err = leaves.leaf(ctx, i); err != nil {
				return fmt.Errorf("audit: read leaves: %w", err)
			}
		}
		if err := fn(RawEntry{Index: i, Data: v, Leaf: leaf}); err != nil {
			return err
		}
	}
}

// The export format: JSON lines, each an object with a "type":
//
//	{"type":"header","format":"domicile-audit-export/v1","hash":"SM3","entries":N,"checkpoints":M}
//	{"type":"checkpoint","size":S,"text":"<signed checkpoint>"}        (ascending size)
//	{"type":"entry","index":I,"data":"<base64 entry bytes>","leaf":"<base64>","entry":{...}}
//
// Checkpoints come before entries so that a verifier reads the file once
// and every checkpoint's size is covered by the entries that follow (they
// are read after the checkpoints). "data" is what the tree covers; "entry"
// is its JSON form for people, checked against "data" on import.
const exportFormat = "domicile-audit-export/v1"

type exportLine struct {
	Type        string          `json:"type"`
	Format      string          `json:"format,omitempty"`
	Hash        string          `json:"hash,omitempty"`
	Entries     *int            `json:"entries,omitempty"`
	Checkpoints *int            `json:"checkpoints,omitempty"`
	Size        *uint64         `json:"size,omitempty"`
	Text        string          `json:"text,omitempty"`
	Index       *uint64         `json:"index,omitempty"`
	Data        []byte          `json:"data,omitempty"`
	Leaf        []byte          `json:"leaf,omitempty"`
	Entry       json.RawMessage `json:"entry,omitempty"`
}

// Export writes the log read from r as JSON lines to w (see the format
// above). Entries that do not parse are exported without their JSON form.
//
// Errors: r's and w's errors, wrapped.
func Export(ctx context.Context, r Reader, h suite.Hash, w io.Writer) error {
	cps, err := r.Checkpoints(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	total, ncp := r.Total(), len(cps)
	if err := enc.Encode(exportLine{Type: "header", Format: exportFormat, Hash: h.ID(), Entries: &total, Checkpoints: &ncp}); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	for _, c := range cps {
		if err := enc.Encode(exportLine{Type: "checkpoint", Size: &c.Size, Text: string(c.Text)}); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
	}
	err = r.Entries(ctx, func(e RawEntry) error {
		line := exportLine{Type: "entry", Index: &e.Index, Data: e.Data, Leaf: e.Leaf}
		if pe, err := entry.Parse(e.Data); err == nil {
			line.Entry, _ = json.Marshal(pe)
		}
		return enc.Encode(line)
	})
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return nil
}

// Export writes the log of a running region (see the package function
// Export): it integrates what is stored and signs a checkpoint over it,
// then writes every checkpoint and the entries of the integrated tree, so
// that the export holds no reservation still being written by a request in
// flight and its last checkpoint covers (nearly) all of it.
//
// Errors: those of Checkpoint; the store's and w's, wrapped.
func (l *Log) Export(ctx context.Context, w io.Writer) error {
	if _, err := l.Checkpoint(ctx); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	h := l.Hash()
	r := &storeReader{st: l.st, h: h}
	n, err := r.Integrated(ctx)
	if err != nil {
		return err
	}
	r.limit, r.limited = n, true
	return Export(ctx, r, h, w)
}

// NewExportReader reads an export written by Export. Malformed lines make
// Checkpoints or Entries fail with an error naming the line.
func NewExportReader(r io.Reader) Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	return &exportReader{sc: sc}
}

type exportReader struct {
	sc      *bufio.Scanner
	line    int
	total   int
	hash    string      // the header's: the hash of the leaf hashes the export carries
	pending *exportLine // first entry line, read by Checkpoints
}

func (r *exportReader) Total() int { return r.total }

// leafHash is the hash of the leaf hashes the export carries (known once
// Checkpoints read the header).
func (r *exportReader) leafHash(context.Context) (string, error) { return r.hash, nil }

func (r *exportReader) read() (*exportLine, error) {
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			return nil, fmt.Errorf("audit: export line %d: %w", r.line+1, err)
		}
		return nil, io.EOF
	}
	r.line++
	var l exportLine
	d := json.NewDecoder(bytes.NewReader(r.sc.Bytes()))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return nil, fmt.Errorf("audit: export line %d: %w", r.line, err)
	}
	return &l, nil
}

func (r *exportReader) Checkpoints(ctx context.Context) ([]RawCheckpoint, error) {
	h, err := r.read()
	if err != nil || h.Type != "header" || h.Format != exportFormat {
		return nil, fmt.Errorf("audit: export: line 1 is not a %s header (%v)", exportFormat, err)
	}
	if h.Entries != nil {
		r.total = *h.Entries
	}
	r.hash = h.Hash
	var out []RawCheckpoint
	for {
		l, err := r.read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch l.Type {
		case "checkpoint":
			if l.Size == nil {
				return nil, fmt.Errorf("audit: export line %d: checkpoint without size", r.line)
			}
			out = append(out, RawCheckpoint{Size: *l.Size, Text: []byte(l.Text)})
		case "entry":
			r.pending = l
			return out, nil
		default:
			return nil, fmt.Errorf("audit: export line %d: unknown type %q", r.line, l.Type)
		}
	}
}

func (r *exportReader) Entries(ctx context.Context, fn func(RawEntry) error) error {
	for {
		l := r.pending
		r.pending = nil
		if l == nil {
			var err error
			if l, err = r.read(); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if l.Type != "entry" || l.Index == nil {
			return fmt.Errorf("audit: export line %d: want an entry with an index", r.line)
		}
		if l.Entry != nil {
			// The readable form must say what the bytes say.
			pe, err := entry.Parse(l.Data)
			want, _ := json.Marshal(pe)
			if err != nil || !jsonEqual(want, l.Entry) {
				return fmt.Errorf("audit: export line %d: entry %d: %w", r.line, *l.Index, &VerifyError{Entry: int64(*l.Index), Checkpoint: -1,
					Msg: "its JSON form differs from its bytes (edited export)"})
			}
		}
		if err := fn(RawEntry{Index: *l.Index, Data: l.Data, Leaf: l.Leaf}); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil && r.line%1024 == 0 {
			return err
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
