// Package wycheproof runs Wycheproof test vector files
// (https://github.com/C2SP/wycheproof) against the primitives of package
// suite.
//
// Supported files, by "schema" and "algorithm":
//
//	aead_test_schema        AES-GCM (as AES-256-GCM), SM4-GCM
//	mac_test_schema         HMACSHA256, HMACSM3 (truncated tags compare the truncated tag)
//	hkdf_test_schema        HKDF-SHA-256
//	ecdsa_verify_schema     ECDSA over secp256r1 with SHA-256, ASN.1 DER signatures
//	eddsa_verify_schema     EDDSA over edwards25519 (Ed25519)
//
// Both the "_v1" and the older schema names are accepted. Any other file
// yields a Result with Unsupported set and all counts zero: it is never
// reported as passed.
//
// Each test case counts once, as Passed, Failed or Skipped:
//
//   - "valid" cases pass only if the primitive accepts them and, where the
//     file gives an output (ciphertext, tag, key material), produces exactly
//     that output;
//   - "invalid" cases pass only if the primitive rejects them;
//   - "acceptable" cases (legal but discouraged inputs) pass whether the
//     primitive accepts or rejects them, as long as it neither panics nor
//     produces a wrong output when it accepts;
//   - cases whose parameters the suite's primitive does not take are
//     Skipped: AEAD nonces other than 12 bytes, tags other than 16 bytes,
//     keys of another size than the AEAD's (AES-128 and AES-192 under
//     AES-256-GCM), groups for other curves or hashes. A skipped AEAD case
//     whose nonce has the wrong size is still opened once, and counts as
//     Failed if Open does not return an error.
//
// A panic inside a primitive is recovered and counted as a failure.
package wycheproof

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Result is the outcome of one file.
type Result struct {
	// Schema and Algorithm are copied from the file.
	Schema, Algorithm string
	// Passed, Failed and Skipped count test cases; they add up to the
	// number of test cases in the file unless Unsupported is set.
	Passed, Failed, Skipped int
	// Failures has one entry per failed test case, in file order.
	Failures []Failure
	// Unsupported is non-empty when the file's schema or algorithm is not
	// supported; it says why, and then all counts are zero.
	Unsupported string
}

// Failure describes one failed test case.
type Failure struct {
	// Group is the 0-based index of the test group in "testGroups"; TcID
	// is the case's "tcId".
	Group, TcID int
	// Comment is the case's comment, with its flags appended in brackets.
	Comment string
	// Want is the file's expected result; Got says what happened.
	Want, Got string
}

// Run runs every test case of a Wycheproof JSON file held in data. It
// returns an error only when data is not a readable Wycheproof JSON document;
// test case failures are reported in the Result.
func Run(data []byte) (Result, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return Result{}, fmt.Errorf("wycheproof: malformed JSON: %w", err)
	}
	res := Result{Schema: f.Schema, Algorithm: f.Algorithm}
	if f.Schema == "" {
		res.Unsupported = "file has no \"schema\""
		return res, nil
	}
	r, why := runnerFor(f.Schema, f.Algorithm)
	if r == nil {
		res.Unsupported = why
		return res, nil
	}
	for gi, raw := range f.TestGroups {
		g, err := r.group(raw)
		if err != nil {
			return Result{}, fmt.Errorf("wycheproof: test group %d: %w", gi, err)
		}
		for _, tc := range g.cases {
			res.record(gi, tc, runCase(g, tc))
		}
	}
	return res, nil
}

// RunFile reads the Wycheproof JSON file at path and runs it like Run.
func RunFile(path string) (Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Result{}, fmt.Errorf("wycheproof: %w", err)
	}
	return Run(data)
}

// file is the part of a Wycheproof file common to every schema.
type file struct {
	Algorithm  string            `json:"algorithm"`
	Schema     string            `json:"schema"`
	TestGroups []json.RawMessage `json:"testGroups"`
}

// testCase is the part of a test case common to every schema; the
// schema-specific fields are in raw.
type testCase struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"`
	raw     json.RawMessage
}

// outcome is what one case did.
type outcome struct {
	skipped  bool
	accepted bool   // the primitive accepted the input
	wrong    string // non-empty: accepted but produced a wrong output
	detail   string // why it was rejected or skipped
}

// group is a decoded test group bound to its runner.
type group struct {
	cases []testCase
	// run runs one case. It may panic; runCase recovers.
	run func(tc testCase) outcome
}

