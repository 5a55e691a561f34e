package keyring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

// The rewrap job moves every subject key (DEK) still wrapped under an older
// data KEK version to the current one, a page at a time, in the background
// of whichever node of the region holds its lease. It is persisted in the
// region's store, in clear (it holds no key material and no subject id;
// its cursor is a store key, whose subject part is a keyed MAC):
//
//	k/job/rewrap         the job: state, options, cursor, counts, times
//	k/job/rewrap.lease   the lease: node, instance, expiry
//
// Each page of rewraps is committed in one batch with the job's new
// progress and an Expect that the lease still holds what this node wrote:
// a node that lost its lease (paused too long, partitioned) cannot commit,
// and a crash loses at most the page in flight, which is redone. Every node
// of the region watches the job and takes over an unfinished one whose
// lease expired; a restarted node resumes it the same way.
//
// A suite migration's job (StartMigration) is the rewrap job followed by
// the migration passes other packages register (SetMigrationPasses): the
// records, then the token entries, each re-sealed under the new suite a
// page at a time, with the same lease, cursor and progress.
const (
	keyRewrapJob   = "k/job/rewrap"
	keyRewrapLease = "k/job/rewrap.lease"
)

// JobState is the state of the rewrap job.
type JobState string

// Rewrap job states.
const (
	// JobRunning: a node holds the job's lease and works on it.
	JobRunning JobState = "running"
	// JobPaused: the job is unfinished and no node holds a live lease (its
	// node stopped); a node of the region takes it over within the lease
	// time, or when it starts.
	JobPaused JobState = "paused"
	// JobDone: every DEK seen was under the current version.
	JobDone JobState = "done"
	// JobFailed: the job stopped on an error it cannot get past (Error
	// says which); start it again once that is fixed.
	JobFailed JobState = "failed"
)

// Limits and defaults of RewrapOptions.
const (
	DefaultRewrapBatch = 256
	MaxRewrapBatch     = 10000
	MaxRewrapPause     = time.Minute
	defaultJobLease    = 8 * time.Second
	jobMaxFailures     = 5
)

// RewrapOptions throttle the rewrap job so that it does not starve the
// region's writes.
type RewrapOptions struct {
	// Batch is how many stored entries one page scans (and at most
	// rewraps, in one atomic batch); 0 means DefaultRewrapBatch.
	Batch int
	// Pause is how long the job waits after each page that rewrapped
	// something.
	Pause time.Duration
}

// Validate checks the options' ranges.
func (o RewrapOptions) Validate() error {
	switch {
	case o.Batch < 0 || o.Batch > MaxRewrapBatch:
		return fmt.Errorf("keyring: rewrap batch must be 1 to %d", MaxRewrapBatch)
	case o.Pause < 0 || o.Pause > MaxRewrapPause:
		return fmt.Errorf("keyring: rewrap pause must be 0 to %s", MaxRewrapPause)
	}
	return nil
}

// RewrapJob describes the region's rewrap job. It holds no key material.
type RewrapJob struct {
	ID    string
	State JobState
	// Target is the current data version when the job started; DEKs go
	// to whatever version is current when their page is done.
	Target uint32
	// Done is how many DEKs the job rewrapped; Total is how many were
	// under older versions when it started (from counters, an estimate).
	Done, Total int64
	Options     RewrapOptions
	Started     time.Time
	Updated     time.Time
	Finished    time.Time // zero until done or failed
	// Node is the node running the job, or the last one that did.
	Node  string
	Error string // why it failed, or the last error it retried
	// Suite is the suite a migration job moves the region's data to; ""
	// for a rewrap job.
	Suite string
	// Phase is "keys" while the job rewraps subject keys, then the name
	// of the migration pass it is in.
	Phase string
	// Resealed is how many items (records, token entries) the migration
	// passes sealed again under Suite.
	Resealed int64
}

