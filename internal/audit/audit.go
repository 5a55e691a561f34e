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
//	a/c/<size, 8B BE>             signed checkpoint of the tree of that size,
//	                              with the witnesses' cosignatures once added
//
// Tree nodes are kept in tiles of 256 hashes (see tiles.go), so an
// integration pass writes a handful of keys, an inclusion or consistency
// proof reads O(log n) keys, and appending reads none.
//
// # Fail-closed appends and integration
//
// Append reserves indexes from the process's leased block under a short
// mutex and adds the entries' Inserts to the caller's batch, so a write and its audit entries commit in
// one atomic, durable Apply (sharing the store's group commit with every
// other request: nothing is serialised across the fsync). The caller then
// calls Commit, or Abort if its Apply failed; Abort makes the log durably
// write the same entries with outcome "aborted" at the reserved indexes, so
// no index is left empty and a failed attempt stays on record.
//
// The tree is integrated separately, from what the store holds: one pass
// reads the stored size, scans the entries from there, takes the
// contiguous run of present entries and writes the new tiles, the new size
// and, when due, a signed checkpoint, all in one Apply guarded by
// Expect(a/m/size, old size) (and Expect(a/m/checkpoint, old) when it
// signs). A pass runs when IntegrateBatch entries are ready, every
// CheckpointInterval, on Sync and on Close; its one fsync is shared by
// hundreds of entries.
//
// # Several processes over one store
//
// Several stateless nodes of a region may share one store (PostgreSQL).
// Indexes are leased from the store in blocks of LeaseBlock: a
// compare-and-set of a/m/next (Get, then Apply of Expect(old) and
// Put(old+B), retried on ErrConflict); inside its block a process hands
// indexes out under its mutex, so one process pays one small Apply per
// block. Any process may integrate: a stale integrator's Apply fails on
// its Expect, it reloads the tree state from the store and retries, so
// the tiles are never written from a stale frontier. Aborted reservations
// are written (as "aborted" entries) by their own process at its next
// pass, with Insert: if the batch did commit after all, the stored entry
// is kept.
//
// A hole (an index whose writer died, or whose write failed without
// Abort) would stall integration forever: once an index has been missing
// for VoidGrace (by the log's clock: since a pass first saw a later entry,
// or since the Time of the entry after it) while later entries exist, any
// process fills it with a "void" entry, by Insert. A writer whose reserved
// index was voided then gets ErrConflict from its own Apply: the vault
// retries with a fresh Append; Apply and AppendNow do so by themselves. A process
// whose unused block stalls later entries voids it at once, and Close
// hands an unused block back (or voids it if others leased after it), so
// voids are mostly left by crashed processes. After a crash, Open
// integrates the entries past the stored size and voids the holes older
// than VoidGrace.
package audit

import (
	"context"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
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
	// ErrNotRecorded is wrapped by Apply when the entries could not be
	// reserved (closed log, backlog, store failure): nothing was applied,
	// and the caller answers that the audit log is unavailable.
	ErrNotRecorded = errors.New("audit: cannot record the entries")
)

// Defaults of Options.
const (
	DefaultCheckpointEvery    = 1024
	DefaultCheckpointInterval = time.Minute
	DefaultIntegrateBatch     = 256
	DefaultMaxBacklog         = 1 << 16
	DefaultLeaseBlock         = 64
	DefaultVoidGrace          = 2 * time.Second
)

// MaxLeaseFactor bounds how many times Options.LeaseBlock one lease
// reserves when appends queue for leases.
const MaxLeaseFactor = 16

