//go:build cgo

package unseal

import (
	"crypto/cipher"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// HSM is an open session with a PKCS#11 token and one of its AES keys,
// which wraps and unwraps unseal secrets with AES-GCM inside the token: the
// key never leaves it. Close it when done.
type HSM struct {
	ctx   *crypto11.Context
	aead  cipher.AEAD
	label string
}

// OpenHSM loads u's module, logs into its token with pin and finds the AES
// key labelled u.Key; with create, it makes that key (AES-256, sensitive,
// not extractable) and refuses if one exists. Errors wrap
// ErrModuleNotFound, ErrTokenNotFound, ErrWrongPIN, ErrPINLocked,
// ErrKeyNotFound, ErrKeyExists or ErrKeyUnusable, and never hold the PIN.
// PKCS#11 logs in once per process and token: while another HSM of the same
// token is open, the PIN is not checked again.
func OpenHSM(u PKCS11URI, pin []byte, create bool) (*HSM, error) {
	if st, err := os.Stat(u.Module); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrModuleNotFound, u.Module)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrModuleNotFound, u.Module, err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory, not the library", ErrModuleNotFound, u.Module)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:        u.Module,
		TokenLabel:  u.Token,
		Pin:         string(pin),
		GCMIVLength: gcmNonce,
	})
	if err != nil {
		return nil, configureError(u, err)
	}
	h := &HSM{ctx: ctx, label: u.Key}
	if err := h.findKey(create); err != nil {
		_ = ctx.Close()
		return nil, err
	}
	return h, nil
}

// configureError says which of module, token and PIN crypto11.Configure
// tripped on.
func configureError(u PKCS11URI, err error) error {
	var p11 pkcs11.Error
	if errors.As(err, &p11) {
		switch p11 {
		case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("token %q: %w (%v)", u.Token, ErrWrongPIN, p11)
		case pkcs11.CKR_PIN_LOCKED:
			return fmt.Errorf("token %q: %w", u.Token, ErrPINLocked)
		}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "could not find PKCS#11 token"):
		return fmt.Errorf("%w: no token labelled %q in %s", ErrTokenNotFound, u.Token, u.Module)
	case strings.Contains(msg, "failed to open module"):
		return fmt.Errorf("%w: %s is not a loadable PKCS#11 library", ErrModuleNotFound, u.Module)
	}
	return fmt.Errorf("PKCS#11 module %s, token %q: %w", u.Module, u.Token, err)
}

func (h *HSM) findKey(create bool) error {
	keys, err := h.ctx.FindKeys(nil, []byte(h.label))
	if err != nil {
		return fmt.Errorf("key %q: %w: %v", h.label, ErrKeyUnusable, err)
	}
	switch {
	case create && len(keys) > 0:
		return fmt.Errorf("key %q: %w", h.label, ErrKeyExists)
	case create:
		id := make([]byte, 16)
		if _, err := io.ReadFull(crand.Reader, id); err != nil {
			return fmt.Errorf("key %q: random id: %w", h.label, err)
		}
		k, err := h.ctx.GenerateSecretKeyWithLabel(id, []byte(h.label), 256, crypto11.CipherAES)
		if err != nil {
			return fmt.Errorf("key %q: creating it: %w", h.label, err)
		}
		keys = append(keys, k)
	case len(keys) == 0:
		return fmt.Errorf("%w: no secret key labelled %q", ErrKeyNotFound, h.label)
	case len(keys) > 1:
		return fmt.Errorf("key %q: %w: %d keys have this label", h.label, ErrKeyUnusable, len(keys))
	}
	if keys[0].Cipher != crypto11.CipherAES {
		return fmt.Errorf("key %q: %w: it is not an AES key", h.label, ErrKeyUnusable)
	}
	aead, err := keys[0].NewGCM()
	if err != nil {
		return fmt.Errorf("key %q: %w: %v", h.label, ErrKeyUnusable, err)
	}
	h.aead = aead
	return nil
}

// Wrap seals secret under the token's key and returns the wrapped file's
// contents. rand supplies the nonce; pass crypto/rand.Reader.
func (h *HSM) Wrap(secret []byte, rand io.Reader) (out []byte, err error) {
	if len(secret) == 0 {
		return nil, errors.New("wrap: the secret is empty")
	}
	nonce := make([]byte, gcmNonce)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("wrap: random: %w", err)
	}
	// crypto11's AEAD panics when the token fails.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("wrap with key %q: the token failed: %v", h.label, r)
		}
	}()
	sealed := h.aead.Seal(nil, nonce, secret, wrapAssociated(h.label))
	return wrapped{label: h.label, nonce: nonce, sealed: sealed}.marshal(), nil
}

// Unwrap opens a wrapped file's contents and returns the secret; the
// caller should clear it once used. Errors wrap ErrWrappedFormat or
// ErrUnwrap.
func (h *HSM) Unwrap(b []byte) ([]byte, error) {
	w, err := parseWrapped(b)
	if err != nil {
		return nil, err
	}
	if w.label != h.label {
		return nil, fmt.Errorf("%w (the file names key %q, not %q)", ErrUnwrap, w.label, h.label)
	}
	secret, err := h.aead.Open(nil, w.nonce, w.sealed, wrapAssociated(h.label))
	if err != nil {
		return nil, ErrUnwrap
	}
	return secret, nil
}

// wrapAssociated is the associated data of a secret wrapped by label.
func wrapAssociated(label string) []byte { return []byte(wrapAD + label) }

// Close logs out and unloads the module (once no other HSM uses it). A
// second Close does nothing.
func (h *HSM) Close() error {
	if h.ctx == nil {
		return nil
	}
	ctx := h.ctx
	h.ctx, h.aead = nil, nil
	return ctx.Close()
}
