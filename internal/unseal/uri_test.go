package unseal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePKCS11URI(t *testing.T) {
	const mod = "/usr/lib/softhsm/libsofthsm2.so"
	tests := []struct {
		name string
		in   string
		want PKCS11URI
		err  string
	}{
		{"ok/short", "pkcs11:module=" + mod + ";token=domicile;key=region-cn-north;pin-file=/run/secrets/pin",
			PKCS11URI{Module: mod, Token: "domicile", Key: "region-cn-north", PINFile: "/run/secrets/pin"}, ""},
		{"ok/rfc7512", "pkcs11:token=domicile;object=region-cn-north;type=secret-key?module-path=" + mod + "&pin-source=file:/run/secrets/pin",
			PKCS11URI{Module: mod, Token: "domicile", Key: "region-cn-north", PINFile: "/run/secrets/pin"}, ""},
		{"ok/pin-source-file-url", "pkcs11:token=t;object=k?module-path=/m.so&pin-source=file:///run/pin",
			PKCS11URI{Module: "/m.so", Token: "t", Key: "k", PINFile: "/run/pin"}, ""},
		{"ok/pin-env", "PKCS11:module=/m.so;token=t;key=k;pin-env=HSM_PIN",
			PKCS11URI{Module: "/m.so", Token: "t", Key: "k", PINEnv: "HSM_PIN"}, ""},
		{"ok/percent-encoded", "pkcs11:module=/m.so;token=my%20token;key=k%3B1;pin-env=P",
			PKCS11URI{Module: "/m.so", Token: "my token", Key: "k;1", PINEnv: "P"}, ""},
		{"fail/scheme", "module=/m.so;token=t", PKCS11URI{}, `start with "pkcs11:"`},
		{"fail/pin-value", "pkcs11:module=/m.so;token=t;key=k?pin-value=1234", PKCS11URI{}, "pin-value is refused"},
		{"fail/pin-program", "pkcs11:module=/m.so;token=t;key=k?pin-source=|/bin/getpin", PKCS11URI{}, "runs no program"},
		{"fail/two-pins", "pkcs11:module=/m.so;token=t;key=k;pin-file=/a;pin-env=B", PKCS11URI{}, "PIN"},
		{"fail/twice", "pkcs11:module=/m.so;token=t;token=u;key=k;pin-env=B", PKCS11URI{}, "token given twice"},
		{"fail/missing", "pkcs11:module=/m.so", PKCS11URI{}, "missing token, key, pin-file or pin-env"},
		{"fail/unknown", "pkcs11:module=/m.so;token=t;key=k;pin-env=P;slot=3", PKCS11URI{}, `unknown attribute "slot"`},
		{"fail/type", "pkcs11:module=/m.so;token=t;key=k;pin-env=P;type=private", PKCS11URI{}, "secret-key"},
		{"fail/empty", "pkcs11:module=;token=t;key=k;pin-env=P", PKCS11URI{}, "module is empty"},
		{"fail/not-pair", "pkcs11:module=/m.so;token", PKCS11URI{}, "NAME=VALUE"},
		{"fail/bad-escape", "pkcs11:module=/m.so;token=%zz;key=k;pin-env=P", PKCS11URI{}, "percent-encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePKCS11URI(tt.in)
			if tt.err != "" {
				if !errors.Is(err, ErrPKCS11URI) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error saying %q", err, tt.err)
				}
				if strings.Contains(tt.in, "1234") && strings.Contains(err.Error(), "1234") {
					t.Fatalf("%q shows the PIN", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			again, err := ParsePKCS11URI(got.String())
			if err != nil || again != got {
				t.Fatalf("String() %q does not parse back: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestReadPIN(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pin")
	if err := os.WriteFile(file, []byte("1234 \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return map[string]string{"PIN": "5678"}[k] }
	tests := []struct {
		name string
		u    PKCS11URI
		want string
	}{
		{"ok/file", PKCS11URI{PINFile: file}, "1234"},
		{"ok/env", PKCS11URI{PINEnv: "PIN"}, "5678"},
		{"fail/empty-file", PKCS11URI{PINFile: empty}, ""},
		{"fail/missing-file", PKCS11URI{PINFile: filepath.Join(dir, "nope")}, ""},
		{"fail/unset-env", PKCS11URI{PINEnv: "NOPE"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.u.ReadPIN(getenv)
			if tt.want == "" {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}
