package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store/postgres/pgtest"
)

// requireTool finds a command-line tool, or skips t (fails it when CI is
// set, where these tests must run) saying what to install.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not found (%v); install %s", name, err, pkg)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s\nCI is set: this test must run, not skip", msg)
		}
		t.Skip(msg)
	}
	return p
}

// TestPostgresRestoreErasureStaysErasure (issue 16, item 4 on PostgreSQL):
// the database of a serving eu-central node is dumped with pg_dump while
// writes go on; a subject is erased after the dump and the erasure journal
// exported. The dump is loaded with pg_restore into a fresh database: a
// node refuses it (it is a copy whose erasures were not re-applied) and
// says to run the restore; 'domicile restore --store' re-applies the
// journal; a node then serves it: every record acknowledged before the
// dump reads, the erased subject is gone, the audit log verifies and shows
// the restore. The original database still serves (its identity is its
// own).
func TestPostgresRestoreErasureStaysErasure(t *testing.T) {
	t.Parallel() // mostly waiting on processes: overlaps with the other long tests
	const region, j = "eu-central", "DE"
	pgDump := requireTool(t, "pg_dump", "PostgreSQL's client tools (Debian: postgresql-client)")
	pgRestore := requireTool(t, "pg_restore", "PostgreSQL's client tools (Debian: postgresql-client)")
	ctx := context.Background()
	work := t.TempDir()
	db := pgtest.NewDatabase(t) // fails, never skips, when CI is set
	node := startProc(t, nodeEnv(region), serveArgs(region, db)...)
	c := splitClient(t, node)
	run := func(wantOK bool, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(append(os.Environ(), nodeEnv(region)...), "DOMICILE_ADDR="+node.URL, "DOMICILE_TOKEN="+node.Token)
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("%s %s: err %v, want ok %v:\n%s", filepath.Base(name), strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	create := func(subject string, i int) string {
		t.Helper()
		out, err := c.Create(ctx, []client.NewRecord{customer(subject, j, i)}, "")
		if err != nil {
			t.Fatalf("create %s: %v", subject, err)
		}
		return out.Records[0].ID
	}
	var before, gone []string
	for i := range 10 {
		before = append(before, create(fmt.Sprintf("pgr-keep-%d", i), i))
	}
	for i := range 3 {
		gone = append(gone, create("pgr-gone", 100+i))
	}
	pub, err := c.AuditPublicKey(ctx, region)
	if err != nil {
		t.Fatal(err)
	}
	pem := filepath.Join(work, "audit.pem")
	if err := os.WriteFile(pem, pub, 0o600); err != nil {
		t.Fatal(err)
	}

	// Writes go on during the dump; those acknowledged before it began
	// must be in it.
	var (
		mu       sync.Mutex
		ackedPre []string
		started  atomic.Bool
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			pre := !started.Load()
			out, err := c.Create(ctx, []client.NewRecord{customer(fmt.Sprintf("pgr-during-%d", i), j, i)}, "")
			if err != nil {
				t.Errorf("a write during the dump: %v", err)
				return
			}
			if pre {
				mu.Lock()
				ackedPre = append(ackedPre, out.Records[0].ID)
				mu.Unlock()
			}
		}
	})
	for {
		mu.Lock()
		n := len(ackedPre)
		mu.Unlock()
		if n >= 3 || t.Failed() {
			break
		}
	}
	started.Store(true)
	dump := filepath.Join(work, "eu-central.dump")
	run(true, pgDump, "--format=custom", "--no-owner", "--file", dump, "--dbname", db)
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// After the dump: the subject is erased; its journal kept apart.
	if _, err := c.EraseSubject(ctx, "pgr-gone"); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(work, "erasures.jsonl")
	run(true, binary, "erasures", "export", "--region", region, "--out", journal)
	node.Stop()

	// The dump, loaded into a fresh database.
	fresh := pgtest.NewDatabase(t)
	run(true, pgRestore, "--no-owner", "--exit-on-error", "--dbname", fresh, dump)

	// A node refuses it: serving it would bring the erased subject back.
	if s, err := launch(nodeEnv(region), serveArgs(region, fresh)...); err == nil {
		s.Stop()
		t.Fatal("a node served the restored database before the erasure journal was re-applied")
	} else if !strings.Contains(err.Error(), "domicile restore --region "+region+" --store") {
		t.Errorf("the node's refusal does not say to run the restore:\n%v", err)
	}
	// A restore needs the journal, or the statement that there is none;
	// a --store that is not PostgreSQL is refused.
	run(false, binary, "restore", "--region", region, "--store", fresh, "--policy", loadPolicyFile())
	run(false, binary, "restore", "--region", region, "--store", work, "--erasures", journal)

	out := run(true, binary, "restore", "--region", region, "--store", fresh, "--erasures", journal, "--policy", loadPolicyFile())
	t.Log(strings.TrimSpace(out))
	if !strings.Contains(out, "erasures re-applied: 1 subjects (3 records deleted)") {
		t.Errorf("restore did not re-apply the erasure of pgr-gone:\n%s", out)
	}
	vout, code := pgVerify(t, fresh, region, pem)
	if code != 0 || !strings.Contains(vout, "ok:") {
		t.Errorf("the restored log does not verify (exit %d):\n%s", code, vout)
	}

	restored := startProc(t, nodeEnv(region), serveArgs(region, fresh)...)
	rc := splitClient(t, restored)
	mu.Lock()
	want := append(append([]string{}, before...), ackedPre...)
	mu.Unlock()
	for _, id := range want {
		if _, err := rc.Get(ctx, id); err != nil {
			t.Errorf("record %s, acknowledged before the dump, is not back: %v", id, err)
		}
	}
	for _, id := range gone {
		_, err := rc.Get(ctx, id)
		var ce *client.Error
		if !errors.As(err, &ce) || (ce.Problem.Code != "not_found" && ce.Problem.Code != "subject_erased") {
			t.Errorf("record %s of the erased subject after the restore: %v, want not_found or subject_erased", id, err)
		}
	}
	page, err := rc.ListSubject(ctx, "pgr-gone", "", 0)
	if err != nil || len(page.Records) != 0 {
		t.Errorf("the erased subject's records after the restore: %v, %v", page, err)
	}
	found := ""
	for q := (url.Values{"action": {"admin"}, "limit": {"1000"}}); ; {
		entries, err := rc.AuditEntries(ctx, region, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries.Entries {
			if strings.HasPrefix(e.Rule, "restore:") && strings.HasSuffix(e.Rule, ":postgres") {
				found = e.Rule
			}
		}
		if entries.Next == "" {
			break
		}
		q.Set("cursor", entries.Next)
	}
	if found == "" {
		// The restore waits until its entry is integrated: a node lists it
		// at once, past the dump's unfinished reservations.
		t.Error("the restored region's audit log shows no restore entry")
	}
	restored.Stop()
	if vout, code := pgVerify(t, fresh, region, pem); code != 0 || !strings.Contains(vout, "ok:") {
		t.Errorf("the restored log does not verify after serving (exit %d):\n%s", code, vout)
	}

	// The original database is its own: a node serves it again.
	again := startProc(t, nodeEnv(region), serveArgs(region, db)...)
	if _, err := splitClient(t, again).Get(ctx, before[0]); err != nil {
		t.Errorf("the original database after the restore elsewhere: %v", err)
	}
}
