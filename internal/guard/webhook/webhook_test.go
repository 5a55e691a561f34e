package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/policy"
)

func TestRetriesThenDelivers(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	var got guard.Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Idempotency-Key") != "a1" {
			t.Errorf("Idempotency-Key = %q", r.Header.Get("Idempotency-Key"))
		}
		json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	s := New(Options{Hooks: []policy.Webhook{{URL: srv.URL, Retries: 3}}, Backoff: time.Millisecond})
	s.Send(guard.Alert{ID: "a1", Rule: "bulk-read", Principal: "p"})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 3 || got.Rule != "bulk-read" {
		t.Errorf("calls = %d, got %+v", calls, got)
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	s := New(Options{Hooks: []policy.Webhook{{URL: srv.URL, Retries: 5}}, Backoff: time.Millisecond})
	s.Send(guard.Alert{ID: "a1"})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("calls = %d, want 1", calls)
	}
}

func TestQueueFullDrops(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	s := New(Options{Hooks: []policy.Webhook{{URL: srv.URL}}, Queue: 1})
	for range 5 {
		s.Send(guard.Alert{ID: "a"})
	}
	if s.Dropped() < 3 {
		t.Errorf("Dropped = %d", s.Dropped())
	}
	close(block)
	s.Close(context.Background())
}
