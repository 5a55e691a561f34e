package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/seed"
)

// TestResidency creates 300 records across six jurisdictions through the
// gateway, reads each back, then scans every file the vault wrote: no
// submitted value appears in any encoding, and CN record ids appear only
// under cn-north.
func TestResidency(t *testing.T) {
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	c := s.client(t)
	ctx := context.Background()
	g := seed.New(42)
	customers := g.Customers(300, []string{"CN", "RU", "DE", "FR", "US", "BR"})
	type created struct {
		id           string
		jurisdiction string
		fields       map[string]string
	}
	var all []created
	for _, cu := range customers {
		out, err := c.Create(ctx, []client.NewRecord{{Collection: "customers", Subject: cu.SubjectID, Jurisdiction: cu.Jurisdiction, Fields: cu.Fields}}, "")
		if err != nil {
			t.Fatalf("create %s record: %v", cu.Jurisdiction, err)
		}
		all = append(all, created{out.Records[0].ID, cu.Jurisdiction, cu.Fields})
	}
	wantRegion := map[string]string{"CN": "cn-north", "RU": "ru-central", "DE": "eu-central", "FR": "eu-central", "US": "us-east", "BR": "us-east"}
	// Each record is read back by an administrator located in its own
	// country, for a purpose the role allows: reads from abroad would be
	// transfers, and masked.
	readers := map[string]*client.Client{}
	for j := range wantRegion {
		readers[j] = s.principal(t, "admin-"+strings.ToLower(j), j, "admin").ForPurpose("support")
	}
	for _, cr := range all {
		r, err := readers[cr.jurisdiction].Get(ctx, cr.id)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if r.Region != wantRegion[cr.jurisdiction] {
			t.Errorf("%s record stored in %s", cr.jurisdiction, r.Region)
		}
		for k, v := range cr.fields {
			if r.Fields[k] != v {
				t.Errorf("record %s field %s differs after the round trip (access %+v)", cr.id, k, r.Access)
			}
		}
	}
	s.Stop()

	// Every encoding a store might use for a value.
	var needles [][]byte
	seen := map[string]bool{}
	add := func(b []byte) {
		if len(b) >= 6 && !seen[string(b)] {
			seen[string(b)] = true
			needles = append(needles, b)
		}
	}
	for _, cr := range all {
		for k, v := range cr.fields {
			if k == "date_of_birth" {
				continue // dates are too short and common to be a meaningful needle
			}
			for _, form := range []string{v, strings.ToLower(v), strings.ReplaceAll(v, " ", "")} {
				add([]byte(form))
				add([]byte(base64.StdEncoding.EncodeToString([]byte(form))))
				add([]byte(hex.EncodeToString([]byte(form))))
				u := utf16.Encode([]rune(form))
				b := make([]byte, 2*len(u))
				for i, r := range u {
					b[2*i], b[2*i+1] = byte(r), byte(r>>8)
				}
				add(b)
			}
		}
	}
	files := map[string][]byte{}
	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(data, path)
		files[rel] = b
		return nil
	})
	if len(files) < 8 {
		t.Fatalf("only %d files under the data directory", len(files))
	}
	for name, b := range files {
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("file %s contains a submitted value (%d bytes)", name, len(n))
			}
		}
	}
	// CN record ids: present under cn-north (so the scan can see them),
	// nowhere else.
	cnFound := 0
	for _, cr := range all {
		if cr.jurisdiction != "CN" {
			continue
		}
		rnd := []byte(cr.id[strings.LastIndexByte(cr.id, '_')+1:])
		for name, b := range files {
			if !bytes.Contains(b, rnd) {
				continue
			}
			if !strings.HasPrefix(name, filepath.Join("regions", "cn-north")+string(filepath.Separator)) {
				t.Errorf("CN record id found outside cn-north, in %s", name)
			} else {
				cnFound++
			}
		}
	}
	if cnFound == 0 {
		t.Fatalf("no CN record id found under cn-north: the scan cannot see stored bytes")
	}
}
