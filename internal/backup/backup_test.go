package backup_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/backup"
	"github.com/domicile/domicile/internal/signed"
	"github.com/domicile/domicile/internal/suite"
)

const origin = "domicile/eu-central"

// fixture is a backup streamed and received: the stream's bytes, the
// received directory and the key that signed it.
type fixture struct {
	su     suite.Suite
	stream []byte
	dir    string
	key    crypto.Signer
}

func newFixture(t *testing.T, su suite.Suite) *fixture {
	t.Helper()
	src := t.TempDir()
	for name, body := range map[string]string{"000001.sst": strings.Repeat("s", 5000), "MANIFEST-000001": "m", "OPTIONS-000002": "o", "000003.log": ""} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key, err := su.Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := backup.Manifest{Format: backup.Format, Region: "eu-central", Suite: string(su.ID()), Store: "pebble",
		Created: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Audit: backup.AuditState{Size: 3, Root: "00", Checkpoint: "cp"}}
	var buf bytes.Buffer
	err = backup.Write(context.Background(), &buf, src, su.Hash(), func(files []backup.File) ([]byte, error) {
		m.Files = files
		payload, err := json.Marshal(&m)
		if err != nil {
			return nil, err
		}
		env, err := signed.Sign(backup.Kind, payload, origin, key, su.Signature(), su.Hash(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return backup.MarshalSigned(env)
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	if _, err := backup.Receive(context.Background(), bytes.NewReader(buf.Bytes()), dir, nil); err != nil {
		t.Fatal(err)
	}
	return &fixture{su: su, stream: buf.Bytes(), dir: dir, key: key}
}

func (f *fixture) verify(t *testing.T, keys ...crypto.PublicKey) error {
	t.Helper()
	s, err := backup.Open(f.dir)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		keys = []crypto.PublicKey{f.key.Public()}
	}
	if err := s.VerifySignature(origin, keys, f.su.Signature(), f.su.Hash()); err != nil {
		return err
	}
	return backup.CopyStore(f.dir, filepath.Join(t.TempDir(), "restored"), s.Manifest, f.su.Hash(), nil)
}

func TestBackup(t *testing.T) {
	for _, su := range []suite.Suite{suite.IntlSuite(), suite.CNSuite()} {
		t.Run(string(su.ID()), func(t *testing.T) {
			testBackup(t, su)
		})
	}
}

func testBackup(t *testing.T, su suite.Suite) {
	store := func(f *fixture, name string) string { return filepath.Join(f.dir, backup.StoreDir, name) }
	t.Run("ok/roundtrip", func(t *testing.T) {
		f := newFixture(t, su)
		if err := f.verify(t); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, f *fixture)
	}{
		{"fail/tampered-file", func(t *testing.T, f *fixture) {
			b, _ := os.ReadFile(store(f, "000001.sst"))
			b[100] ^= 1
			os.WriteFile(store(f, "000001.sst"), b, 0o600)
		}},
		{"fail/truncated-file", func(t *testing.T, f *fixture) {
			os.Truncate(store(f, "000001.sst"), 4000)
		}},
		{"fail/grown-file", func(t *testing.T, f *fixture) {
			os.WriteFile(store(f, "000003.log"), []byte("x"), 0o600)
		}},
		{"fail/missing-file", func(t *testing.T, f *fixture) {
			os.Remove(store(f, "OPTIONS-000002"))
		}},
		{"fail/extra-file", func(t *testing.T, f *fixture) {
			os.WriteFile(store(f, "000009.sst"), []byte("x"), 0o600)
		}},
		{"fail/edited-manifest", func(t *testing.T, f *fixture) {
			p := filepath.Join(f.dir, backup.ManifestFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"size":3`), []byte(`"size":2`), 1), 0o600)
		}},
		{"fail/no-manifest", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.dir, backup.ManifestFile))
		}},
		{"fail/truncated-manifest", func(t *testing.T, f *fixture) {
			p := filepath.Join(f.dir, backup.ManifestFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, su)
			tc.edit(t, f)
			if err := f.verify(t); !errors.Is(err, backup.ErrInvalid) {
				t.Fatalf("verify: %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("fail/wrong-key", func(t *testing.T) {
		f := newFixture(t, su)
		other, _ := su.Signature().GenerateKey(rand.Reader)
		if err := f.verify(t, other.Public()); !errors.Is(err, backup.ErrInvalid) {
			t.Fatalf("verify with another key: %v, want ErrInvalid", err)
		}
	})
	t.Run("fail/truncated-stream", func(t *testing.T) {
		f := newFixture(t, su)
		// A cut after the manifest's last byte loses only the tar's
		// trailer: the backup is whole, and verifies.
		inManifest := bytes.Index(f.stream, []byte(`{"algorithm"`)) + 10
		for _, n := range []int{0, 100, len(f.stream) / 2, inManifest} {
			dir := filepath.Join(t.TempDir(), "cut")
			_, err := backup.Receive(context.Background(), bytes.NewReader(f.stream[:n]), dir, nil)
			if !errors.Is(err, backup.ErrInvalid) {
				t.Fatalf("a stream cut at %d of %d bytes: %v, want ErrInvalid", n, len(f.stream), err)
			}
			if _, err := os.Stat(filepath.Join(dir, backup.ManifestFile)); err == nil {
				t.Fatalf("a stream cut at %d left a manifest", n)
			}
		}
	})
	t.Run("fail/not-empty", func(t *testing.T) {
		f := newFixture(t, su)
		if _, err := backup.Receive(context.Background(), bytes.NewReader(f.stream), f.dir, nil); err == nil {
			t.Fatal("a backup was received into a directory that holds one")
		}
	})
}

func TestReadJournal(t *testing.T) {
	refA, refB := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	line := func(v any) string { b, _ := json.Marshal(v); return string(b) + "\n" }
	at := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	in := line(map[string]any{"region": "eu-central", "time": at, "action": "erase", "subjects": [][]byte{refA}, "outcome": "ok"}) +
		line(map[string]any{"region": "eu-central", "time": at, "action": "read", "subjects": [][]byte{refB}, "outcome": "ok"}) +
		line(map[string]any{"region": "eu-central", "time": at, "action": "erase", "subjects": [][]byte{refB}, "outcome": "error:internal_error"}) +
		"\n" +
		line(map[string]any{"type": "header", "format": "domicile-audit-export/v1"}) +
		line(map[string]any{"type": "entry", "entry": map[string]any{"region": "eu-central", "time": at, "action": "erase", "subjects": [][]byte{refB, refA}, "outcome": "ok"}})
	got, err := backup.ReadJournal(strings.NewReader(in), "eu-central")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0].Ref, refA) || !bytes.Equal(got[1].Ref, refB) || !got[0].Time.Equal(at) {
		t.Fatalf("journal: %+v", got)
	}
	for name, bad := range map[string]string{
		"fail/other-region": line(map[string]any{"region": "cn-north", "time": at, "action": "erase", "subjects": [][]byte{refA}, "outcome": "ok"}),
		"fail/not-json":     "erase everything\n",
		"fail/no-time":      line(map[string]any{"region": "eu-central", "action": "erase", "subjects": [][]byte{refA}, "outcome": "ok"}),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := backup.ReadJournal(strings.NewReader(bad), "eu-central"); err == nil {
				t.Fatal("a bad journal was read")
			}
		})
	}
}
