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
	if total <= 0 { // a count with no known end
		fmt.Fprintf(p.e.stderr, "\r%s: %d", p.label, done)
	} else {
		fmt.Fprintf(p.e.stderr, "\r%s: %d/%d (%d%%)", p.label, done, total, done*100/total)
	}
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
