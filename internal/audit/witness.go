package audit

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// Witness receives every new signed checkpoint, so that a copy of the
// log's history lives outside the region's store: an attacker who rewrites
// the store cannot rewrite what a witness holds. Publish must not keep cp.
type Witness interface {
	Publish(ctx context.Context, cp []byte) error
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

// Publish appends cp to the file and syncs it.
//
// Errors: the file system's, wrapped.
func (w *FileWitness) Publish(_ context.Context, cp []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: file witness: %w", err)
	}
	if _, err := f.Write(cp); err != nil {
		f.Close()
		return fmt.Errorf("audit: file witness: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: file witness: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("audit: file witness: %w", err)
	}
	return nil
}
