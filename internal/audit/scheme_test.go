package audit

import (
	"context"
	"crypto"
	"crypto/rand"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/suite"
)

// TestSignerChangesScheme: a region that migrated suite signs its next
// checkpoints with the new suite's key (keyring.Migrate makes it the
// current audit version). The checkpoints name that scheme, and the log
// verifies with the keys of both schemes, not with the old one's alone.
func TestSignerChangesScheme(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, suite.IntlSuite())
	sm2Key, err := suite.CNSuite().Signature().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[crypto.Signer]
	cur.Store(&e.priv)
	e.opts.Signer = func() (crypto.Signer, error) { return *cur.Load(), nil }
	l := e.open(t)
	for i := range 5 {
		if err := l.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(&sm2Key)
	for i := 5; i < 9; i++ {
		if err := l.AppendNow(ctx, sampleEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	second, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("checkpoint with the new scheme's key: %v", err)
	}
	if !strings.Contains(string(first), "alg ECDSA-P256/SHA-256\n") || !strings.Contains(string(second), "alg SM2/SHA-256\n") {
		t.Fatalf("checkpoints name %q and %q", first, second)
	}
	both, err := checkpoint.NewKeySetOf(suite.SHA256(),
		checkpoint.Key{Public: e.priv.Public(), Sig: suite.ECDSAP256()}, checkpoint.Key{Public: sm2Key.Public(), Sig: suite.SM2()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, StoreReader(e.st, suite.SHA256()), VerifyOptions{Keys: both})
	if err != nil {
		t.Fatalf("verify with both keys: %v", err)
	}
	if rep.Checkpoints != 2 || rep.Keys[0].Checkpoints != 1 || rep.Keys[1].Checkpoints != 1 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := Verify(ctx, StoreReader(e.st, suite.SHA256()), VerifyOptions{Keys: testKeys(t, suite.ECDSAP256(), suite.SHA256(), e.priv.Public())}); err == nil {
		t.Fatal("a log with SM2 checkpoints verified with the ECDSA key alone")
	}
}
