// Package audit is the tamper-evident audit log of one region (DESIGN
// promise 5): entries (internal/audit/entry) in a Merkle tree
// (internal/audit/tlog) under the region's suite hash, with checkpoints
// (internal/audit/checkpoint) signed by the region's audit key.
//
// # Storage layout (in the region's own store)
//
//	a/e/<index, 8B BE>            entry bytes (entry.Marshal), the tree's leaves
//	a/t/<t, 1B><k, 8B BE>         tile: hashes of the nodes (8t, 256k..256k+255),
//	                              concatenated; tile level 0 holds leaf hashes
//	a/m/size                      integrated tree size, 8B BE
//	a/m/checkpoint                the latest signed checkpoint (a copy)
//	a/c/<size, 8B BE>             signed checkpoint of the tree of that size
//
// Tree nodes are kept in tiles of 256 hashes (see tiles.go), so an
// integration pass writes a handful of keys, an inclusion or consistency
// proof reads O(log n) keys, and appending reads none.
//
// # Fail-closed appends and integration
//
// Append reserves gap-free indexes under a short mutex and adds the entries'
// Inserts to the caller's batch, so a write and its audit entries commit in
// one atomic, durable Apply (sharing the store's group commit with every
// other request: nothing is serialised across the fsync). The caller then
// calls Commit, or Abort if its Apply failed; Abort makes the log durably
// write the same entries with outcome "aborted" at the reserved indexes, so
// no index is ever left empty and a failed attempt stays on record.
//
// The tree is integrated separately: one pass takes the contiguous run of
// resolved (committed or aborted) reservations, writes the new subtree
// roots, the new size and, when due, a signed checkpoint, all in one Apply.
// A pass runs when IntegrateBatch entries are ready, every
// CheckpointInterval, on Sync and on Close; its one fsync is shared by
// hundreds of entries. After a crash, Open re-integrates the entries past
// the stored size and fills the indexes of reservations that never
// committed with "void" entries.
//
// Several processes per region (PostgreSQL backend) are not supported yet:
// reservations come from an in-memory counter. Entries are already written
// with Insert, so two nodes can never overwrite each other's index (the
// loser's Apply fails with store.ErrConflict, it Aborts and retries, and
// Abort adopts the winner's entry). What remains is to reserve from the
// store (blocks of indexes leased by Insert of a/r/<block>, or a database
// sequence) and to let one node at a time integrate (a lease key).
package audit

import (
	"context"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// Errors callers branch on.
var (
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("audit: log closed")
	// ErrBacklog is returned by Append when too many entries wait for
	// integration (the store refuses the tree's writes): the request must
	// fail, as audit fails closed.
	ErrBacklog = errors.New("audit: too many entries waiting for integration")
	// ErrCorrupt is wrapped when stored audit data does not parse.
	ErrCorrupt = errors.New("audit: stored log is corrupt")
	// ErrRange is wrapped for indexes or sizes beyond the integrated tree.
	ErrRange = errors.New("audit: index or size out of range")
	// ErrNotFound is wrapped when there is no checkpoint yet.
	ErrNotFound = errors.New("audit: not found")
)

// Defaults of Options.
const (
	DefaultCheckpointEvery    = 1024
	DefaultCheckpointInterval = time.Minute
	DefaultIntegrateBatch     = 256
	DefaultMaxBacklog         = 1 << 16
)

// Options configure Open.
type Options struct {
	Store  store.Store
	Region string // stamped on entries that name no region; others must match
	// Origin names the log in checkpoints, e.g. "domicile.example/cn-north".
	Origin    string
	Hash      suite.Hash
	Signature suite.Signature
	// Signer returns the current audit-signing key (keyring.AuditSigner).
	Signer func() (crypto.Signer, error)
	Rand   io.Reader        // for signatures; nil: crypto/rand via the scheme
	Now    func() time.Time // nil: time.Now
	// CheckpointEvery N entries and every CheckpointInterval (T) a
	// checkpoint is signed; zero means the defaults.
	CheckpointEvery    uint64
	CheckpointInterval time.Duration
	// IntegrateBatch is how many ready entries wake the integrator.
	IntegrateBatch int
	// MaxBacklog bounds reserved but unintegrated entries.
	MaxBacklog int
	// Witness, if set, receives every new checkpoint.
	Witness Witness
	// Logf receives background errors (integration, witness); nil drops.
	Logf func(format string, args ...any)
	// Manual disables the background integrator: integration happens only
	// in Sync, Checkpoint and Close (tests, tools).
	Manual bool
}

// Log is the audit log of one region. It is safe for concurrent use.
type Log struct {
	o  Options
	st store.Store

	mu         sync.Mutex
	next       uint64              // next index to reserve
	integrated uint64              // size of the stored tree
	pend       map[uint64]*pending // unintegrated reservations by first index
	ready      int                 // resolved entries not yet integrated
	cpSize     uint64              // size of the latest checkpoint
	cpTime     time.Time
	cpText     []byte
	closed     bool

	integMu sync.Mutex         // one integration pass at a time
	front   *tlog.Frontier     // the stored tree, owned by integMu holders
	edges   map[uint8]edgeTile // its right-edge tiles, owned by integMu holders
	wake    chan struct{}      // cap 1: work for the integrator
	stop    chan struct{}      // closed by Close
	done    chan struct{}      // closed when the integrator exits
	tick    *time.Ticker       // nil when Manual
	lastErr error              // latest integration error, under mu
}

// Store keys.
var (
	prefixEntry      = []byte("a/e/")
	prefixNode       = []byte("a/t/")
	prefixCheckpoint = []byte("a/c/")
	keySize          = []byte("a/m/size")
	keyLatest        = []byte("a/m/checkpoint")
)

func entryKey(i uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 12), prefixEntry...), i)
}

