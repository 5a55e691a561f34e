package e2e

import (
	"context"
	be "encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
)

// TestAuditOnlineVerifyWithKeyHistory is issue 18's acceptance, with the
// real binary: the audit key is rotated twice under load; the log then
// verifies online (over the API, recomputed by the CLI) and offline with
// the key history and a checkpoint kept before the rotations, and fails
// without the newest key, naming the checkpoint it signed. After an
// insider rewrites an entry in the stopped node's store, online verify
// names that entry; after the tail is cut off (entries, checkpoints and
// tree size), verify against the kept checkpoint, offline and online from
// a node started on the cut store, names the first missing entry.
func TestAuditOnlineVerifyWithKeyHistory(t *testing.T) {
	t.Parallel() // mostly waiting (leases, key reloads, baselines): overlaps with the other long tests
	data := t.TempDir()
	work := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	cli := func(srv *server, args ...string) (string, bool) {
		out, err := srv.cli(args...)
		return out, err == nil
	}
	must := func(out string, ok bool) string {
		t.Helper()
		if !ok {
			t.Fatalf("command failed:\n%s", out)
		}
		return out
	}
	write := func(name, text string) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Load: creates in cn-north from four clients until told to stop.
	var stop atomic.Bool
	var created atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				_, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: fmt.Sprintf("load-%d-%d", w, i), Jurisdiction: "CN",
					Fields: map[string]string{"name": "Li Lei", "email": fmt.Sprintf("l%d.%d@example.com", w, i)}}}, "")
				if err != nil {
					errs <- err
					return
				}
				created.Add(1)
			}
		})
	}
	waitFor := func(n int64) {
		for created.Load() < n && len(errs) == 0 {
			must(cli(s, "audit", "checkpoint", "--region", "cn-north")) // paces the loop and signs as it goes
		}
	}
	waitFor(30)
	kept := must(cli(s, "audit", "checkpoint", "--region", "cn-north"))
	for range 2 {
		waitFor(created.Load() + 30)
		must(cli(s, "keys", "rotate", "--region", "cn-north", "--key", "audit"))
	}
	waitFor(created.Load() + 30)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a create under load failed: %v", err)
	}
	kept += must(cli(s, "audit", "checkpoint", "--region", "cn-north"))
	keptFile := write("kept.checkpoints", kept)
	allKeys := must(cli(s, "audit", "keys", "--region", "cn-north", "--pem"))
	if n := strings.Count(allKeys, "BEGIN PUBLIC KEY"); n != 3 {
		t.Fatalf("audit keys --pem wrote %d keys, want 3:\n%s", n, allKeys)
	}
	keysFile := write("keys.pem", allKeys)
	end := "-----END PUBLIC KEY-----\n"
	twoKeys := write("two-keys.pem", strings.Join(strings.SplitAfter(allKeys, end)[:2], ""))

	// Online, with the whole history and the kept checkpoints.
	out := must(cli(s, "audit", "verify", "--region", "cn-north", "--pubkey", keysFile, "--checkpoint", keptFile))
	t.Log(out)
	if !strings.Contains(out, "kept: the log extends the 2 checkpoints you kept") || strings.Count(out, "introduced by entry") != 2 {
		t.Fatalf("online verify does not report the kept checkpoints and two key introductions:\n%s", out)
	}
	// Without the newest key: the first checkpoint it signed is named.
	hist, err := admin.AuditKeys(ctx, "cn-north")
	if err != nil {
		t.Fatal(err)
	}
	v3 := hist.Keys[2]
	wantMissing := fmt.Sprintf("checkpoint at size %d: ", v3.FirstSize)
	out, ok := cli(s, "audit", "verify", "--region", "cn-north", "--pubkey", twoKeys)
	if ok || !strings.Contains(out, wantMissing) || !strings.Contains(out, "signed by key "+v3.KeyHash) {
		t.Fatalf("online verify without v3 (ok=%v), want a failure naming %q and key %s:\n%s", ok, wantMissing, v3.KeyHash, out)
	}
	// The rotations, listed over the API: each names its key.
	out = must(cli(s, "audit", "entries", "--region", "cn-north", "--action", "key", "--json"))
	for _, k := range hist.Keys[1:] {
		if want := fmt.Sprintf(`"rule":"rotate:audit:v%d:key:%s"`, k.Version, k.Fingerprint); !strings.Contains(out, want) {
			t.Errorf("audit entries --action key does not show %s:\n%s", want, out)
		}
	}
	out = must(cli(s, "audit", "entries", "--region", "cn-north", "--action", "create", "--limit", "5"))
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 6 || !strings.HasPrefix(lines[0], "INDEX") {
		t.Errorf("audit entries --limit 5: want a header and 5 rows:\n%s", out)
	}
	s.Stop()

	// Offline, the same.
	region := filepath.Join(data, "regions", "cn-north")
	out = must(cli(s, "audit", "verify", "--region", "cn-north", "--data", region, "--pubkey", keysFile, "--checkpoint", keptFile))
	if !strings.Contains(out, "kept: the log extends the 2 checkpoints you kept") {
		t.Fatalf("offline verify:\n%s", out)
	}
	out, ok = cli(s, "audit", "verify", "--region", "cn-north", "--data", region, "--pubkey", twoKeys)
	if ok || !strings.Contains(out, wantMissing) {
		t.Fatalf("offline verify without v3 (ok=%v), want a failure naming %q:\n%s", ok, wantMissing, out)
	}

	key := func(prefix string, i uint64) []byte { return be.BigEndian.AppendUint64([]byte(prefix), i) }
	edit := func(fn func(st store.Store) error) {
		t.Helper()
		st, err := pebble.Open(region, pebble.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := fn(st); err != nil {
			t.Fatal(err)
		}
	}
	keptSize := func() uint64 {
		m := regexp.MustCompile(`(?m)^domicile/cn-north\n(\d+)\n`).FindAllStringSubmatch(kept, -1)
		var n uint64
		fmt.Sscan(m[len(m)-1][1], &n)
		return n
	}()

	// A rewritten entry, then online verify on the restarted node.
	const rewritten = 20
	var orig []byte
	edit(func(st store.Store) error {
		v, err := st.Get(ctx, key("a/e/", rewritten))
		if err != nil {
			return err
		}
		orig = append([]byte(nil), v...)
		v = append([]byte(nil), v...)
		v[len(v)-3] ^= 0x01
		var b store.Batch
		b.Put(key("a/e/", rewritten), v)
		return st.Apply(ctx, &b)
	})
	s2 := startDev(t, data, nil, "--no-seed")
	out, ok = cli(s2, "audit", "verify", "--region", "cn-north", "--pubkey", keysFile, "--checkpoint", keptFile)
	if ok || !strings.Contains(out, fmt.Sprintf("entry %d: altered", rewritten)) {
		t.Fatalf("online verify after entry %d was rewritten (ok=%v), want a failure naming it:\n%s", rewritten, ok, out)
	}
	s2.Stop()

	// The tail cut off: entries from cut on, every checkpoint past it,
	// and the tree size set back, so that the store alone is consistent.
	cut := keptSize - 40
	edit(func(st store.Store) error {
		var b store.Batch
		b.Put(key("a/e/", rewritten), orig) // this time only the tail
		es, err := st.Scan(ctx, key("a/e/", cut), store.PrefixEnd([]byte("a/e/")), 0)
		if err != nil {
			return err
		}
		for _, kv := range es {
			b.Delete(kv.Key)
		}
		cps, err := st.Scan(ctx, key("a/c/", cut+1), store.PrefixEnd([]byte("a/c/")), 0)
		if err != nil {
			return err
		}
		for _, kv := range cps {
			b.Delete(kv.Key)
		}
		b.Put([]byte("a/m/size"), be.BigEndian.AppendUint64(nil, cut))
		return st.Apply(ctx, &b)
	})
	out, ok = cli(s, "audit", "verify", "--region", "cn-north", "--data", region, "--pubkey", keysFile, "--checkpoint", keptFile)
	if ok || !strings.Contains(out, fmt.Sprintf("entry %d: truncated", cut)) {
		t.Fatalf("verify after the tail from %d was cut (ok=%v), want a failure naming entry %d:\n%s", cut, ok, cut, out)
	}
	// Online too: the node starts on the cut store and serves it.
	s3 := startDev(t, data, nil, "--no-seed")
	out, ok = cli(s3, "audit", "verify", "--region", "cn-north", "--pubkey", keysFile, "--checkpoint", keptFile)
	if ok || !strings.Contains(out, fmt.Sprintf("entry %d: truncated", cut)) {
		t.Fatalf("online verify after the tail from %d was cut (ok=%v), want a failure naming entry %d:\n%s", cut, ok, cut, out)
	}
}
