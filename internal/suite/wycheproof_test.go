package suite_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/domicile/domicile/internal/wycheproof"
)

// wycheproofGroup holds the group parameters that decide whether a case
// applies to a suite primitive.
type wycheproofGroup struct {
	IVSize  int               `json:"ivSize"`
	KeySize int               `json:"keySize"`
	TagSize int               `json:"tagSize"`
	Tests   []json.RawMessage `json:"tests"`
}

// wycheproofFiles lists every Wycheproof file in testdata/wycheproof (copied
// from C2SP/wycheproof, Apache-2.0, see testdata/wycheproof/LICENSE) with
// the cases that apply to the suite primitive and the smallest share of the
// file's cases that must pass.
var wycheproofFiles = []struct {
	file string
	// applies reports whether a group's cases run (nil: all do).
	applies  func(g wycheproofGroup) bool
	minShare float64
}{
	// Only AES-256 with 96-bit IVs and 128-bit tags is AES-256-GCM; the
	// AES-128/192 groups and other IV sizes are skipped.
	{"aes_gcm_test.json", func(g wycheproofGroup) bool { return g.KeySize == 256 && g.IVSize == 96 && g.TagSize == 128 }, 0.20},
	{"sm4_gcm_test.json", func(g wycheproofGroup) bool { return g.KeySize == 128 && g.IVSize == 96 && g.TagSize == 128 }, 0.60},
	{"hmac_sha256_test.json", nil, 1},
	{"hmac_sm3_test.json", nil, 1},
	{"hkdf_sha256_test.json", nil, 1},
	{"ecdsa_secp256r1_sha256_test.json", nil, 1},
	{"ed25519_test.json", nil, 1},
}

// TestWycheproof runs every Wycheproof file in testdata in full.
func TestWycheproof(t *testing.T) {
	listed := map[string]bool{}
	for _, tt := range wycheproofFiles {
		listed[tt.file] = true
		t.Run("ok/"+tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "wycheproof", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var f struct {
				NumberOfTests int               `json:"numberOfTests"`
				TestGroups    []wycheproofGroup `json:"testGroups"`
			}
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			total, applicable := 0, 0
			for _, g := range f.TestGroups {
				total += len(g.Tests)
				if tt.applies == nil || tt.applies(g) {
					applicable += len(g.Tests)
				}
			}
			if total != f.NumberOfTests {
				t.Fatalf("file has %d tests, numberOfTests says %d", total, f.NumberOfTests)
			}

			r, err := wycheproof.Run(data)
			if err != nil {
				t.Fatal(err)
			}
			if r.Unsupported != "" {
				t.Fatalf("unsupported: %s", r.Unsupported)
			}
			for _, fl := range r.Failures {
				t.Errorf("group %d tcId %d (%s): want %s, got %s", fl.Group, fl.TcID, fl.Comment, fl.Want, fl.Got)
			}
			if r.Failed != 0 {
				t.Fatalf("%d of %d cases failed", r.Failed, total)
			}
			if r.Passed+r.Skipped != total {
				t.Fatalf("passed %d + skipped %d != %d cases", r.Passed, r.Skipped, total)
			}
			if r.Passed != applicable {
				t.Fatalf("passed %d cases, want exactly the %d applicable ones (skipped %d)", r.Passed, applicable, r.Skipped)
			}
			if share := float64(r.Passed) / float64(total); share < tt.minShare {
				t.Fatalf("only %.0f%% of cases passed, want at least %.0f%%", 100*share, 100*tt.minShare)
			}
			t.Logf("%s %s: passed %d, skipped %d of %d", r.Schema, r.Algorithm, r.Passed, r.Skipped, total)
		})
	}
	// Every file in testdata must be listed, so none is silently ignored.
	all, err := filepath.Glob(filepath.Join("testdata", "wycheproof", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if !listed[filepath.Base(p)] {
			t.Errorf("%s is in testdata but not run", p)
		}
	}
}
