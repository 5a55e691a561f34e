package access

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
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
