//go:build cgo

package unseal

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testHSM is a SoftHSM token made for one test.
type testHSM struct {
	module, token, pinFile string
}

// uri names key on the test token.
func (h testHSM) uri(key string) PKCS11URI {
	return PKCS11URI{Module: h.module, Token: h.token, Key: key, PINFile: h.pinFile}
}

// softHSM makes a SoftHSM token in t.TempDir() with scripts/softhsm-setup.sh
// (which installs SoftHSM when it is missing and it may) and points
// SOFTHSM2_CONF at it for the test. Without SoftHSM the test is skipped,
// but fails when CI is set: CI must run it.
func softHSM(t *testing.T) testHSM {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "softhsm-setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", script, dir, "domicile-test")
	cmd.Env = append(os.Environ(), "SOFTHSM_PIN=4321")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		if strings.Contains(stderr, "missing: softhsm2") && os.Getenv("CI") == "" {
			t.Skipf("SoftHSM is not installed (apt-get install softhsm2, or run as root): %s", strings.TrimSpace(stderr))
		}
		t.Fatalf("scripts/softhsm-setup.sh: %v\n%s", err, stderr)
	}
	h := testHSM{token: "domicile-test", pinFile: filepath.Join(dir, "pin")}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export SOFTHSM2_CONF="); ok {
			t.Setenv("SOFTHSM2_CONF", v)
		}
		if v, ok := strings.CutPrefix(line, "export DOMICILE_PKCS11_MODULE="); ok {
			h.module = v
		}
	}
	if h.module == "" {
		t.Fatalf("scripts/softhsm-setup.sh printed no module:\n%s", out)
	}
	return h
}
