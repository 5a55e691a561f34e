package unseal

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// PKCS11URI names a PKCS#11 module, a token in it, an AES key on the token
// and where the PIN is read from. Its text form follows RFC 7512:
//
//	pkcs11:token=LABEL;object=LABEL?module-path=PATH&pin-source=file:PATH
//
// and the shorter form with every attribute in the path, separated by ";":
//
//	pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=domicile;key=region-cn-north;pin-file=/run/secrets/pin
//
// Attributes (values may be percent-encoded, as in RFC 7512):
//
//   - module or module-path: the PKCS#11 library (required);
//   - token: the token's label (required);
//   - key or object: the label of the AES key on the token (required);
//   - type: if given, secret-key;
//   - the PIN, exactly one of: pin-file=PATH, pin-source=file:PATH (or a bare
//     PATH), pin-env=NAME (an environment variable).
//
// pin-value is refused: a PIN in a command line is visible to every user of
// the machine.
type PKCS11URI struct {
	Module string
	Token  string
	Key    string
	// PINFile is the file holding the PIN (its trailing newline and spaces
	// are not part of it); PINEnv the environment variable holding it.
	// Exactly one is set.
	PINFile, PINEnv string
}

// ErrPKCS11URI is wrapped by every error of ParsePKCS11URI.
var ErrPKCS11URI = errors.New("bad pkcs11: URI")

// IsPKCS11URI reports whether s looks like a pkcs11: URI (and should be
// parsed as one).
func IsPKCS11URI(s string) bool {
	return len(s) >= 7 && strings.EqualFold(s[:7], "pkcs11:")
}

// ParsePKCS11URI parses a pkcs11: URI of the forms PKCS11URI describes.
// Errors wrap ErrPKCS11URI and name the attribute at fault.
func ParsePKCS11URI(s string) (PKCS11URI, error) {
	var u PKCS11URI
	if !IsPKCS11URI(s) {
		return u, fmt.Errorf("%w: it should start with \"pkcs11:\"", ErrPKCS11URI)
	}
	rest := s[len("pkcs11:"):]
	path, query, _ := strings.Cut(rest, "?")
	attrs := splitNonEmpty(path, ";")
	attrs = append(attrs, splitNonEmpty(query, "&")...)
	seen := map[string]bool{}
	for _, a := range attrs {
		k, raw, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return u, fmt.Errorf("%w: %q is not NAME=VALUE", ErrPKCS11URI, a)
		}
		k = strings.ToLower(k)
		v, err := url.PathUnescape(raw)
		if err != nil {
			return u, fmt.Errorf("%w: attribute %s: bad percent-encoding", ErrPKCS11URI, k)
		}
		if v == "" {
			return u, fmt.Errorf("%w: attribute %s is empty", ErrPKCS11URI, k)
		}
		canon := k
		switch k {
		case "module-path":
			canon = "module"
		case "object":
			canon = "key"
		case "pin-source", "pin-env":
			canon = "pin-file"
		}
		if seen[canon] {
			what := canon
			if canon == "pin-file" {
				what = "the PIN (pin-file, pin-source, pin-env)"
			}
			return u, fmt.Errorf("%w: %s given twice", ErrPKCS11URI, what)
		}
		seen[canon] = true
		switch k {
		case "module", "module-path":
			u.Module = v
		case "token":
			u.Token = v
		case "key", "object":
			u.Key = v
		case "type":
			if v != "secret-key" {
				return u, fmt.Errorf("%w: type must be secret-key (an AES key), not %q", ErrPKCS11URI, v)
			}
		case "pin-file":
			u.PINFile = v
		case "pin-source":
			if strings.HasPrefix(v, "|") {
				return u, fmt.Errorf("%w: pin-source runs no program; give file:PATH", ErrPKCS11URI)
			}
			u.PINFile = strings.TrimPrefix(v, "file:")
			u.PINFile = strings.TrimPrefix(u.PINFile, "//") // file:///run/x
		case "pin-env":
			u.PINEnv = v
		case "pin-value":
			return u, fmt.Errorf("%w: pin-value is refused (a PIN in a command line is visible to every user of the machine); use pin-file=PATH or pin-env=NAME", ErrPKCS11URI)
		default:
			return u, fmt.Errorf("%w: unknown attribute %q (known: module, token, key, pin-file, pin-env, and RFC 7512's module-path, object, type, pin-source)", ErrPKCS11URI, k)
		}
	}
	var missing []string
	for _, need := range []string{"module", "token", "key"} {
		if !seen[need] {
			missing = append(missing, need)
		}
	}
	if !seen["pin-file"] {
		missing = append(missing, "pin-file or pin-env")
	}
	if len(missing) > 0 {
		return u, fmt.Errorf("%w: missing %s", ErrPKCS11URI, strings.Join(missing, ", "))
	}
	return u, nil
}

// String returns the URI in the short form. It holds no PIN, only where
// the PIN is.
func (u PKCS11URI) String() string {
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), "%2F", "/") }
	parts := []string{"module=" + esc(u.Module), "token=" + esc(u.Token), "key=" + esc(u.Key)}
	if u.PINFile != "" {
		parts = append(parts, "pin-file="+esc(u.PINFile))
	}
	if u.PINEnv != "" {
		parts = append(parts, "pin-env="+esc(u.PINEnv))
	}
	return "pkcs11:" + strings.Join(parts, ";")
}

// ReadPIN reads the PIN from where u says: the file (without its trailing
// newline and spaces) or the environment variable, through getenv. The
// caller should clear it once used. An empty PIN is an error.
func (u PKCS11URI) ReadPIN(getenv func(string) string) ([]byte, error) {
	var pin []byte
	switch {
	case u.PINFile != "":
		b, err := os.ReadFile(u.PINFile)
		if err != nil {
			return nil, fmt.Errorf("PIN file: %w", err)
		}
		n := len(b)
		for n > 0 && slices.Contains([]byte(" \t\r\n"), b[n-1]) {
			n--
		}
		pin = b[:n]
		clear(b[n:])
	case u.PINEnv != "":
		pin = []byte(getenv(u.PINEnv))
	}
	if len(pin) == 0 {
		where := "file " + u.PINFile
		if u.PINEnv != "" {
			where = "environment variable " + u.PINEnv
		}
		return nil, fmt.Errorf("the PIN's %s is empty", where)
	}
	return pin, nil
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
