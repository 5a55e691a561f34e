package api

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/transfer"
)

// TestOpenAPITransferReport checks the documented transfer report: its
// example is a report signed by the key its description shows, the
// readable copy is the payload, and the signed format is the code's.
func TestOpenAPITransferReport(t *testing.T) {
	doc := loadDoc(t)
	schemas := obj(t, obj(t, doc, "components", "document"), "schemas", "components")
	s := obj(t, schemas, "TransferReport", "schemas")
	examples, _ := s["examples"].([]any)
	if len(examples) != 1 {
		t.Fatalf("TransferReport: %d examples, want 1", len(examples))
	}
	raw, err := json.Marshal(examples[0])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ex client.TransferReport
	if err := dec.Decode(&ex); err != nil {
		t.Fatalf("the example is no client.TransferReport: %v", err)
	}
	desc, _ := s["description"].(string)
	blk, _ := pem.Decode([]byte(desc[strings.Index(desc, "-----BEGIN"):]))
	if blk == nil {
		t.Fatal("TransferReport's description shows no PEM key")
	}
	su := suite.CNSuite()
	pub, err := su.Signature().ParsePublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := hex.DecodeString(ex.KeyHash)
	if err != nil || len(kh) != 4 {
		t.Fatalf("key_hash %q", ex.KeyHash)
	}
	r, err := transfer.VerifyReport(&transfer.Signed{Payload: ex.Payload, Algorithm: ex.Algorithm, KeyHash: [4]byte(kh), Signature: ex.Signature},
		"domicile/"+ex.Region, []crypto.PublicKey{pub}, su.Signature(), su.Hash())
	if err != nil {
		t.Fatalf("the example does not verify with the key shown: %v", err)
	}
	if r.Region != ex.Region || r.Year != ex.Year || len(r.Transfers) == 0 {
		t.Errorf("the example's payload: %+v; envelope region %s, year %d", r, ex.Region, ex.Year)
	}
	var fromPayload, fromObject any
	json.Unmarshal(ex.Payload, &fromPayload)
	object, _ := json.Marshal(ex.Report)
	json.Unmarshal(object, &fromObject)
	if !reflect.DeepEqual(fromPayload, fromObject) {
		t.Errorf("the example's report object differs from its payload:\n payload: %s\n object:  %s", ex.Payload, object)
	}
	// The object is also what the handler makes of the payload's report.
	if got := wireTransferReport(r); !reflect.DeepEqual(got, ex.Report) {
		t.Errorf("wireTransferReport(payload) = %+v, the example's report %+v", got, ex.Report)
	}

	path := "/v1/regions/{region}/transfers/report"
	op := obj(t, obj(t, obj(t, doc, "paths", "document"), path, "paths"), "get", path)
	want := strings.TrimSuffix(transfer.SignedReportContext, "\n") + `\n`
	if d, _ := op["description"].(string); !strings.Contains(d, "`"+want+"`") {
		t.Errorf("getTransferReport: description does not give the signed context %q", want)
	}
}
