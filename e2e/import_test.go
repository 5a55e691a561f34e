package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportExactlyOnce: 'records import' of a mixed-jurisdiction JSONL
// file, killed with kill -9 part-way and run again, stores every good line
// exactly once; the refused lines are listed with their line numbers and
// reasons, never their content.
func TestImportExactlyOnce(t *testing.T) {
	const n = 3000
	s := startDev(t, t.TempDir(), nil, "--no-seed")
	c := s.client(t)
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "customers.jsonl")
	jurisdictions := []string{"CN", "DE", "FR", "US", "RU", "BR"}
	var b strings.Builder
	bad := map[int]string{} // line -> the code it is refused with
	for i := range n {
		rec := map[string]any{"collection": "customers", "subject": fmt.Sprintf("imp-%d", i), "jurisdiction": jurisdictions[i%len(jurisdictions)],
			"fields": map[string]string{"name": fmt.Sprintf("Person %d", i), "email": fmt.Sprintf("p%d@example.com", i)}}
		switch i {
		case 7:
			rec["jurisdiction"], bad[i+1] = "XX", "unknown_jurisdiction"
		case 1500:
			rec["fields"].(map[string]string)["email"], bad[i+1] = "secret-not-an-email", "invalid_value"
		case 2999:
			delete(rec, "subject")
			bad[i+1] = "missing_field"
		}
		line, _ := json.Marshal(rec)
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	stored := func() int64 {
		t.Helper()
		rs, err := c.Regions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, r := range rs.Regions {
			total += r.Records["customers"]
		}
		return total
	}
	run := func() *exec.Cmd {
		cmd := exec.Command(binary, "records", "import", file, "--batch", "40")
		cmd.Env = append(os.Environ(), "DOMICILE_ADDR="+s.URL, "DOMICILE_TOKEN="+s.Token)
		return cmd
	}

	// Kill the first run once part of the file is stored.
	first := run()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	killed := false
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) { // a bound, not a speed limit
		select {
		case <-exited:
		default:
			if stored() == 0 {
				continue
			}
			first.Process.Kill() // SIGKILL
			<-exited
			killed = true
		}
		break
	}
	if !killed {
		t.Logf("the first run finished before it could be killed (%d stored)", stored())
	} else if got := stored(); got >= n-int64(len(bad)) {
		t.Logf("the first run stored everything before the kill landed")
	}

	out, err := run().CombinedOutput()
	if err != nil {
		t.Fatalf("the rerun: %v\n%s", err, out)
	}
	if got, want := stored(), int64(n-len(bad)); got != want {
		t.Fatalf("%d records stored, want each of the %d good lines once\n%s", got, want, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d lines refused", len(bad))) {
		t.Errorf("the rerun's summary: %s", out)
	}
	for _, subject := range []string{"imp-0", "imp-1499", "imp-2998"} {
		p, err := c.ListSubject(ctx, subject, "", 10)
		if err != nil || len(p.Records) != 1 {
			t.Errorf("subject %s: %v, %d records; want exactly 1", subject, err, len(p.Records))
		}
	}
	rej, err := os.ReadFile(file + ".rejects.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rej), "secret-not-an-email") || strings.Contains(string(rej), "Person") {
		t.Errorf("the rejects file holds a line's content:\n%s", rej)
	}
	lines := strings.Split(strings.TrimSpace(string(rej)), "\n")
	if len(lines) != len(bad) {
		t.Fatalf("rejects:\n%s\nwant %d lines", rej, len(bad))
	}
	for _, l := range lines {
		var r struct {
			Line         int
			Code, Reason string
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || bad[r.Line] != r.Code || r.Reason == "" {
			t.Errorf("reject %s: want one of %v", l, bad)
		}
	}
}