func checkpointKey(size uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 12), prefixCheckpoint...), size)
}

// Open opens the log in o.Store, recovering from a crash if needed: entries
// past the integrated size are integrated and indexes whose reservation
// never committed are filled with "void" entries.
//
// Errors: a configuration error; ErrCorrupt (wrapped) when stored audit
// data does not parse; store errors, wrapped.
func Open(ctx context.Context, o Options) (*Log, error) {
	switch {
	case o.Store == nil || o.Hash == nil || o.Signature == nil || o.Signer == nil:
		return nil, errors.New("audit: Store, Hash, Signature and Signer are required")
	case o.Region == "":
		return nil, errors.New("audit: no region given")
	}
	if o.Origin == "" {
		o.Origin = "domicile/" + o.Region
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.IntegrateBatch <= 0 {
		o.IntegrateBatch = DefaultIntegrateBatch
	}
	if o.MaxBacklog <= 0 {
		o.MaxBacklog = DefaultMaxBacklog
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	l := &Log{o: o, st: o.Store, pend: map[uint64]*pending{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	if err := l.recover(ctx); err != nil {
		return nil, err
	}
	if o.Manual {
		close(l.done)
	} else {
		l.tick = time.NewTicker(o.CheckpointInterval)
		go l.run()
	}
	return l, nil
}

// load reads the stored tree state and latest checkpoint.
func (l *Log) load(ctx context.Context) error {
	v, err := l.st.Get(ctx, keySize)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("audit: open: %w", err)
	case len(v) != 8:
		return fmt.Errorf("audit: open: %w: a/m/size is %d bytes", ErrCorrupt, len(v))
	default:
		l.integrated = binary.BigEndian.Uint64(v)
	}
	var roots [][]byte
	nodes := tileNodes{st: l.st, h: l.o.Hash}
	for _, n := range tlog.FrontierNodes(l.integrated) {
		h, err := nodes.Node(ctx, n)
		if err != nil {
			return fmt.Errorf("audit: open: tree node %d/%d: %w", n.Level, n.Index, err)
		}
		if len(h) != l.o.Hash.Size() {
			return fmt.Errorf("audit: open: %w: tree node %d/%d is %d bytes", ErrCorrupt, n.Level, n.Index, len(h))
		}
		roots = append(roots, h)
	}
	if l.front, err = tlog.NewFrontier(l.integrated, roots); err != nil {
		return fmt.Errorf("audit: open: %w: %v", ErrCorrupt, err)
	}
	if l.edges, err = loadEdges(ctx, l.st, l.o.Hash.Size(), l.integrated); err != nil {
		return err
	}
	l.next = l.integrated
	cp, err := l.st.Get(ctx, keyLatest)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("audit: open: %w", err)
	default:
		s, err := checkpoint.Parse(cp)
		if err != nil {
			return fmt.Errorf("audit: open: %w: latest checkpoint: %v", ErrCorrupt, err)
		}
		l.cpSize, l.cpTime, l.cpText = s.Size, s.Time, cp
	}
	if l.cpTime.IsZero() {
		l.cpTime = l.o.Now()
	}
	return nil
}

// recover turns the entries past the integrated size into resolved
// reservations (committed ones as they are, missing ones as void) and
// integrates them.
func (l *Log) recover(ctx context.Context) error {
	kvs, err := l.st.Scan(ctx, entryKey(l.integrated), store.PrefixEnd(prefixEntry), 0)
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	if len(kvs) == 0 {
		return nil
	}
	now := l.o.Now()
	for _, kv := range kvs {
		i := binary.BigEndian.Uint64(kv.Key[len(prefixEntry):])
		for ; l.next < i; l.next++ {
			void := entry.Entry{Index: l.next, Time: now, Region: l.o.Region, Action: entry.Void, Outcome: entry.Aborted}
			l.pend[l.next] = newPending(l.o.Hash, l.next, []entry.Entry{void}, stateAborted)
		}
		e, err := entry.Parse(kv.Value)
		if err != nil || e.Index != i {
			return fmt.Errorf("audit: open: %w: entry %d does not parse or holds another index", ErrCorrupt, i)
		}
		p := newPending(l.o.Hash, i, []entry.Entry{*e}, stateCommitted)
		l.pend[i] = p
		l.next = i + 1
	}
	l.ready = int(l.next - l.integrated)
	if err := l.pass(ctx, true, false); err != nil {
		return fmt.Errorf("audit: open: integrating recovered entries: %w", err)
	}
	return nil
}

// Close stops the integrator, integrates what is ready and releases the
// log; the store stays open (its owner closes it after the log). Close
// returns the final integration's error; calling it again returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	if l.tick != nil {
		l.tick.Stop()
	}
	return l.pass(context.Background(), true, false)
}

// Origin returns the log's name in checkpoints.
func (l *Log) Origin() string { return l.o.Origin }

// Size returns the size of the integrated tree: entries below it have
// inclusion proofs.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.integrated
}

// Err returns the latest background integration error, nil after a
// successful pass (for /readyz).
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}