// Options configure Open.
type Options struct {
	Store  store.Store
	Region string // stamped on entries that name no region; others must match
	// Origin names the log in checkpoints, e.g. "domicile.example/cn-north".
	Origin string
	Hash   suite.Hash
	// Signature is the scheme of the region's audit keys. A key of
	// another scheme (after a suite migration, the new suite's) signs
	// with its own, which its checkpoints' alg line names.
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
	// Witness, if set, receives every new checkpoint; cosignatures it
	// returns are added to the stored copies (see Witness).
	Witness Witness
	// Logf receives background errors (integration, witness); nil drops.
	Logf func(format string, args ...any)
	// LeaseBlock is how many indexes one lease from the store reserves
	// (DefaultLeaseBlock when zero) while appends do not queue for leases;
	// when they do, a lease reserves up to MaxLeaseFactor times as many
	// (see Log.leaseSize).
	LeaseBlock int
	// VoidGrace is how long, by Now, an index may stay empty while later
	// entries exist before it is filled with a void entry
	// (DefaultVoidGrace when zero).
	VoidGrace time.Duration
	// Manual disables the background integrator: integration happens only
	// in Sync, Checkpoint and Close (tests, tools).
	Manual bool
}

// Log is the audit log of one region. It is safe for concurrent use.
type Log struct {
	o  Options
	st store.Store

	mu          sync.Mutex
	next, limit uint64              // the leased block's indexes not handed out yet
	blockStart  uint64              // first index of the current block
	integrated  uint64              // size of the stored tree, as last seen
	pend        map[uint64]*pending // unintegrated local reservations by first index
	outstanding int                 // entries in pend
	ready       int                 // resolved entries in pend
	fillers     []*pending          // aborted reservations not written yet
	cpSize      uint64              // size of the latest checkpoint
	cpTime      time.Time
	cpText      []byte // the stored a/m/checkpoint, nil if none
	closed      bool
	lastErr     error // latest integration error

	leaseMu sync.Mutex // one lease at a time
	// leaseWaiting counts appends in lease, the leaser included;
	// queued is how many others waited for the latest lease (guarded by
	// leaseMu).
	leaseWaiting atomic.Int64
	queued       int

	integMu sync.Mutex               // one integration pass at a time
	tree    atomic.Pointer[treeHash] // the tree's hash and tiles, replaced by load and Rehash under integMu
	front   *tlog.Frontier           // the stored tree, owned by integMu holders
	edges   map[uint8]edgeTile       // its right-edge tiles, owned by integMu holders
	sizeRaw []byte                   // stored a/m/size matching front (nil: absent), integMu
	holes   []holeSeen               // evidence of holes, integMu
	wake    chan struct{}            // cap 1: work for the integrator
	stop    chan struct{}            // closed by Close
	done    chan struct{}            // closed when the integrator exits
	tick    *time.Ticker             // nil when Manual
	retry   *time.Timer              // nil when Manual: re-run a pass stalled at a hole
	stale   atomic.Int64             // integrations lost to another process (tests)
	voids   atomic.Uint64            // void entries this process wrote or scheduled

	pub publisher // checkpoints on their way to the witness
}

// holeSeen records that at time t the store held an entry at index j: any
// index below j still empty now has been a hole, with later entries, since t.
type holeSeen struct {
	j uint64
	t time.Time
}