// jobRecord is the stored form of the job.
type jobRecord struct {
	ID       string    `json:"id"`
	State    JobState  `json:"state"`
	Target   uint32    `json:"target"`
	Cursor   []byte    `json:"cursor,omitempty"`
	Done     int64     `json:"done"`
	Total    int64     `json:"total"`
	Batch    int       `json:"batch"`
	PauseMS  int64     `json:"pause_ms"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Finished time.Time `json:"finished,omitzero"`
	Node     string    `json:"node,omitempty"`
	Error    string    `json:"error,omitempty"`
	Suite    string    `json:"suite,omitempty"`
	Phase    string    `json:"phase,omitempty"` // "": keys
	Resealed int64     `json:"resealed,omitempty"`
}

// leaseRecord is the stored form of the job's lease.
type leaseRecord struct {
	Node     string    `json:"node"`
	Instance string    `json:"instance"`
	Expires  time.Time `json:"expires"`
}

// jobRunner runs the rewrap job on this node.
type jobRunner struct {
	node     string
	instance string // this process's own, so that a restart is another holder
	ttl      time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	passes atomic.Pointer[[]MigrationPass] // SetMigrationPasses
}

func newJobRunner(node string, ttl time.Duration) *jobRunner {
	if node == "" {
		host, _ := os.Hostname()
		node = host + ":" + strconv.Itoa(os.Getpid())
	}
	if ttl <= 0 {
		ttl = defaultJobLease
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	ctx, cancel := context.WithCancel(context.Background())
	return &jobRunner{node: node, instance: hex.EncodeToString(id[:]), ttl: ttl, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1)}
}

// close stops the runner and waits for it.
func (j *jobRunner) close() {
	j.cancel()
	j.wg.Wait()
}

// ResumeJobs starts this node's watcher of the rewrap job, once: it resumes
// an unfinished job at once if no live lease holds it, and takes it over
// whenever its lease expires. Close stops it. Nodes that share a store all
// call it; one of them runs the job at a time.
func (k *Keyring) ResumeJobs() {
	if k.closed.Load() {
		return
	}
	j := k.jobs
	j.once.Do(func() {
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			k.watchJob(j)
		}()
	})
}

func (k *Keyring) watchJob(j *jobRunner) {
	t := time.NewTicker(j.ttl / 2)
	defer t.Stop()
	for {
		k.runJob(j)
		select {
		case <-j.ctx.Done():
			return
		case <-j.kick:
		case <-t.C:
		}
	}
}

// readJob returns the stored job and its bytes, or nil when there is none.
func (k *Keyring) readJob(ctx context.Context) (*jobRecord, []byte, error) {
	raw, err := k.st.Get(ctx, []byte(keyRewrapJob))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keyring: region %s: reading the rewrap job: %w", k.region, err)
	}
	var rec jobRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, nil, fmt.Errorf("keyring: region %s: the rewrap job record is corrupt: %v", k.region, err)
	}
	return &rec, raw, nil
}

// readLease returns the stored lease and its bytes, or nil when there is
// none.
func (k *Keyring) readLease(ctx context.Context) (*leaseRecord, []byte, error) {
	raw, err := k.st.Get(ctx, []byte(keyRewrapLease))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keyring: region %s: reading the rewrap lease: %w", k.region, err)
	}
	var l leaseRecord
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, raw, nil // corrupt: treat as expired, replace it
	}
	return &l, raw, nil
}

// StartRewrap starts the rewrap job with o, committing its record with
// apply (nil: the store's Apply), which may add its own writes (an audit
// entry), and returns it with started true. If a job is already
// unfinished it starts nothing and returns that job with started false.
// The job runs in the background on this node (or another one of the
// region that holds its lease); RewrapStatus follows it.
func (k *Keyring) StartRewrap(ctx context.Context, o RewrapOptions, apply func(b *store.Batch) error) (job RewrapJob, started bool, err error) {
	return k.startJob(ctx, o, apply, "")
}

// StartMigration starts the job that moves the region's data to its
// current suite after Migrate: the rewrap job, then every migration pass
// (SetMigrationPasses), as StartRewrap does. If a rewrap job is unfinished
// it becomes the migration's job, starting over from the first subject key
// (those it rewrapped went to a version that may no longer be current), and
// StartMigration returns it with started true.
func (k *Keyring) StartMigration(ctx context.Context, o RewrapOptions, apply func(b *store.Batch) error) (job RewrapJob, started bool, err error) {
	return k.startJob(ctx, o, apply, k.Suite().ID())
}

func (k *Keyring) startJob(ctx context.Context, o RewrapOptions, apply func(b *store.Batch) error, target suite.ID) (job RewrapJob, started bool, err error) {
	if err := o.Validate(); err != nil {
		return RewrapJob{}, false, err
	}
	if o.Batch == 0 {
		o.Batch = DefaultRewrapBatch
	}
	if k.closed.Load() {
		return RewrapJob{}, false, ErrClosed
	}
	r, err := k.refresh(ctx)
	if err != nil {
		return RewrapJob{}, false, err
	}
	cur := r.current[Data]
	for range 3 {
		old, oldRaw, err := k.readJob(ctx)
		if err != nil {
			return RewrapJob{}, false, err
		}
		if old != nil && old.State == JobRunning && (target == "" || old.Suite == string(target)) {
			j, err := k.RewrapStatus(ctx)
			return j, false, err
		}
		var total int64
		for v := range r.keks[Data] {
			if v == cur {
				continue
			}
			n, err := k.st.Counter(ctx, dekCounter(v))
			if err != nil {
				return RewrapJob{}, false, fmt.Errorf("keyring: region %s: reading counters: %w", k.region, err)
			}
			total += max(n, 0)
		}
		var id [8]byte
		if _, err := k.rand.Read(id[:]); err != nil {
			return RewrapJob{}, false, fmt.Errorf("keyring: region %s: job id: %w", k.region, err)
		}
		now := k.now().UTC().Truncate(time.Millisecond)
		rec := &jobRecord{ID: hex.EncodeToString(id[:]), State: JobRunning, Target: cur, Total: total, Batch: o.Batch,
			PauseMS: o.Pause.Milliseconds(), Started: now, Updated: now, Suite: string(target)}
		raw, err := json.Marshal(rec)
		if err != nil {
			return RewrapJob{}, false, fmt.Errorf("keyring: encoding the rewrap job: %v", err)
		}
		var b store.Batch
		b.Expect([]byte(keyRewrapJob), oldRaw)
		b.Put([]byte(keyRewrapJob), raw)
		if apply == nil {
			apply = func(b *store.Batch) error { return k.st.Apply(ctx, b) }
		}
		err = apply(&b)
		if errors.Is(err, store.ErrConflict) {
			continue // another node started one at the same moment: theirs
		}
		if err != nil {
			return RewrapJob{}, false, fmt.Errorf("keyring: region %s: starting the rewrap job: %w", k.region, err)
		}
		k.ResumeJobs()
		select {
		case k.jobs.kick <- struct{}{}:
		default:
		}
		return rec.view(JobRunning, ""), true, nil
	}
	return RewrapJob{}, false, fmt.Errorf("keyring: region %s: starting the rewrap job: %w", k.region, store.ErrConflict)
}

func (r *jobRecord) view(st JobState, node string) RewrapJob {
	if node == "" {
		node = r.Node
	}
	phase := r.Phase
	if phase == "" {
		phase = "keys"
	}
	return RewrapJob{ID: r.ID, State: st, Target: r.Target, Done: r.Done, Total: max(r.Total, r.Done),
		Options: RewrapOptions{Batch: r.Batch, Pause: time.Duration(r.PauseMS) * time.Millisecond},
		Started: r.Started, Updated: r.Updated, Finished: r.Finished, Node: node, Error: r.Error,
		Suite: r.Suite, Phase: phase, Resealed: r.Resealed}
}

// RewrapStatus returns the region's rewrap job, or an error wrapping
// store.ErrNotFound when none was ever started. An unfinished job that no
// node holds a live lease on is JobPaused.
func (k *Keyring) RewrapStatus(ctx context.Context) (RewrapJob, error) {
	if k.closed.Load() {
		return RewrapJob{}, ErrClosed
	}
	rec, _, err := k.readJob(ctx)
	if err != nil {
		return RewrapJob{}, err
	}
	if rec == nil {
		return RewrapJob{}, fmt.Errorf("keyring: region %s: no rewrap job: %w", k.region, store.ErrNotFound)
	}
	if rec.State != JobRunning {
		return rec.view(rec.State, ""), nil
	}
	l, _, err := k.readLease(ctx)
	if err != nil {
		return RewrapJob{}, err
	}
	if l == nil || !l.Expires.After(k.now()) {
		return rec.view(JobPaused, ""), nil
	}
	return rec.view(JobRunning, l.Node), nil
}

// acquire takes the job's lease if it is free, expired or this instance's
// own, and returns the bytes written, or nil when another node holds it.
func (k *Keyring) acquire(ctx context.Context, j *jobRunner) ([]byte, error) {
	l, old, err := k.readLease(ctx)
	if err != nil {
		return nil, err
	}
	if l != nil && l.Instance != j.instance && l.Expires.After(k.now()) {
		return nil, nil
	}
	return k.writeLease(ctx, j, old)
}

// writeLease replaces the lease holding old (nil: none) with one of this
// instance expiring a lease time from now. It returns nil bytes when the
// lease changed meanwhile (another node took it).
func (k *Keyring) writeLease(ctx context.Context, j *jobRunner, old []byte) ([]byte, error) {
	raw, err := json.Marshal(leaseRecord{Node: j.node, Instance: j.instance, Expires: k.now().Add(j.ttl).UTC()})
	if err != nil {
		return nil, fmt.Errorf("keyring: encoding the rewrap lease: %v", err)
	}
	var b store.Batch
	b.Expect([]byte(keyRewrapLease), old)
	b.Put([]byte(keyRewrapLease), raw)
	err = k.st.Apply(ctx, &b)
	if errors.Is(err, store.ErrConflict) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: writing the rewrap lease: %w", k.region, err)
	}
	return raw, nil
}

// runJob runs the job, if one is unfinished and this node gets its lease,
// until it ends, the lease is lost or the runner stops.
func (k *Keyring) runJob(j *jobRunner) {
	ctx := j.ctx
	rec, _, err := k.readJob(ctx)
	if err != nil || rec == nil || rec.State != JobRunning {
		return
	}
	lease, err := k.acquire(ctx, j)
	if err != nil || lease == nil {
		return
	}
	renewed := k.now()
	defer func() {
		// Let another node (or a restart) take over at once.
		var b store.Batch
		b.Expect([]byte(keyRewrapLease), lease)
		b.Delete([]byte(keyRewrapLease))
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = k.st.Apply(rctx, &b) // best effort: it expires anyway
	}()
	failures := 0
	for {
		rec, raw, err := k.readJob(ctx)
		if err != nil || rec == nil || rec.State != JobRunning {
			return
		}
		if k.now().Sub(renewed) > j.ttl/3 {
			next, err := k.writeLease(ctx, j, lease)
			if err != nil || next == nil {
				return // lost it (or cannot tell): stop; the holder goes on
			}
			lease, renewed = next, k.now()
		}
		// commit applies b with the job's progress: the next cursor, the
		// counts added, and at the end of a phase the next one.
		commit := func(b *store.Batch, cursor []byte, rewrapped, resealed int, end bool) error {
			next := *rec
			next.Cursor, next.Done, next.Resealed, next.Node, next.Error = cursor, rec.Done+int64(rewrapped), rec.Resealed+int64(resealed), j.node, ""
			next.Updated = k.now().UTC().Truncate(time.Millisecond)
			if end {
				next.Cursor = nil
				if next.Phase = k.nextPhase(rec); next.Phase == "" {
					next.State, next.Finished = JobDone, next.Updated
				}
			}
			nraw, err := json.Marshal(&next)
			if err != nil {
				return fmt.Errorf("keyring: encoding the rewrap job: %v", err)
			}
			b.Expect([]byte(keyRewrapLease), lease)
			b.Expect([]byte(keyRewrapJob), raw)
			b.Put([]byte(keyRewrapJob), nraw)
			return k.st.Apply(ctx, b)
		}
		var pr pageResult
		if rec.Phase == "" {
			pr, err = k.rewrapStep(ctx, rec.Cursor, rec.Batch, func(b *store.Batch, pr pageResult) error {
				return commit(b, pr.next, pr.rewrapped, 0, pr.end)
			})
		} else {
			pr, err = k.passStep(ctx, j, rec, commit)
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, store.ErrConflict):
			// The lease or the job changed under us: the next round
			// finds out which.
			lease2, _, lerr := k.readLease(ctx)
			if lerr != nil || lease2 == nil || lease2.Instance != j.instance {
				return
			}
			continue
		case err != nil:
			failures++
			if failures >= jobMaxFailures {
				k.failJob(ctx, lease, raw, rec, err)
				return
			}
			k.noteJobError(ctx, lease, raw, rec, err)
			if !sleep(ctx, time.Duration(failures)*time.Second) {
				return
			}
			continue
		}
		failures = 0
		if pr.end {
			return
		}
		if pr.rewrapped > 0 && rec.PauseMS > 0 {
			if !sleep(ctx, time.Duration(rec.PauseMS)*time.Millisecond) {
				return
			}
		}
	}
}

// noteJobError records the last error of a job that goes on.
func (k *Keyring) noteJobError(ctx context.Context, lease, raw []byte, rec *jobRecord, cause error) {
	next := *rec
	next.Error = cause.Error()
	k.putJob(ctx, lease, raw, &next)
}

// failJob marks the job failed with cause.
func (k *Keyring) failJob(ctx context.Context, lease, raw []byte, rec *jobRecord, cause error) {
	next := *rec
	next.State, next.Error = JobFailed, cause.Error()
	next.Finished = k.now().UTC().Truncate(time.Millisecond)
	k.putJob(ctx, lease, raw, &next)
}

func (k *Keyring) putJob(ctx context.Context, lease, raw []byte, rec *jobRecord) {
	rec.Updated = k.now().UTC().Truncate(time.Millisecond)
	nraw, err := json.Marshal(rec)
	if err != nil {
		return
	}
	var b store.Batch
	b.Expect([]byte(keyRewrapLease), lease)
	b.Expect([]byte(keyRewrapJob), raw)
	b.Put([]byte(keyRewrapJob), nraw)
	_ = k.st.Apply(ctx, &b) // best effort: the job is retried or taken over
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
