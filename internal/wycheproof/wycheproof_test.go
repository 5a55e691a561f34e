package wycheproof_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/wycheproof"
)

// sm4GCMKTV is RFC 8998 Appendix A.1 in Wycheproof form (SM4-GCM, tcId 1 of
// Wycheproof's sm4_gcm_test.json).
const sm4GCMKTV = `{"key":"0123456789abcdeffedcba9876543210","iv":"00001234567800000000abcd",` +
	`"aad":"feedfacedeadbeeffeedfacedeadbeefabaddad2",` +
	`"msg":"aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccddddddddddddddddeeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa",` +
	`"ct":"17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d",`

func aeadFile(alg string, ivSize, keySize int, tests ...string) string {
	return `{"algorithm":"` + alg + `","schema":"aead_test_schema_v1.json","testGroups":[{"ivSize":` +
		strconv.Itoa(ivSize) + `,"keySize":` + strconv.Itoa(keySize) + `,"tagSize":128,"type":"AeadTest","tests":[` +
		strings.Join(tests, ",") + `]}]}`
}

func TestRun(t *testing.T) {
	goodTag := `"tag":"83de3541e4c2b58177e065a9bf7b62ec"`
	badTag := `"tag":"83de3541e4c2b58177e065a9bf7b62ed"`
	tc := func(id, result, tag string) string {
		return sm4GCMKTV + tag + `,"tcId":` + id + `,"comment":"c","flags":["Ktv"],"result":"` + result + `"}`
	}
	tests := []struct {
		name                    string
		in                      string
		passed, failed, skipped int
		unsupported             bool
	}{
		{name: "ok/valid", in: aeadFile("SM4-GCM", 96, 128, tc("1", "valid", goodTag)), passed: 1},
		{name: "ok/invalid rejected", in: aeadFile("SM4-GCM", 96, 128, tc("1", "invalid", badTag)), passed: 1},
		{name: "ok/acceptable accepted", in: aeadFile("SM4-GCM", 96, 128, tc("1", "acceptable", goodTag)), passed: 1},
		{name: "ok/acceptable rejected", in: aeadFile("SM4-GCM", 96, 128, tc("1", "acceptable", badTag)), passed: 1},
		{name: "ok/wrong key size skipped", in: aeadFile("AES-GCM", 96, 128, tc("1", "valid", goodTag)), skipped: 1},
		{name: "ok/mixed", in: aeadFile("SM4-GCM", 96, 128, tc("1", "valid", goodTag), tc("2", "invalid", badTag), tc("3", "valid", badTag)), passed: 2, failed: 1},
		{name: "fail/valid rejected", in: aeadFile("SM4-GCM", 96, 128, tc("1", "valid", badTag)), failed: 1},
		{name: "fail/invalid accepted", in: aeadFile("SM4-GCM", 96, 128, tc("1", "invalid", goodTag)), failed: 1},
		{name: "fail/unknown result", in: aeadFile("SM4-GCM", 96, 128, tc("1", "maybe", goodTag)), failed: 1},
		{name: "fail/bad hex", in: aeadFile("SM4-GCM", 96, 128, `{"tcId":1,"key":"zz","iv":"","aad":"","msg":"","ct":"","tag":"","result":"valid"}`), failed: 1},
		{name: "fail/unsupported algorithm", in: aeadFile("CHACHA20-POLY1305", 96, 256, tc("1", "valid", goodTag)), unsupported: true},
		{name: "fail/unsupported schema", in: `{"algorithm":"AES-FF1","schema":"fpe_list_test_schema.json","testGroups":[{"tests":[{"tcId":1,"result":"valid"}]}]}`, unsupported: true},
		{name: "fail/no schema", in: `{"algorithm":"AES-GCM","testGroups":[]}`, unsupported: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := wycheproof.Run([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if (r.Unsupported != "") != tt.unsupported {
				t.Fatalf("Unsupported = %q, want unsupported=%v", r.Unsupported, tt.unsupported)
			}
			if r.Passed != tt.passed || r.Failed != tt.failed || r.Skipped != tt.skipped {
				t.Fatalf("passed/failed/skipped = %d/%d/%d, want %d/%d/%d (failures %+v)",
					r.Passed, r.Failed, r.Skipped, tt.passed, tt.failed, tt.skipped, r.Failures)
			}
			if len(r.Failures) != r.Failed {
				t.Fatalf("%d failures listed, %d counted", len(r.Failures), r.Failed)
			}
			for _, f := range r.Failures {
				if f.Group != 0 || f.TcID == 0 || f.Got == "" {
					t.Errorf("incomplete failure %+v", f)
				}
			}
		})
	}
}

func TestRunNonceSizeNeverPasses(t *testing.T) {
	// A valid 64-bit-IV case from Wycheproof aes_gcm_test.json (tcId 121
	// shape): our AEADs take 12-byte nonces only, so it must be Skipped.
	in := aeadFile("AES-GCM", 64, 256, `{"tcId":1,"comment":"","flags":[],"key":"`+strings.Repeat("00", 32)+
		`","iv":"0000000000000000","aad":"","msg":"","ct":"","tag":"`+strings.Repeat("00", 16)+`","result":"valid"}`)
	r, err := wycheproof.Run([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Passed != 0 || r.Skipped != 1 {
		t.Fatalf("got %+v, want one skipped case", r)
	}
}

func TestRunMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"fail/not json":        `{"algorithm":`,
		"fail/not an object":   `[1,2,3]`,
		"fail/group not obj":   `{"algorithm":"SM4-GCM","schema":"aead_test_schema_v1.json","testGroups":[1]}`,
		"fail/tests not array": `{"algorithm":"SM4-GCM","schema":"aead_test_schema_v1.json","testGroups":[{"tests":{}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := wycheproof.Run([]byte(in)); err == nil {
				t.Fatal("Run succeeded on malformed input")
			}
		})
	}
	if _, err := wycheproof.RunFile("testdata/does-not-exist.json"); err == nil {
		t.Fatal("RunFile succeeded on a missing file")
	}
}

func TestRunMAC(t *testing.T) {
	// Wycheproof hmac_sha256_test.json tcId 1 (full and a 128-bit
	// truncation of the same tag).
	const key = "1e225cafb90339bba1b24076d4206c3e79c355805d851682bc818baa4f5a7779"
	const tag = "b175b57d89ea6cb606fb3363f2538abd73a4c00b4a1386905bac809004cf1933"
	file := func(tagSize int, tag, result string) string {
		return `{"algorithm":"HMACSHA256","schema":"mac_test_schema_v1.json","testGroups":[{"keySize":256,"tagSize":` +
			strconv.Itoa(tagSize) + `,"tests":[{"tcId":1,"key":"` + key + `","msg":"","tag":"` + tag + `","result":"` + result + `"}]}]}`
	}
	for _, tt := range []struct {
		name   string
		in     string
		passed int
	}{
		{"ok/full", file(256, tag, "valid"), 1},
		{"ok/truncated", file(128, tag[:32], "valid"), 1},
		{"ok/truncated modified", file(128, "00"+tag[2:32], "invalid"), 1},
		{"fail/full tag in truncated group", file(128, tag, "valid"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := wycheproof.Run([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if r.Passed != tt.passed || r.Passed+r.Failed != 1 {
				t.Fatalf("got %+v, want %d passed", r, tt.passed)
			}
		})
	}
}
