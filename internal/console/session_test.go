package console

import (
	"strings"
	"testing"
	"time"
)

func TestSessionSealOpen(t *testing.T) {
	k, err := newSessionKeys()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	v := k.seal("dmc_token", at)
	if strings.Contains(v, "dmc_token") {
		t.Fatal("the sealed cookie shows the token")
	}
	tok, got, err := k.open(v)
	if err != nil || tok != "dmc_token" || !got.Equal(at) {
		t.Fatalf("open = %q, %v, %v; want the token and its time", tok, got, err)
	}
	other, _ := newSessionKeys()
	tests := []struct {
		name string
		keys *sessionKeys
		v    string
	}{
		{"fail/other-process", other, v},
		{"fail/flipped", k, flip(v)},
		{"fail/truncated", k, v[:len(v)-4]},
		{"fail/empty", k, ""},
		{"fail/not-base64", k, "!!!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := tt.keys.open(tt.v); err == nil {
				t.Fatal("a bad cookie opened")
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestCSRF(t *testing.T) {
	k, _ := newSessionKeys()
	a, b := k.seal("x", time.Now()), k.seal("x", time.Now())
	tests := []struct {
		name   string
		cookie string
		token  string
		ok     bool
	}{
		{"ok/own", a, k.csrf(a), true},
		{"fail/other-session", a, k.csrf(b), false},
		{"fail/empty", a, "", false},
		{"fail/garbage", a, "abc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := k.checkCSRF(tt.cookie, tt.token); got != tt.ok {
				t.Fatalf("checkCSRF = %v, want %v", got, tt.ok)
			}
		})
	}
}

// FuzzSessionOpen: no cookie value panics, and only a value this process
// sealed opens.
func FuzzSessionOpen(f *testing.F) {
	k, err := newSessionKeys()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.seal("dmc_abc", time.Now()))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		tok, _, err := k.open(v)
		if err != nil {
			return
		}
		if k.seal(tok, time.Now()) == v {
			t.Fatal("sealing is not randomised")
		}
	})
}
