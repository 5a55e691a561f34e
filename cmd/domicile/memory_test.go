package main

import "testing"

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64MiB", 64 << 20, true},
		{"64M", 64 << 20, true},
		{"1GiB", 1 << 30, true},
		{"512 KiB", 512 << 10, true},
		{"1048576", 1 << 20, true},
		{"10B", 10, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"1.5GiB", 0, false},
		{"64MB", 0, false},
		{"9999999999GiB", 0, false},
	} {
		got, err := parseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	var b byteSize = 64 << 20
	if b.String() != "64MiB" {
		t.Errorf("String() = %q, want 64MiB", b.String())
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"64MiB", "1G", "12", "", "1.5K"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseByteSize(%q) = %d, negative", s, n)
		}
	})
}
