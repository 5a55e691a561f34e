package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/examples"
)

// Helpers for the split deployment: `domicile serve` nodes on PostgreSQL
// and `domicile gateway` in front, each its own process on 127.0.0.1.

// e2eToken is the admin token of every node the split tests start (a
// well-formed token: dmc_ and 52 base32 characters).
const e2eToken = "dmc_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"

// regionCountry is where each region's administrator operates: inside the
// region, so that reads of strict regions are not transfers.
var regionCountry = map[string]string{"cn-north": "CN", "eu-central": "DE", "ru-central": "RU", "us-east": "US"}

var listeningLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// startProc starts the binary with args and extra environment entries and
// waits until it prints "listening on URL". It is stopped when t ends.
func startProc(t testing.TB, extraEnv []string, args ...string) *server {
	t.Helper()
	s, err := launch(extraEnv, args...)
	if err != nil {
		t.Fatalf("domicile %s: %v", strings.Join(args, " "), err)
	}
	s.t = t
	s.stopWith(t)
	return s
}

// launch is startProc without t, for starting several nodes at once.
func launch(extraEnv []string, args ...string) (*server, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	s := &server{cmd: cmd, Token: e2eToken}
	if err := spawn(s, matchURL(listeningLine)); err != nil {
		return nil, err
	}
	return s, nil
}

// matchURL is a readiness check of spawn: the first submatch of re.
func matchURL(re *regexp.Regexp) func(string) (string, bool) {
	return func(line string) (string, bool) {
		if m := re.FindStringSubmatch(line); m != nil {
			return m[1], true
		}
		return "", false
	}
}

// nodeEnv is the environment of a region's node: its unseal secret and the
// admin token.
func nodeEnv(region string) []string {
	return []string{
		"DOMICILE_UNSEAL_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_")) + "=e2e-unseal-" + region,
		"DOMICILE_ADMIN_TOKEN=" + e2eToken,
	}
}

// serveArgs are the arguments of a region's node on a PostgreSQL store.
func serveArgs(region, dsn string) []string {
	return []string{"serve", "--region", region, "--store", dsn, "--listen", "127.0.0.1:0", "--admin-location", regionCountry[region],
		"--policy", loadPolicyFile()}
}

var (
	loadPolicyOnce sync.Once
	loadPolicyPath string
)

// loadPolicyFile is the example policy without its guard section: these
// tests push thousands of reads a minute through one principal on purpose,
// which the guard would rightly stop as a drain (its own tests cover it).
func loadPolicyFile() string {
	loadPolicyOnce.Do(func() {
		src := string(examples.Policy)
		if i := strings.Index(src, "\nguard:"); i >= 0 {
			src = src[:i+1]
		}
		dir, err := os.MkdirTemp("", "domicile-policy")
		if err != nil {
			panic(err)
		}
		loadPolicyPath = filepath.Join(dir, "load-policy.yaml")
		if err := os.WriteFile(loadPolicyPath, []byte(src), 0o600); err != nil {
			panic(err)
		}
	})
	return loadPolicyPath
}

// splitClient is a client of the gateway at s acting as the administrator
// for customer support.
func splitClient(t testing.TB, s *server) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, s.Token, client.WithPurpose("support"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startGateway starts `domicile gateway` with one URL per region.
func startGateway(t testing.TB, regions map[string]string) *server {
	t.Helper()
	args := []string{"gateway", "--listen", "127.0.0.1:0", "--policy", loadPolicyFile()}
	for name, u := range regions {
		args = append(args, "--region", name+"="+u)
	}
	return startProc(t, nil, args...)
}

// exampleRegions are the regions of the built-in example policy.
var exampleRegions = []string{"cn-north", "eu-central", "ru-central", "us-east"}
