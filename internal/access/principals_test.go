package access

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"slices"
	"testing"
	"time"

	"github.com/domicile/domicile/examples"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store/memstore"
)

// clock is a settable time source shared by the directories of a test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// twoNodes returns two directories over one store, as two stateless nodes
// of a region sharing PostgreSQL would be.
func twoNodes(t *testing.T) (a, b *Directory, c *clock) {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	key := []byte("token-authentication-key-of-test")
	newMAC := func() hash.Hash { return hmac.New(sha256.New, key) }
	c = &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	return NewDirectory(st, pol, newMAC, c.now), NewDirectory(st, pol, newMAC, c.now), c
}

func TestAuthenticateCache(t *testing.T) {
	ctx := context.Background()
	acct := Account{ID: "agent", Kind: "person", Roles: []string{"support"}, Location: "US"}

	t.Run("own changes take effect at once", func(t *testing.T) {
		a, _, _ := twoNodes(t)
		tok := NewToken()
		if _, err := a.Create(ctx, acct, tok, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := a.SetState(ctx, "agent", Locked); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrLocked) {
			t.Fatalf("after lock: %v, want ErrLocked", err)
		}
		if _, err := a.SetState(ctx, "agent", Active); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		newTok := NewToken()
		if _, err := a.RotateToken(ctx, "agent", newTok, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("old token after rotation: %v, want ErrUnauthenticated", err)
		}
		if _, err := a.Authenticate(ctx, newTok); err != nil {
			t.Fatalf("new token: %v", err)
		}
	})

	t.Run("another node's change within the TTL", func(t *testing.T) {
		a, b, c := twoNodes(t)
		tok := NewToken()
		if _, err := a.Create(ctx, acct, tok, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := b.SetState(ctx, "agent", Disabled); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(AuthCacheTTL - time.Millisecond)
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatalf("within the TTL the remembered answer stands: %v", err)
		}
		c.t = c.t.Add(time.Millisecond)
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("after the TTL: %v, want ErrUnauthenticated", err)
		}
	})

	t.Run("expiry is checked on every request", func(t *testing.T) {
		a, _, c := twoNodes(t)
		tok := NewToken()
		if _, err := a.Create(ctx, acct, tok, c.t.Add(AuthCacheTTL/2)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(AuthCacheTTL / 2)
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("expired token from the cache: %v, want ErrUnauthenticated", err)
		}
	})

	t.Run("failures are not remembered", func(t *testing.T) {
		a, b, _ := twoNodes(t)
		tok := NewToken()
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("unknown token: %v", err)
		}
		if _, err := b.Create(ctx, acct, tok, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatalf("token created on another node: %v", err)
		}
	})
}

// TestAuthCacheRace checks the rule that closes the race between an
// Authenticate reading an account and a change being written: what was
// read before a reset is not remembered after it.
func TestAuthCacheRace(t *testing.T) {
	var c authCache
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	mac := []byte("mac")
	_, _, epoch := c.get(mac, now) // Authenticate misses and reads the store...
	c.reset()                      // ...while a lock is written
	c.put(mac, &Account{ID: "agent", State: Active}, now, epoch)
	if _, ok, _ := c.get(mac, now); ok {
		t.Fatal("an account read before a reset was remembered after it")
	}
	_, _, epoch = c.get(mac, now)
	c.put(mac, &Account{ID: "agent", State: Active}, now, epoch)
	if _, ok, _ := c.get(mac, now); !ok {
		t.Fatal("an account read with no reset in between was not remembered")
	}
}

// TestRotateTokenRepeat: repeating a rotation that a region applied
// already (the gateway tells callers to repeat one that reached only some
// regions) changes nothing, with or without an overlap: the token is not
// held twice, and no older token is pushed out or revoked.
func TestRotateTokenRepeat(t *testing.T) {
	ctx := context.Background()
	acct := Account{ID: "svc", Kind: "service", Roles: []string{"support"}, Location: "US"}
	macs := func(a *Account) []string {
		var out []string
		for _, t := range a.Tokens {
			out = append(out, string(t.MAC))
		}
		return out
	}
	for _, overlap := range []time.Duration{time.Hour, 0} {
		d, _, c := twoNodes(t)
		toks := []string{NewToken()}
		if _, err := d.Create(ctx, acct, toks[0], time.Time{}); err != nil {
			t.Fatal(err)
		}
		// MaxTokens-1 rotations with an overlap: MaxTokens tokens held.
		var last *Account
		for range MaxTokens - 1 {
			c.t = c.t.Add(time.Minute)
			tok := NewToken()
			toks = append(toks, tok)
			a, err := d.RotateTokenOverlap(ctx, "svc", tok, time.Time{}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			last = a
		}
		if len(last.Tokens) != MaxTokens {
			t.Fatalf("tokens held: %d", len(last.Tokens))
		}
		// The last rotation again.
		c.t = c.t.Add(time.Minute)
		again, err := d.RotateTokenOverlap(ctx, "svc", toks[len(toks)-1], time.Time{}, overlap)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := d.Get(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []*Account{again, stored} {
			if got, want := macs(a), macs(last); !slices.Equal(got, want) {
				t.Fatalf("overlap %v: repeat changed the tokens from %d to %d", overlap, len(want), len(got))
			}
		}
		for i, tok := range toks {
			if _, err := d.Authenticate(ctx, tok); err != nil {
				t.Fatalf("overlap %v: token %d after the repeat: %v", overlap, i, err)
			}
		}
	}
}

// BenchmarkAuthenticate authenticates one token again and again, as every
// request of a client does: its MAC, then the cache.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	pol, err := policy.Parse("policy.yaml", examples.Policy)
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("token-authentication-key-of-test")
	d := NewDirectory(memstore.New(), pol, func() hash.Hash { return hmac.New(sha256.New, key) }, nil)
	tok := NewToken()
	if _, err := d.Create(ctx, Account{ID: "agent", Kind: "service", Roles: []string{"support"}, Location: "US"}, tok, time.Time{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
