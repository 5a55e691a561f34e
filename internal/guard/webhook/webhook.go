// Package webhook sends guard alerts to HTTP endpoints as JSON, with
// retries and backoff, off the request path: Send queues and returns at
// once. It lives apart from package guard so that the guard does not
// import net/http.
//
// Delivery is at least once while the process runs: a queue full of
// undelivered alerts drops the newest (counted in Dropped), and a crash
// loses the queue. Alerts are stored by the guard either way (GET
// /v1/alerts), so a receiver that missed some can catch up from there.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
)

// Options configure New.
type Options struct {
	// Hooks are the endpoints, from the policy.
	Hooks []policy.Webhook
	// Client sends the requests; nil means a client with a 10s timeout.
	Client *http.Client
	// Backoff is the wait before the first retry, doubled for each next
	// one (at most a minute); zero means one second.
	Backoff time.Duration
	// Queue is how many alerts may wait; zero means 1024.
	Queue  int
	Logger *slog.Logger
}

// Sender delivers alerts to every hook. It is safe for concurrent use.
type Sender struct {
	hooks   []policy.Webhook
	client  *http.Client
	backoff time.Duration
	log     *slog.Logger
	queue   chan guard.Alert
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	dropped atomic.Int64
}

// New starts a Sender.
func New(o Options) *Sender {
	s := &Sender{hooks: o.Hooks, client: o.Client, backoff: o.Backoff, log: o.Logger, stop: make(chan struct{})}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.backoff <= 0 {
		s.backoff = time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	n := o.Queue
	if n <= 0 {
		n = 1024
	}
	s.queue = make(chan guard.Alert, n)
	s.wg.Add(1)
	go s.run()
	return s
}

// Send queues a for every hook; it never blocks. Use it as (part of) the
// guard's OnAlert.
func (s *Sender) Send(a guard.Alert) {
	if len(s.hooks) == 0 {
		return
	}
	select {
	case s.queue <- a:
	default:
		s.dropped.Add(1)
		s.log.Error("webhook queue full; alert dropped", "alert", a.ID)
	}
}

// Dropped returns how many alerts a full queue dropped.
func (s *Sender) Dropped() int64 { return s.dropped.Load() }

// Close delivers what is queued until ctx ends, then stops.
func (s *Sender) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.queue) })
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		close(s.stop)
		<-done
		return ctx.Err()
	}
}

func (s *Sender) run() {
	defer s.wg.Done()
	for a := range s.queue {
		body, err := json.Marshal(a)
		if err != nil {
			continue
		}
		for _, h := range s.hooks {
			if err := s.deliver(h, a.ID, body); err != nil {
				s.log.Error("webhook delivery failed", "alert", a.ID, "url", h.URL, "err", err)
			}
		}
	}
}

// errPermanent marks a response that retrying will not change.
var errPermanent = errors.New("webhook: refused")

// deliver posts body to h, retrying failures and 429/5xx answers.
func (s *Sender) deliver(h policy.Webhook, id string, body []byte) error {
	wait := s.backoff
	var err error
	for attempt := 0; attempt <= h.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(wait):
			case <-s.stop:
				return fmt.Errorf("stopped after %d attempts: %w", attempt, err)
			}
			wait = min(2*wait, time.Minute)
		}
		if err = s.post(h.URL, id, body); err == nil || errors.Is(err, errPermanent) {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", h.Retries+1, err)
}

func (s *Sender) post(url, id string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	// Receivers deduplicate retried deliveries by this key.
	req.Header.Set("Idempotency-Key", id)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return fmt.Errorf("%w: status %d", errPermanent, resp.StatusCode)
}
