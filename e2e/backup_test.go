package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
)

// TestBackupRestoreErasureStaysErasure (issue 16, item 4): a backup taken
// online while writes go on, restored on a fresh data directory with the
// erasure journal exported after a subject was erased, brings back every
// record acknowledged before the backup but not the erased subject; the
// restored audit log verifies and shows the restore.
func TestBackupRestoreErasureStaysErasure(t *testing.T) {
	const region, j = "eu-central", "DE"
	ctx := context.Background()
	data := t.TempDir()
	work := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	admin := s.client(t)
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := s.cli(args...)
		if (err == nil) != wantOK {
			t.Fatalf("domicile %s: err %v, want ok %v:\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return out
	}
	create := func(subject string, i int) string {
		t.Helper()
		out, err := admin.Create(ctx, []client.NewRecord{customer(subject, j, i)}, "")
		if err != nil {
			t.Fatalf("create %s: %v", subject, err)
		}
		return out.Records[0].ID
	}
	var before []string
	for i := range 10 {
		before = append(before, create(fmt.Sprintf("bk-keep-%d", i), i))
	}
	var gone []string
	for i := range 3 {
		gone = append(gone, create("bk-gone", 100+i))
	}
	pem := filepath.Join(work, "audit.pem")
	if err := os.WriteFile(pem, []byte(run(true, "audit", "keys", "--region", region, "--pem")), 0o600); err != nil {
		t.Fatal(err)
	}

	// Writes go on during the backup; those acknowledged before it began
	// must be in it.
	var (
		mu       sync.Mutex
		ackedPre []string
		started  atomic.Bool
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			pre := !started.Load()
			out, err := admin.Create(ctx, []client.NewRecord{customer(fmt.Sprintf("bk-during-%d", i), j, i)}, "")
			if err != nil {
				t.Errorf("a write during the backup: %v", err)
				return
			}
			if pre {
				mu.Lock()
				ackedPre = append(ackedPre, out.Records[0].ID)
				mu.Unlock()
			}
		}
	}()
	for {
		mu.Lock()
		n := len(ackedPre)
		mu.Unlock()
		if n >= 3 {
			break
		}
	}
	started.Store(true)
	bk := filepath.Join(work, "backup")
	out := run(true, "backup", "--region", region, "--out", bk)
	stop.Store(true)
	wg.Wait()
	t.Log(strings.TrimSpace(out))

	// After the backup: the subject is erased; its journal kept apart.
	if _, err := admin.EraseSubject(ctx, "bk-gone"); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(work, "erasures.jsonl")
	run(true, "erasures", "export", "--region", region, "--out", journal)

	// A restore needs the journal, or the statement that there is none.
	fresh := filepath.Join(work, "fresh")
	run(false, "restore", "--region", region, "--from", bk, "--data", fresh)
	s.Stop()

	// Restore on a fresh data directory, in place of the region's.
	regionDir := filepath.Join(data, "regions", region)
	if err := os.Rename(regionDir, filepath.Join(work, "old")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(data, "unseal", region+".secret")
	out = run(true, "restore", "--region", region, "--from", bk, "--data", regionDir, "--erasures", journal,
		"--pubkey", pem, "--unseal-file", secret)
	t.Log(strings.TrimSpace(out))
	if !strings.Contains(out, "erasures re-applied: 1 subjects (3 records deleted)") {
		t.Errorf("restore did not re-apply the erasure of bk-gone:\n%s", out)
	}
	out = run(true, "audit", "verify", "--region", region, "--data", regionDir, "--pubkey", pem)
	if !strings.Contains(out, "ok:") {
		t.Errorf("the restored log does not verify:\n%s", out)
	}

	s = startDev(t, data, nil, "--no-seed")
	admin = s.client(t)
	reader := s.principal(t, "backup-reader", j, "admin").ForPurpose("support")
	mu.Lock()
	want := append(append([]string{}, before...), ackedPre...)
	mu.Unlock()
	for _, id := range want {
		if _, err := reader.Get(ctx, id); err != nil {
			t.Errorf("record %s, acknowledged before the backup, is not back: %v", id, err)
		}
	}
	for _, id := range gone {
		_, err := reader.Get(ctx, id)
		var ce *client.Error
		if !errors.As(err, &ce) || (ce.Problem.Code != "not_found" && ce.Problem.Code != "subject_erased") {
			t.Errorf("record %s of the erased subject after the restore: %v, want not_found or subject_erased", id, err)
		}
	}
	page, err := reader.ListSubject(ctx, "bk-gone", "", 0)
	if err != nil || len(page.Records) != 0 {
		t.Errorf("the erased subject's records after the restore: %v, %v", page, err)
	}
	entries, err := admin.AuditEntries(ctx, region, url.Values{"action": {"admin"}, "limit": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries.Entries {
		found = found || strings.HasPrefix(e.Rule, "restore:20")
	}
	if !found {
		t.Error("the restored region's audit log shows no restore entry")
	}
}
