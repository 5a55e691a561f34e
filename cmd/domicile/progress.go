package main

import (
	"fmt"
	"sync"
)

// progress shows how long work advances, on a terminal only: scripts get
// quiet output.
type progress struct {
	e     *env
	label string
	mu    sync.Mutex
	shown bool
}

func newProgress(e *env, label string) *progress { return &progress{e: e, label: label} }

func (p *progress) update(done, total int) {
	if !p.e.isTerminal {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := 0
	if total > 0 {
		pct = done * 100 / total
	}
	fmt.Fprintf(p.e.stderr, "\r%s: %d/%d (%d%%)", p.label, done, total, pct)
	p.shown = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprintln(p.e.stderr)
		p.shown = false
	}
}
