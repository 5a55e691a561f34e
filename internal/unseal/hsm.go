package unseal

import "errors"

// Errors of OpenHSM, HSM.Wrap and HSM.Unwrap, for callers to branch on
// (errors.Is) and give the operator a hint.
var (
	// ErrNoPKCS11: this build has no PKCS#11 support (it was built
	// without cgo).
	ErrNoPKCS11 = errors.New("this domicile was built without cgo, so it has no PKCS#11 support")
	// ErrModuleNotFound: the module path does not exist or is not a
	// loadable PKCS#11 library.
	ErrModuleNotFound = errors.New("PKCS#11 module not found")
	// ErrTokenNotFound: no token with that label in the module's slots.
	ErrTokenNotFound = errors.New("PKCS#11 token not found")
	// ErrWrongPIN: the token refused the PIN.
	ErrWrongPIN = errors.New("the token refused the PIN")
	// ErrPINLocked: the token locked the PIN after too many wrong tries.
	ErrPINLocked = errors.New("the token's PIN is locked")
	// ErrKeyNotFound: no secret key with that label on the token.
	ErrKeyNotFound = errors.New("no such key on the token")
	// ErrKeyExists: asked to create a key whose label is taken.
	ErrKeyExists = errors.New("a key with this label exists on the token already")
	// ErrKeyUnusable: several keys share the label, or the key is not an
	// AES key that does AES-GCM.
	ErrKeyUnusable = errors.New("the key cannot wrap the secret")
	// ErrUnwrap: the wrapped secret does not open under the key: another
	// key, or the file was altered. It says nothing more, by design.
	ErrUnwrap = errors.New("the wrapped secret does not open under this key: it was wrapped by another key, or altered")
)
