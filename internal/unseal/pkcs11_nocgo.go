//go:build !cgo

package unseal

import "io"

// HSM is a PKCS#11 token's AES key; without cgo there is none, and
// OpenHSM always fails with ErrNoPKCS11.
type HSM struct{}

// OpenHSM fails with ErrNoPKCS11: PKCS#11 needs cgo.
func OpenHSM(u PKCS11URI, pin []byte, create bool) (*HSM, error) { return nil, ErrNoPKCS11 }

// Wrap fails with ErrNoPKCS11.
func (h *HSM) Wrap(secret []byte, rand io.Reader) ([]byte, error) { return nil, ErrNoPKCS11 }

// Unwrap fails with ErrNoPKCS11.
func (h *HSM) Unwrap(b []byte) ([]byte, error) { return nil, ErrNoPKCS11 }

// Close does nothing.
func (h *HSM) Close() error { return nil }