// Store keys.
var (
	prefixEntry      = []byte("a/e/")
	prefixNode       = []byte("a/t/")
	prefixCheckpoint = []byte("a/c/")
	keySize          = []byte("a/m/size")
	keyLatest        = []byte("a/m/checkpoint")
	keyNext          = []byte("a/m/next") // next index to lease, 8B BE
	keyHash          = []byte("a/m/hash") // the tree's hash id after a Rehash; absent: Options.Hash
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
	if o.LeaseBlock <= 0 {
		o.LeaseBlock = DefaultLeaseBlock
	}
	if o.VoidGrace <= 0 {
		o.VoidGrace = DefaultVoidGrace
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	l := &Log{o: o, st: o.Store, pend: map[uint64]*pending{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	if !o.Manual {
		l.retry = time.NewTimer(time.Hour)
		l.retry.Stop()
	}
	// Crash recovery: integrate what was committed past the stored size
	// and void the holes older than VoidGrace.
	if err := l.pass(ctx, true, false); err != nil {
		return nil, fmt.Errorf("audit: open: integrating recovered entries: %w", err)
	}
	l.publishLater()
	if o.Manual {
		close(l.done)
	} else {
		l.tick = time.NewTicker(o.CheckpointInterval)
		go l.run()
	}
	return l, nil
}

// load reads the stored tree state and latest checkpoint; integMu holders
// call it again when another process changed them.
func (l *Log) load(ctx context.Context) error {
	var size uint64
	v, err := l.st.Get(ctx, keySize)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v = nil
	case err != nil:
		return fmt.Errorf("audit: load: %w", err)
	case len(v) != 8:
		return fmt.Errorf("audit: load: %w: a/m/size is %d bytes", ErrCorrupt, len(v))
	default:
		size = binary.BigEndian.Uint64(v)
	}
	tree, err := readTreeHash(ctx, l.st, l.o.Hash)
	if err != nil {
		return err
	}
	var roots [][]byte
	nodes := tileNodes{st: l.st, h: tree.h, tiles: tree.tiles}
	for _, n := range tlog.FrontierNodes(size) {
		h, err := nodes.Node(ctx, n)
		if err != nil {
			return fmt.Errorf("audit: load: tree node %d/%d: %w", n.Level, n.Index, err)
		}
		if len(h) != tree.h.Size() {
			return fmt.Errorf("audit: load: %w: tree node %d/%d is %d bytes", ErrCorrupt, n.Level, n.Index, len(h))
		}
		roots = append(roots, h)
	}
	front, err := tlog.NewFrontier(size, roots)
	if err != nil {
		return fmt.Errorf("audit: load: %w: %v", ErrCorrupt, err)
	}
	edges, err := loadEdges(ctx, l.st, tree.tiles, tree.h.Size(), size)
	if err != nil {
		return err
	}
	var cpSize uint64
	var cpTime time.Time
	cp, err := l.st.Get(ctx, keyLatest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cp = nil
	case err != nil:
		return fmt.Errorf("audit: load: %w", err)
	default:
		s, err := checkpoint.Parse(cp)
		if err != nil {
			return fmt.Errorf("audit: load: %w: latest checkpoint: %v", ErrCorrupt, err)
		}
		cpSize, cpTime = s.Size, s.Time
	}
	l.front, l.edges, l.sizeRaw = front, edges, v
	l.tree.Store(tree)
	l.mu.Lock()
	l.setIntegrated(size)
	if cp != nil {
		l.cpSize, l.cpTime, l.cpText = cpSize, cpTime, cp
	} else if l.cpTime.IsZero() {
		l.cpTime = l.o.Now()
	}
	l.mu.Unlock()
	return nil
}

// setIntegrated records the stored tree size and forgets the local
// reservations below it; under mu.
func (l *Log) setIntegrated(size uint64) {
	if size < l.integrated {
		return
	}
	l.integrated = size
	for first, p := range l.pend {
		if first+uint64(len(p.entries)) <= size {
			delete(l.pend, first)
			p.gone = true
			l.outstanding -= len(p.entries)
			if p.state != stateReserved {
				l.ready -= len(p.entries)
			}
		}
	}
	if l.next < size && l.next < l.limit {
		// Others voided our block: give up the rest of it.
		l.voidRest()
	}
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
		l.retry.Stop()
	}
	ctx := context.Background()
	l.release(ctx)
	err := l.pass(ctx, true, false)
	l.publishNow(ctx)
	l.waitPublished()
	return err
}

// Voids returns how many void entries this process has written or
// scheduled: indexes it gave up (the unused rest of a block another
// process leased past) or found missing past VoidGrace (a node died
// between reserving and writing them). A clean shutdown adds none.
func (l *Log) Voids() uint64 { return l.voids.Load() }

// Origin returns the log's name in checkpoints.
func (l *Log) Origin() string { return l.o.Origin }

// Hash returns the hash of the log's tree (leaf and node hashes, and the
// alg line of its checkpoints): Options.Hash, or the one of the last
// Rehash.
func (l *Log) Hash() suite.Hash { return l.tree.Load().h }

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
