package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, returns either a policy or an
// *ErrorList of positioned errors, and that a parsed policy answers
// RegionFor for every country without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list *ErrorList
			if !errors.As(err, &list) || len(*list) == 0 {
				t.Fatalf("Parse error %v is not a non-empty *ErrorList", err)
			}
			if p != nil {
				t.Fatal("Parse returned a policy and an error")
			}
			for _, e := range *list {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		for _, c := range Countries() {
			r, err := p.RegionFor(c)
			if err == nil && r == nil {
				t.Fatalf("RegionFor(%s) = nil, nil", c)
			}
		}
	})
}
