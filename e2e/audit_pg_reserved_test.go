package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/audit"
)

var (
	voidCount   = regexp.MustCompile(`\((\d+) void, (\d+) aborted\)`)
	pendingLine = regexp.MustCompile(`(?m)^pending: index (\d+) was reserved`)
)

// pgVerify runs `domicile audit verify` on the region's database and
// returns its output and exit status.
func pgVerify(t *testing.T, db, region, pubkey string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, "audit", "verify", "--store", db, "--region", region, "--pubkey", pubkey, "--policy", loadPolicyFile())
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("run audit verify: %v", err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// requireNoDeletion fails t unless verify passed: exit status 0 and an ok
// line, never "missing (deleted)".
func requireNoDeletion(t *testing.T, when, out string, code int) {
	t.Helper()
	if code != 0 || !strings.Contains(out, "ok:") || strings.Contains(out, "deleted") {
		t.Fatalf("%s: audit verify exited %d; a node's unwritten reservations must not read as a deletion:\n%s", when, code, out)
	}
}

// voidsOf returns the void count of verify's ok line.
func voidsOf(t *testing.T, out string) int {
	t.Helper()
	m := voidCount.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("audit verify printed no \"(N void, M aborted)\":\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestPostgresKilledNodeReservationsNotDeletion: two nodes of eu-central
// on one database take concurrent creates; one is killed with SIGKILL
// while writes are in flight and the other stopped normally right after
// (once it has stored entries past the killed node's indexes, within a
// second), before the void grace can pass. Offline verification of the database
// then never reports a deletion: the killed node's reserved, unwritten
// indexes past the integrated tree are a pending reservation, or there is
// none. A restarted node fills them with void entries within seconds;
// verification then passes with no pending reservation, and with void
// entries when there was one.
func TestPostgresKilledNodeReservationsNotDeletion(t *testing.T) {
	const (
		region     = "eu-central"
		perNode    = 4 // concurrent writers per node
		minAcked   = 20
		minLoad    = 1500 * time.Millisecond
		loadBound  = 30 * time.Second // nodes that make no progress: a hang
		pollBound  = 60 * time.Second
		pollPeriod = 500 * time.Millisecond
		afterKill  = time.Second // below audit.DefaultVoidGrace
	)
	a, b, db := twoPGNodes(t)
	ctx := context.Background()

	pub, err := splitClient(t, b).AuditPublicKey(ctx, region)
	if err != nil {
		t.Fatalf("audit public key: %v", err)
	}
	pubkey := filepath.Join(t.TempDir(), region+".pem")
	if err := os.WriteFile(pubkey, pub, 0o600); err != nil {
		t.Fatal(err)
	}

	// Concurrent creates through both nodes until stopped.
	var (
		acked   [2]atomic.Int64
		killed  atomic.Bool
		stopped = make(chan struct{})
		wg      sync.WaitGroup
		errMu   sync.Mutex
		errs    []string
	)
	for n, node := range []*server{a, b} {
		for w := range perNode {
			wg.Go(func() {
				c := splitClient(t, node)
				for i := 0; ; i++ {
					select {
					case <-stopped:
						return
					default:
					}
					rec := customer(fmt.Sprintf("reserved-%d-%d-%d", n, w, i), []string{"DE", "FR"}[i%2], i)
					if _, err := c.Create(ctx, []client.NewRecord{rec}, ""); err != nil {
						if killed.Load() {
							time.Sleep(10 * time.Millisecond) // nodes are going away: expected
							continue
						}
						errMu.Lock()
						errs = append(errs, fmt.Sprintf("node %d writer %d: %v", n, w, err))
						errMu.Unlock()
						return
					}
					acked[n].Add(1)
				}
			})
		}
	}
	start := time.Now()
	for time.Since(start) < minLoad || acked[0].Load() < minAcked || acked[1].Load() < minAcked {
		if time.Since(start) > loadBound {
			close(stopped)
			wg.Wait()
			t.Fatalf("after %s the nodes acknowledged %d and %d creates (errors: %v)", loadBound, acked[0].Load(), acked[1].Load(), errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Writes are in flight on both nodes: kill A. B takes writes for the
	// moment it needs to lease a block past A's (LeaseBlock+1 creates, at
	// most afterKill): only entries stored past A's reserved, unwritten
	// indexes make them a gap; without any, they are the log's unwritten
	// end, which verify rightly does not see. Then B stops normally, well
	// within the void grace of those entries.
	killed.Store(true)
	a.Kill()
	atKill := acked[1].Load()
	killedAt := time.Now()
	for acked[1].Load()-atKill <= audit.DefaultLeaseBlock && time.Since(killedAt) < afterKill {
		time.Sleep(5 * time.Millisecond)
	}
	afterB := acked[1].Load() - atKill
	sinceKill := time.Since(killedAt)
	b.Stop()
	close(stopped)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("creates failed before the kill:\n%s", strings.Join(errs, "\n"))
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("node B exited with status %d after SIGTERM:\n%s", code, b.stderr)
	}
	t.Logf("acknowledged creates: node A (killed) %d, node B (stopped) %d, of which %d in the %s after the kill",
		acked[0].Load(), acked[1].Load(), afterB, sinceKill.Round(time.Millisecond))

	out, code := pgVerify(t, db, region, pubkey)
	requireNoDeletion(t, "after the kill and the stop", out, code)
	pending := pendingLine.FindStringSubmatch(out)
	voidsBefore := voidsOf(t, out)
	if pending == nil {
		t.Logf("the run left no pending reservation (node A had nothing reserved past the integrated tree, or node B voided it before stopping); still no deletion:\n%s", out)
	} else {
		t.Logf("after the kill and the stop:\n%s", strings.TrimSpace(out))
	}

	// A restarted node voids the reservations within seconds.
	c := startProc(t, nodeEnv(region), serveArgs(region, db)...)
	deadline := time.Now().Add(pollBound)
	polls := 0
	for {
		polls++
		out, code = pgVerify(t, db, region, pubkey)
		requireNoDeletion(t, fmt.Sprintf("poll %d with a node restarted", polls), out, code)
		if !pendingLine.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d polls over %s with a node running, a reservation is still pending:\n%s\nnode stderr:\n%s", polls, pollBound, out, c.stderr)
		}
		time.Sleep(pollPeriod)
	}
	t.Logf("after %d polls with a node restarted:\n%s", polls, strings.TrimSpace(out))
	if pending != nil {
		if v := voidsOf(t, out); v <= voidsBefore {
			t.Errorf("index %s was pending, yet the log verifies with %d void entries, as many as before (%d):\n%s", pending[1], v, voidsBefore, out)
		}
		if !strings.Contains(c.stderr.String(), "with void entries") {
			t.Logf("the restarted node logged no void fill (another pass may have filled it):\n%s", c.stderr)
		}
	}

	// Stopped, the log verifies the same way.
	c.Stop()
	out, code = pgVerify(t, db, region, pubkey)
	requireNoDeletion(t, "after the restarted node stopped", out, code)
	if pendingLine.MatchString(out) {
		t.Errorf("a reservation is pending again after the restarted node stopped:\n%s", out)
	}
	if v := voidsOf(t, out); pending != nil && v <= voidsBefore {
		t.Errorf("index %s was pending, yet the final log has %d void entries, as many as before (%d):\n%s", pending[1], v, voidsBefore, out)
	}
	t.Logf("final: %s", strings.TrimSpace(out))
}
