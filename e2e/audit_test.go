package e2e

import (
	"context"
	be "encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/seed"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/store/pebble"
	"github.com/emmansun/gmsm/sm3"
)

// TestAuditLog runs a mixed workload of more than 1,000 operations, then
// checks offline with the real CLI that cn-north's log verifies, that each
// edit of a copy of its data directory is caught with the first bad entry
// named, and that no submitted value sits in the audit data.
func TestAuditLog(t *testing.T) {
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	ctx := context.Background()
	admin := s.client(t)
	// Several readers, each within the guard's budgets: this is normal
	// traffic, not a drain.
	var readers []*client.Client
	for i := range 5 {
		readers = append(readers, s.principal(t, fmt.Sprintf("admin-cn-%d", i), "CN", "admin").ForPurpose("support"))
	}
	g := seed.New(11)
	var ids []string
	var values []string
	ops := 0
	for i := range 350 {
		c := g.Customer("CN")
		for _, v := range c.Fields {
			values = append(values, v)
		}
		out, err := admin.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: c.SubjectID, Jurisdiction: "CN", Fields: c.Fields}}, fmt.Sprintf("k%d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.Records[0].ID)
		ops++
	}
	for i, id := range ids {
		local := readers[i%len(readers)]
		if _, err := local.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		ops++
		switch i % 6 {
		case 0:
			if _, err := local.Search(ctx, "customers", client.SearchRequest{Field: "email", Value: fmt.Sprintf("nobody%d@example.com", i), Jurisdiction: "CN"}); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := admin.Patch(ctx, id, client.PatchRequest{Set: map[string]string{"address": "上海市徐汇区"}}); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := admin.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := admin.Tokenize(ctx, []client.TokenizeItem{{Collection: "customers", Field: "email", Value: fmt.Sprintf("t%d@example.com", i), Jurisdiction: "CN"}}); err != nil {
				t.Fatal(err)
			}
		case 4:
			if _, err := s.principal(t, fmt.Sprintf("ana%d", i), "CN", "ingest").Get(ctx, id); client.CodeOf(err) != "permission_denied" {
				t.Fatalf("denial: %v", err)
			}
		default:
			if _, err := admin.Keys(ctx, "cn-north"); err != nil {
				t.Fatal(err)
			}
		}
		ops++
	}
	if ops < 1000 {
		t.Fatalf("only %d operations", ops)
	}
	// An inclusion proof served by the API checks out with an independent
	// RFC 9162 verification written here, over SM3.
	for _, idx := range []uint64{0, 10, 777} {
		e, err := admin.AuditEntry(ctx, "cn-north", idx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := admin.AuditInclusion(ctx, "cn-north", idx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Hash != "SM3" {
			t.Fatalf("cn-north's tree hash is %s", p.Hash)
		}
		if !verifyInclusion(sm3sum, e.Raw, idx, p.Size, p.Hashes, p.Root) {
			t.Fatalf("inclusion proof of entry %d in a tree of %d does not verify", idx, p.Size)
		}
	}
	pub, err := admin.AuditPublicKey(ctx, "cn-north")
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "cn-north.pem")
	os.WriteFile(pubFile, pub, 0o600)
	s.Stop()

	region := filepath.Join(data, "regions", "cn-north")
	verify := func(dir string) (string, bool) {
		out, err := exec.Command(binary, "audit", "verify", "--region", "cn-north", "--data", dir, "--pubkey", pubFile).CombinedOutput()
		return string(out), err == nil
	}
	out, ok := verify(region)
	if !ok || !strings.Contains(out, "ok:") {
		t.Fatalf("the untouched log does not verify:\n%s", out)
	}
	t.Log(strings.TrimSpace(out))

	// Each edit on a fresh copy of the region's directory.
	key := func(prefix string, i uint64) []byte { return be.BigEndian.AppendUint64([]byte(prefix), i) }
	for _, tc := range []struct {
		name string
		edit func(st store.Store) error
		want string
	}{
		{"fail/one-byte-of-one-entry", func(st store.Store) error {
			v, err := st.Get(ctx, key("a/e/", 500))
			if err != nil {
				return err
			}
			v = append([]byte(nil), v...)
			v[len(v)-3] ^= 0x01
			var b store.Batch
			b.Put(key("a/e/", 500), v)
			return st.Apply(ctx, &b)
		}, "entry 500"},
		{"fail/delete-one-entry", func(st store.Store) error {
			var b store.Batch
			b.Delete(key("a/e/", 300))
			return st.Apply(ctx, &b)
		}, "entry 300"},
		{"fail/swap-two-entries", func(st store.Store) error {
			x, err := st.Get(ctx, key("a/e/", 200))
			if err != nil {
				return err
			}
			y, err := st.Get(ctx, key("a/e/", 700))
			if err != nil {
				return err
			}
			var b store.Batch
			b.Put(key("a/e/", 200), y)
			b.Put(key("a/e/", 700), x)
			return st.Apply(ctx, &b)
		}, "entry 200"},
		{"fail/replace-a-checkpoint", func(st store.Store) error {
			cps, err := st.Scan(ctx, []byte("a/c/"), store.PrefixEnd([]byte("a/c/")), 0)
			if err != nil || len(cps) < 2 {
				return fmt.Errorf("want two checkpoints, have %d (%v)", len(cps), err)
			}
			var b store.Batch
			b.Put(cps[len(cps)-1].Key, cps[0].Value)
			return st.Apply(ctx, &b)
		}, "checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cn-north")
			if err := os.CopyFS(dir, os.DirFS(region)); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, "LOCK"))
			st, err := pebble.Open(dir, pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(st); err != nil {
				t.Fatal(err)
			}
			st.Close()
			out, ok := verify(dir)
			if ok || !strings.Contains(out, tc.want) {
				t.Fatalf("verify after the edit (ok=%v), want a failure naming %q:\n%s", ok, tc.want, out)
			}
		})
	}

	// No submitted value in the audit data (the export holds every entry).
	exp, err := exec.Command(binary, "audit", "export", "--region", "cn-north", "--data", region).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if len(v) >= 6 && strings.Contains(string(exp), v) {
			t.Errorf("the audit export holds a submitted value")
		}
	}
	if !strings.Contains(string(exp), `"action":"read"`) || !strings.Contains(string(exp), `"outcome":"denied"`) {
		t.Errorf("the export lacks reads or denials")
	}
	// Entries of CN operations exist only in cn-north's log.
	for _, other := range []string{"us-east", "eu-central", "ru-central"} {
		exp, err := exec.Command(binary, "audit", "export", "--region", other, "--data", filepath.Join(data, "regions", other)).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if strings.Contains(string(exp), id) {
				t.Fatalf("%s's audit log names a CN record", other)
			}
		}
	}
}

func sm3sum(b []byte) []byte { s := sm3.Sum(b); return s[:] }

// verifyInclusion checks an RFC 9162 (section 2.1.3.2) inclusion proof of
// leaf data at index in a tree of size with root, independently of the
// project's code.
func verifyInclusion(h func([]byte) []byte, data []byte, index, size uint64, path [][]byte, root []byte) bool {
	if index >= size {
		return false
	}
	fn, sn := index, size-1
	r := h(append([]byte{0}, data...))
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = h(append(append([]byte{1}, p...), r...))
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = h(append(append([]byte{1}, r...), p...))
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && string(r) == string(root)
}
