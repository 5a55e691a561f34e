package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tdlog "github.com/transparency-dev/formats/log"
	tdnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/audit/checkpoint"
)

// TestWitnessCosigns: a witness started with the real binary cosigns the
// checkpoints of the regions it is given, `domicile dev --witness URL`
// stores the cosignatures with its checkpoints, and the checkpoint the API
// serves verifies with the witness's vkey, by Domicile's own check and by
// x/mod's note with transparency-dev's cosignature verifier. After a
// restart of the region (which forgot the size the witness holds) and of
// the witness (which did not), the next checkpoint is cosigned too.
func TestWitnessCosigns(t *testing.T) {
	t.Parallel() // mostly waiting (leases, key reloads, baselines): overlaps with the other long tests
	ctx := context.Background()
	data := t.TempDir()
	dir := t.TempDir()
	regions := map[string]string{"cn-north": "CN", "eu-central": "DE"}

	// The regions' audit keys, from a first start.
	s := startDev(t, data, nil, "--no-seed")
	var logArgs []string
	for region := range regions {
		pem, err := s.client(t).AuditPublicKey(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, region+".pem")
		if err := os.WriteFile(file, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		logArgs = append(logArgs, "--log", "domicile/"+region+"="+file)
	}
	s.Stop()

	// The witness.
	keygen := exec.Command(binary, "witness", "keygen", "--name", "witness.example/e2e", "--out", filepath.Join(dir, "w"))
	vkeyOut, err := keygen.Output()
	if err != nil {
		t.Fatalf("witness keygen: %v", err)
	}
	vkeyFile, err := os.ReadFile(filepath.Join(dir, "w.vkey"))
	if err != nil || !bytes.Equal(vkeyFile, vkeyOut) {
		t.Fatalf("vkey file %q (%v), printed %q", vkeyFile, err, vkeyOut)
	}
	wkey, err := checkpoint.ParseWitnessKey(string(vkeyFile))
	if err != nil {
		t.Fatal(err)
	}
	stdKey, err := tdnote.NewVerifierForCosignatureV1(strings.TrimSpace(string(vkeyFile)))
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	witnessArgs := append([]string{"witness", "serve", "--key", filepath.Join(dir, "w.skey"), "--state", state, "--listen", "127.0.0.1:0"}, logArgs...)
	w := startProc(t, nil, witnessArgs...)

	// cosigned writes a record in each region and returns the checkpoint
	// the API serves once it carries the witness's cosignature.
	cosigned := func(s *server, round int) map[string]*checkpoint.Signed {
		t.Helper()
		out := map[string]*checkpoint.Signed{}
		for region, j := range regions {
			if _, err := s.client(t).Create(ctx, []client.NewRecord{customer(fmt.Sprintf("w-%d", round), j, round)}, ""); err != nil {
				t.Fatal(err)
			}
			var cp []byte
			var verr error
			for try := 0; try < 100; try++ { // the witness answers within the request; retries only ride out races
				cp, err = s.client(t).AuditCheckpoint(ctx, region)
				if err != nil {
					t.Fatal(err)
				}
				if _, verr = wkey.Verify(cp); verr == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if verr != nil {
				t.Fatalf("%s: %v\n%s\nregion stderr:\n%s\nwitness stderr:\n%s", region, verr, cp, s.stderr, w.stderr)
			}
			// Stock tools: note.Open with the cosignature/v1 verifier, and
			// the checkpoint parser with the region's origin.
			n, err := note.Open(cp, note.VerifierList(stdKey))
			if err != nil || len(n.Sigs) != 1 || n.Sigs[0].Name != "witness.example/e2e" {
				t.Fatalf("%s: note.Open: %+v, %v\n%s", region, n, err, cp)
			}
			if _, err := tdnote.CoSigV1Timestamp(n.Sigs[0]); err != nil {
				t.Fatal(err)
			}
			parsed, _, _, err := tdlog.ParseCheckpoint(cp, "domicile/"+region, stdKey)
			if err != nil {
				t.Fatalf("%s: ParseCheckpoint with the witness as the only known key: %v", region, err)
			}
			sc, err := checkpoint.Parse(cp)
			if err != nil || sc.Size != parsed.Size || sc.Sigs[0].Name != "domicile/"+region {
				t.Fatalf("%s: %+v, %v", region, sc, err)
			}
			out[region] = sc
		}
		return out
	}

	s = startDev(t, data, nil, "--no-seed", "--witness", w.URL)
	first := cosigned(s, 1)
	s.Stop()

	// Restart both: the region's client learns the witness's size from
	// its 409 answer; the witness kept its state on disk.
	w.Stop()
	w = startProc(t, nil, witnessArgs...)
	s = startDev(t, data, nil, "--no-seed", "--witness", w.URL)
	second := cosigned(s, 2)
	for region := range regions {
		if second[region].Size <= first[region].Size {
			t.Fatalf("%s: checkpoint at %d after %d", region, second[region].Size, first[region].Size)
		}
	}
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, "witness") && (strings.Contains(line, "cn-north") || strings.Contains(line, "eu-central")) {
			t.Errorf("region logged a witness error: %s", line)
		}
	}
	// An auditor's verify, online, requiring the witness: it names how far
	// the witness cosigned; with another witness's key it fails.
	for region := range regions {
		cmd := exec.Command(binary, "audit", "verify", "--region", region, "--pubkey", filepath.Join(dir, region+".pem"), "--witness", strings.TrimSpace(string(vkeyFile)))
		cmd.Env = append(os.Environ(), "DOMICILE_ADDR="+s.URL, "DOMICILE_TOKEN="+s.Token)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "witness witness.example/e2e: cosigned through size") {
			t.Fatalf("%s: audit verify --witness: %v\n%s", region, err, out)
		}
	}
	_, otherVKey, err := note.GenerateKey(rand.Reader, "witness.example/other")
	if err != nil {
		t.Fatal(err)
	}
	if otherVKey, err = tdnote.VKeyToCosignatureV1(otherVKey); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "audit", "verify", "--region", "cn-north", "--pubkey", filepath.Join(dir, "cn-north.pem"), "--witness", otherVKey)
	cmd.Env = append(os.Environ(), "DOMICILE_ADDR="+s.URL, "DOMICILE_TOKEN="+s.Token)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no checkpoint is cosigned by witness witness.example/other") {
		t.Fatalf("audit verify with a witness that cosigned nothing: %v\n%s", err, out)
	}
	s.Stop()
	ents, err := os.ReadDir(state)
	if err != nil || len(ents) != len(regions) {
		t.Fatalf("witness state: %v, %v", ents, err)
	}
}
