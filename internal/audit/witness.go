package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/store"
)

// WitnessTimeout bounds one publication of a checkpoint to the log's
// witnesses (all of them, in parallel), cosignatures stored included.
const WitnessTimeout = 10 * time.Second

// ProofFunc returns the consistency proof from the tree of size old to
// the tree of the checkpoint being published (see Log.ConsistencyProof).
type ProofFunc = func(ctx context.Context, old uint64) ([][]byte, error)

// Witness receives every new signed checkpoint, so that a copy of the
// log's history lives outside the region's store: an attacker who rewrites
// the store cannot rewrite what a witness holds. A witness that checks
// consistency (c2sp.org/tlog-witness) asks proof for the consistency
// proof from the size it saw last, and may answer with cosignature lines
// ("— <name> <base64>\n" each, c2sp.org/tlog-cosignature), which the log
// adds to its stored copy of cp. Publish must not keep cp. One Witness
// value serves one log.
type Witness interface {
	Publish(ctx context.Context, cp []byte, proof ProofFunc) (cosignatures []byte, err error)
}

// Witnesses publishes to several witnesses in parallel: the cosignature
// lines of those that answered, concatenated in order, and the errors of
// the others, joined.
type Witnesses []Witness

// Publish publishes cp to every witness.
//
// Errors: each failed witness's error, joined (lines may come with them).
func (ws Witnesses) Publish(ctx context.Context, cp []byte, proof ProofFunc) ([]byte, error) {
	lines := make([][]byte, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines[i], errs[i] = w.Publish(ctx, cp, proof)
		}()
	}
	wg.Wait()
	return bytes.Join(lines, nil), errors.Join(errs...)
}

// FileWitness appends each checkpoint to a file and syncs it. The file is
// the concatenation of signed checkpoints, oldest first (each ends with a
// newline; consecutive ones are separated by their signature lines).
type FileWitness struct {
	path string
	mu   sync.Mutex
}

// NewFileWitness returns a witness appending to the file at path (created
// with mode 0600 if absent).
func NewFileWitness(path string) *FileWitness { return &FileWitness{path: path} }

// Publish appends cp to the file and syncs it. It returns no cosignatures.
//
// Errors: the file system's, wrapped.
func (w *FileWitness) Publish(_ context.Context, cp []byte, _ ProofFunc) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: file witness: %w", err)
	}
	if _, err := f.Write(cp); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: file witness: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: file witness: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("audit: file witness: %w", err)
	}
	return nil, nil
}

// publisher hands the log's new checkpoints to its witness, one
// publication at a time and in order: the checkpoint an integration pass
// signed waits in next until the pass's caller publishes it (Sync,
// Checkpoint and Close, at once) or a background worker does (the
// integrator and Open, so that a slow witness never holds integration up).
type publisher struct {
	mu      sync.Mutex
	next    []byte // the latest signed checkpoint not yet handed to the witness
	running bool   // a background worker is on its way
	wg      sync.WaitGroup

	send sync.Mutex // held while publishing: the witness sees checkpoints in order
}

// queue records cp (just signed and stored) as the next to publish; a
// newer checkpoint replaces an older one not published yet.
func (l *Log) queue(cp []byte) {
	if l.o.Witness == nil {
		return
	}
	l.pub.mu.Lock()
	l.pub.next = cp
	l.pub.mu.Unlock()
}

func (l *Log) takeNext() []byte {
	l.pub.mu.Lock()
	defer l.pub.mu.Unlock()
	cp := l.pub.next
	l.pub.next = nil
	return cp
}

// publishNow publishes the queued checkpoint, if any, before returning;
// a publication in progress finishes first.
func (l *Log) publishNow(ctx context.Context) {
	if l.o.Witness == nil {
		return
	}
	l.pub.send.Lock()
	defer l.pub.send.Unlock()
	if cp := l.takeNext(); cp != nil {
		l.publish(ctx, cp)
	}
}