// runner decodes the groups of one schema.
type runner interface {
	group(raw json.RawMessage) (*group, error)
}

func normSchema(s string) string {
	s = strings.TrimSuffix(s, ".json")
	return strings.TrimSuffix(s, "_v1")
}

// runnerFor returns the runner for a schema and algorithm, or nil and why
// there is none.
func runnerFor(schema, alg string) (runner, string) {
	s := normSchema(schema)
	unsupported := fmt.Sprintf("algorithm %q is not supported for schema %q", alg, schema)
	switch s {
	case "aead_test_schema":
		if r := newAEADRunner(alg); r != nil {
			return r, ""
		}
		return nil, unsupported + " (supported: AES-GCM, SM4-GCM)"
	case "mac_test_schema":
		if r := newMACRunner(alg); r != nil {
			return r, ""
		}
		return nil, unsupported + " (supported: HMACSHA256, HMACSM3)"
	case "hkdf_test_schema":
		if r := newHKDFRunner(alg); r != nil {
			return r, ""
		}
		return nil, unsupported + " (supported: HKDF-SHA-256)"
	case "ecdsa_verify_schema":
		if alg == "ECDSA" {
			return ecdsaRunner{}, ""
		}
		return nil, unsupported + " (supported: ECDSA)"
	case "eddsa_verify_schema":
		if alg == "EDDSA" {
			return eddsaRunner{}, ""
		}
		return nil, unsupported + " (supported: EDDSA)"
	}
	return nil, fmt.Sprintf("schema %q is not supported (supported: aead, mac, hkdf, ecdsa_verify, eddsa_verify)", schema)
}

// decodeGroup unmarshals a group's own fields into g and splits its tests.
func decodeGroup(raw json.RawMessage, g any) ([]testCase, error) {
	if err := json.Unmarshal(raw, g); err != nil {
		return nil, err
	}
	var t struct {
		Tests []json.RawMessage `json:"tests"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	cases := make([]testCase, len(t.Tests))
	for i, r := range t.Tests {
		if err := json.Unmarshal(r, &cases[i]); err != nil {
			return nil, fmt.Errorf("test %d: %w", i, err)
		}
		cases[i].raw = r
	}
	return cases, nil
}

// runCase runs one case, turning a panic into a rejection with a note.
func runCase(g *group, tc testCase) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = outcome{wrong: fmt.Sprintf("panic: %v", p)}
		}
	}()
	return g.run(tc)
}

// record classifies the outcome of one case against its expected result.
func (r *Result) record(gi int, tc testCase, o outcome) {
	fail := func(got string) {
		r.Failed++
		comment := tc.Comment
		if len(tc.Flags) > 0 {
			comment += " [" + strings.Join(tc.Flags, ", ") + "]"
		}
		r.Failures = append(r.Failures, Failure{Group: gi, TcID: tc.TcID, Comment: strings.TrimSpace(comment), Want: tc.Result, Got: got})
	}
	if o.wrong != "" {
		fail(o.wrong)
		return
	}
	if o.skipped {
		r.Skipped++
		return
	}
	switch tc.Result {
	case "valid":
		if !o.accepted {
			fail("rejected: " + o.detail)
			return
		}
	case "invalid":
		if o.accepted {
			fail("accepted")
			return
		}
	case "acceptable":
		// Either way is fine.
	default:
		fail(fmt.Sprintf("unknown result %q in file", tc.Result))
		return
	}
	r.Passed++
}

// hexBytes is a hex string in a test vector.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("bad hex %q: %w", s, err)
	}
	*h = d
	return nil
}

// caseFields decodes the schema-specific fields of tc into v.
func caseFields(tc testCase, v any) error {
	if err := json.Unmarshal(tc.raw, v); err != nil {
		return fmt.Errorf("test %d: %w", tc.TcID, err)
	}
	return nil
}

// mismatch describes a wrong output.
func mismatch(what string, got, want []byte) string {
	return fmt.Sprintf("wrong %s: got %x, want %x", what, got, want)
}

// rejected is an outcome for an input the primitive refused.
func rejected(err error) outcome {
	if err == nil {
		err = errors.New("rejected")
	}
	return outcome{detail: err.Error()}
}

// same reports whether a accepted output equals want, as an outcome.
func same(what string, got, want []byte) outcome {
	if !bytes.Equal(got, want) {
		return outcome{accepted: true, wrong: mismatch(what, got, want)}
	}
	return outcome{accepted: true}
}
