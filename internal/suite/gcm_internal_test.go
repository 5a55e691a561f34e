package suite

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestSM4GCMAssembly checks that SM4-GCM runs on gmsm's assembly GCM
// (reached through crypto/cipher's gcmAble hook) rather than crypto/cipher's
// generic gcmFallback, which is several times slower.
func TestSM4GCMAssembly(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no SM4-GCM assembly on %s", runtime.GOARCH)
	}
	a, err := SM4GCM().New(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	inner := fmt.Sprintf("%T", a.(opaqueAEAD).AEAD)
	if strings.Contains(inner, "gcmFallback") || !strings.Contains(inner, "sm4.") {
		t.Fatalf("SM4-GCM is %s, want gmsm's assembly GCM", inner)
	}
}