// publishLater publishes the queued checkpoints in a background worker.
func (l *Log) publishLater() {
	if l.o.Witness == nil {
		return
	}
	l.pub.mu.Lock()
	defer l.pub.mu.Unlock()
	if l.pub.next == nil || l.pub.running {
		return
	}
	l.pub.running = true
	l.pub.wg.Add(1)
	go func() {
		defer l.pub.wg.Done()
		for {
			l.pub.send.Lock()
			cp := l.takeNext()
			if cp == nil {
				l.pub.mu.Lock()
				l.pub.running = false
				l.pub.mu.Unlock()
				l.pub.send.Unlock()
				return
			}
			l.publish(context.Background(), cp)
			l.pub.send.Unlock()
		}
	}()
}

// waitPublished waits for the background worker to finish.
func (l *Log) waitPublished() { l.pub.wg.Wait() }

// publish sends cp to the witness, within WitnessTimeout, and stores the
// cosignatures it returns. Errors go to Logf: the next checkpoint is
// published anyway, from the size the witness last cosigned.
func (l *Log) publish(ctx context.Context, cp []byte) {
	ctx, cancel := context.WithTimeout(ctx, WitnessTimeout)
	defer cancel()
	s, err := checkpoint.Parse(cp)
	if err != nil {
		l.o.Logf("audit: witness: %v", err)
		return
	}
	proof := func(ctx context.Context, old uint64) ([][]byte, error) { return l.ConsistencyProof(ctx, old, s.Size) }
	lines, err := l.o.Witness.Publish(ctx, cp, proof)
	if err != nil {
		l.o.Logf("audit: witness: checkpoint at size %d: %v", s.Size, err)
	}
	if len(lines) == 0 {
		return
	}
	if err := l.addCosignatures(ctx, cp, s.Size, lines); err != nil {
		l.o.Logf("audit: witness: storing cosignatures of the checkpoint at size %d: %v", s.Size, err)
	}
}

// addCosignatures adds the cosignature lines to the stored checkpoint of
// the given size (a/c/<size>) and, while it is the latest, to
// a/m/checkpoint, by compare-and-set: cosignatures another node stored
// meanwhile are kept.
func (l *Log) addCosignatures(ctx context.Context, cp []byte, size uint64, lines []byte) error {
	want, err := checkpoint.Parse(cp)
	if err != nil {
		return err
	}
	key := checkpointKey(size)
	for attempt := 0; ; attempt++ {
		old, err := l.st.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("reading it: %w", err)
		}
		have, err := checkpoint.Parse(old)
		if err != nil {
			return fmt.Errorf("%w: stored checkpoint at size %d: %v", ErrCorrupt, size, err)
		}
		if !bytes.Equal(have.Body(), want.Body()) {
			return fmt.Errorf("the stored checkpoint at size %d is not the one published", size)
		}
		merged, err := checkpoint.AddCosignatures(old, lines)
		if err != nil {
			return err
		}
		if bytes.Equal(merged, old) {
			return nil // all there already
		}
		latest, err := l.st.Get(ctx, keyLatest)
		if err != nil {
			return fmt.Errorf("reading the latest checkpoint: %w", err)
		}
		var b store.Batch
		b.Expect(key, old)
		b.Put(key, merged)
		isLatest := bytes.Equal(latest, old)
		if isLatest {
			b.Expect(keyLatest, old)
			b.Put(keyLatest, merged)
		}
		err = l.st.Apply(ctx, &b)
		if errors.Is(err, store.ErrConflict) && attempt < 8 {
			continue // another node changed them: merge again
		}
		if err != nil {
			return fmt.Errorf("writing it: %w", err)
		}
		if isLatest {
			l.mu.Lock()
			if l.cpSize == size { // one checkpoint per size: this one
				l.cpText = merged
			}
			l.mu.Unlock()
		}
		return nil
	}
}
