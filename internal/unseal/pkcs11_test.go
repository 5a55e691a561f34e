//go:build cgo

package unseal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openHSM(t *testing.T, u PKCS11URI, create bool) (*HSM, error) {
	t.Helper()
	pin, err := u.ReadPIN(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenHSM(u, pin, create)
	clear(pin)
	if err == nil {
		t.Cleanup(func() { _ = h.Close() })
	}
	return h, err
}

func TestPKCS11RoundTrip(t *testing.T) {
	th := softHSM(t)
	secret := []byte("the unseal secret of cn-north")
	h, err := openHSM(t, th.uri("region-cn-north"), true)
	if err != nil {
		t.Fatal(err)
	}
	file, err := h.Wrap(secret, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, secret) {
		t.Fatal("the wrapped file holds the secret in clear")
	}
	if label, err := WrappedKeyLabel(file); err != nil || label != "region-cn-north" {
		t.Fatalf("WrappedKeyLabel = %q, %v", label, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	// A new session, as `serve` starts one: the key is found by label.
	h2, err := openHSM(t, th.uri("region-cn-north"), false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h2.Unwrap(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, secret) {
		t.Fatal("unwrapped another secret")
	}

	// Altered: one opaque error.
	w, _ := parseWrapped(file)
	w.sealed[0] ^= 1
	if _, err := h2.Unwrap(w.marshal()); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("altered file: got %v, want ErrUnwrap", err)
	}
	if _, err := h2.Unwrap([]byte("passphrase")); !errors.Is(err, ErrWrappedFormat) {
		t.Fatalf("not a wrapped file: got %v, want ErrWrappedFormat", err)
	}

	// Another key of the same token does not open it, even with the
	// file's label rewritten.
	other, err := openHSM(t, th.uri("region-eu-central"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unwrap(file); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other key: got %v, want ErrUnwrap", err)
	}
	w, _ = parseWrapped(file)
	w.label = "region-eu-central"
	if _, err := other.Unwrap(w.marshal()); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other key, relabelled file: got %v, want ErrUnwrap", err)
	}

	// --create-key never makes a second key of one label.
	if _, err := openHSM(t, th.uri("region-cn-north"), true); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("creating an existing key: got %v, want ErrKeyExists", err)
	}
}

func TestPKCS11Errors(t *testing.T) {
	th := softHSM(t)
	h, err := openHSM(t, th.uri("region-cn-north"), true)
	if err != nil {
		t.Fatal(err)
	}
	// PKCS#11 logs in per process: while h is open, any PIN would do.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrongPIN := filepath.Join(dir, "wrong-pin")
	if err := os.WriteFile(wrongPIN, []byte("9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notLib := filepath.Join(dir, "libnothing.so")
	if err := os.WriteFile(notLib, []byte("not a library"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(u *PKCS11URI)
		want error
		says string
	}{
		{"fail/wrong-pin", func(u *PKCS11URI) { u.PINFile = wrongPIN }, ErrWrongPIN, `token "domicile-test"`},
		{"fail/missing-token", func(u *PKCS11URI) { u.Token = "no-such-token" }, ErrTokenNotFound, `"no-such-token"`},
		{"fail/missing-key", func(u *PKCS11URI) { u.Key = "region-nowhere" }, ErrKeyNotFound, `"region-nowhere"`},
		{"fail/module-not-found", func(u *PKCS11URI) { u.Module = filepath.Join(dir, "libmissing.so") }, ErrModuleNotFound, "libmissing.so does not exist"},
		{"fail/module-not-a-library", func(u *PKCS11URI) { u.Module = notLib }, ErrModuleNotFound, "not a loadable"},
		{"fail/module-is-a-directory", func(u *PKCS11URI) { u.Module = dir }, ErrModuleNotFound, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := th.uri("region-cn-north")
			tt.edit(&u)
			_, err := openHSM(t, u, false)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("%q does not say %q", err, tt.says)
			}
			if strings.Contains(err.Error(), "4321") || strings.Contains(err.Error(), "9999") {
				t.Fatalf("%q shows a PIN", err)
			}
		})
	}
}
