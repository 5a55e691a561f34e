package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
)

// regionJurisdiction is a jurisdiction of each region of the example
// policy, for records and for readers located inside the region.
var regionJurisdiction = map[string]string{"cn-north": "CN", "eu-central": "DE", "ru-central": "RU", "us-east": "US"}

// interrupt stops s the way Ctrl-C in a terminal does (SIGINT), waits for
// it to exit and fails t unless it exited with status 0.
func interrupt(t *testing.T, s *server) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("send SIGINT: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(time.Minute): // a hung stop, not a performance limit
		s.Kill()
		t.Fatalf("domicile dev did not exit within a minute of SIGINT:\n%s", s.stderr)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("domicile dev exited with status %d after SIGINT:\n%s", code, s.stderr)
	}
}

// errorLines returns the lines of a process's stderr that report an
// error: slog's text format (level=ERROR) and the CLI's "error: ..." line.
func errorLines(stderr string) []string {
	var bad []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "level=ERROR") || strings.HasPrefix(line, "error:") || strings.HasPrefix(line, "panic:") {
			bad = append(bad, line)
		}
	}
	return bad
}

// devTraffic creates n records in every region and reads each back by an
// administrator located in its region; run names the principals.
func devTraffic(t *testing.T, s *server, run string, n int) {
	t.Helper()
	ctx := context.Background()
	admin := s.client(t)
	for _, region := range exampleRegions {
		j := regionJurisdiction[region]
		reader := s.principal(t, fmt.Sprintf("shutdown-%s-%s", run, strings.ToLower(j)), j, "admin").ForPurpose("support")
		for i := range n {
			rec := customer(fmt.Sprintf("shutdown-%s-%s-%d", run, region, i), j, i)
			out, err := admin.Create(ctx, []client.NewRecord{rec}, fmt.Sprintf("shutdown-%s-%s-%d", run, region, i))
			if err != nil {
				t.Fatalf("%s: create a %s record in %s: %v", run, j, region, err)
			}
			got, err := reader.Get(ctx, out.Records[0].ID)
			if err != nil {
				t.Fatalf("%s: read back a %s record: %v", run, j, err)
			}
			if got.Region != region || got.Fields["name"] != rec.Fields["name"] {
				t.Fatalf("%s: record %s read back from %s as %q, want %s and %q", run, out.Records[0].ID, got.Region, got.Fields["name"], region, rec.Fields["name"])
			}
		}
	}
}

// TestCleanShutdownVoidsNothing: `domicile dev` stopped by Ctrl-C (SIGINT),
// restarted on the same data directory and stopped again (SIGTERM) after
// more traffic leaves every region's audit log verifying offline with no
// void entry and no pending reservation, and logs no error in either run.
// A clean stop must hand back or finish every reservation it holds: a
// block left unreleased would be voided by the next start.
func TestCleanShutdownVoidsNothing(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()

	s := startDev(t, data, nil, "--no-seed")
	devTraffic(t, s, "first", 12)
	// The regions' audit public keys, while the server runs.
	keyDir := t.TempDir()
	pubkeys := map[string]string{}
	for _, region := range exampleRegions {
		pub, err := s.client(t).AuditPublicKey(ctx, region)
		if err != nil {
			t.Fatalf("audit public key of %s: %v", region, err)
		}
		pubkeys[region] = filepath.Join(keyDir, region+".pem")
		if err := os.WriteFile(pubkeys[region], pub, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	interrupt(t, s)
	firstErr := s.stderr.String()

	s = startDev(t, data, nil, "--no-seed")
	devTraffic(t, s, "second", 5)
	s.Stop() // SIGTERM, as a service manager stops it
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("domicile dev exited with status %d after SIGTERM:\n%s", code, s.stderr)
	}
	secondErr := s.stderr.String()

	for run, stderr := range map[string]string{"first run (SIGINT)": firstErr, "second run (SIGTERM)": secondErr} {
		if bad := errorLines(stderr); len(bad) > 0 {
			t.Errorf("the %s logged errors:\n%s\nwhole stderr:\n%s", run, strings.Join(bad, "\n"), stderr)
		}
	}

	for _, region := range exampleRegions {
		cmd := exec.Command(binary, "audit", "verify", "--region", region,
			"--data", filepath.Join(data, "regions", region), "--pubkey", pubkeys[region])
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil:
			t.Errorf("%s: audit verify failed (%v) after two clean stops:\n%s", region, err, out)
		case !strings.Contains(string(out), "ok:"):
			t.Errorf("%s: audit verify printed no ok line:\n%s", region, out)
		case !strings.Contains(string(out), "(0 void,"):
			t.Errorf("%s: a clean shutdown left void entries (reservations neither released nor written):\n%s", region, out)
		case strings.Contains(string(out), "pending:"):
			t.Errorf("%s: a clean shutdown left a reservation pending:\n%s", region, out)
		default:
			t.Logf("%s: %s", region, strings.TrimSpace(string(out)))
		}
	}
}
