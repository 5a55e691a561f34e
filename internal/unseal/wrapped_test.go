package unseal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseWrapped(t *testing.T) {
	good := wrapped{label: "region-cn-north", nonce: bytes.Repeat([]byte{1}, gcmNonce), sealed: bytes.Repeat([]byte{2}, gcmTag+5)}.marshal()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"ok/as-written", string(good), true},
		{"ok/no-newline", strings.TrimSpace(string(good)), true},
		{"fail/passphrase", "correct horse battery staple", false},
		{"fail/parts", "dmw1.YQ.AQ", false},
		{"fail/short-nonce", "dmw1.YQ.AQ.AgICAgICAgICAgICAgICAgICAgI", false},
		{"fail/padding", strings.Replace(string(good), ".", "=.", 1), false},
		{"fail/empty-label", "dmw1..AQEBAQEBAQEBAQEB.AgICAgICAgICAgICAgICAgICAgI", false},
		{"fail/tag-only", "dmw1.YQ.AQEBAQEBAQEBAQEB.AgICAgICAgICAgICAgICAg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := parseWrapped([]byte(tt.in))
			if !tt.ok {
				if !errors.Is(err, ErrWrappedFormat) {
					t.Fatalf("got %v, want ErrWrappedFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w.marshal(), good) {
				t.Fatalf("re-encoded %q", w.marshal())
			}
		})
	}
}

func FuzzParseWrapped(f *testing.F) {
	f.Add([]byte(wrapped{label: "k", nonce: make([]byte, gcmNonce), sealed: make([]byte, gcmTag+1)}.marshal()))
	f.Add([]byte("dmw1..."))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := parseWrapped(b)
		if err != nil {
			return
		}
		// Non-malleable: one spelling, up to surrounding space.
		if got, want := strings.TrimSpace(string(w.marshal())), strings.TrimSpace(string(b)); got != want {
			t.Fatalf("re-encoded %q, parsed %q", got, want)
		}
	})
}
