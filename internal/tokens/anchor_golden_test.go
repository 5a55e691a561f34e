package tokens

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/domicile/domicile/internal/tokens/tokfmt"
)

// TestAnchorGolden holds the stored layout of a deterministic token's
// anchor to testdata/anchors.txt, lines of "name generation entry-hex
// anchor-hex" (entry "-": none; anchor "-": empty; generation "bad": no
// anchor): what this build reads from anchors earlier builds and this one
// wrote, and, for folded ones, the bytes it writes.
func TestAnchorGolden(t *testing.T) {
	f, err := os.Open("testdata/anchors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 4 {
			t.Fatalf("malformed line %q", line)
		}
		n++
		name, wantGen, entryHex, anchorHex := fs[0], fs[1], fs[2], fs[3]
		t.Run(name, func(t *testing.T) {
			var anchor []byte // "-": empty
			if anchorHex != "-" {
				if anchor, err = hex.DecodeString(anchorHex); err != nil {
					t.Fatal(err)
				}
			}
			gen, entry, ok := splitAnchor(anchor)
			if wantGen == "bad" {
				if ok {
					t.Fatalf("splitAnchor accepted %x", anchor)
				}
				return
			}
			want, err := strconv.ParseUint(wantGen, 10, 32)
			if err != nil || !ok || gen != uint32(want) {
				t.Fatalf("generation %d, ok %v; want %s", gen, ok, wantGen)
			}
			if entryHex == "-" {
				if entry != nil || folded(anchor) {
					t.Fatalf("an anchor of earlier builds read as holding an entry: %x", entry)
				}
				return
			}
			wantEntry, err := hex.DecodeString(entryHex)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(entry, wantEntry) || !folded(anchor) {
				t.Fatalf("entry %x, want %x", entry, wantEntry)
			}
			if _, err := tokfmt.ParseEntry(entry); err != nil {
				t.Fatalf("the folded entry: %v", err)
			}
			if gen == 1 && !bytes.Equal(foldedAnchor(wantEntry), anchor) {
				t.Fatalf("foldedAnchor = %x, want %x", foldedAnchor(wantEntry), anchor)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no vectors")
	}
}

// FuzzSplitAnchor: any value splits into an anchor or is refused, never
// panics, and a split anchor is its generation followed by its entry.
func FuzzSplitAnchor(f *testing.F) {
	for _, s := range []string{"", "000001", "00000001", "00000001010109637573746f6d65727305656d61696c025553d1010203"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		gen, entry, ok := splitAnchor(v)
		if ok != (len(v) >= 4) {
			t.Fatalf("splitAnchor(%x): ok %v", v, ok)
		}
		if !ok {
			return
		}
		if folded(v) != (entry != nil) {
			t.Fatalf("splitAnchor(%x): entry %x, folded %v", v, entry, folded(v))
		}
		if got := append(binary.BigEndian.AppendUint32(nil, gen), entry...); !bytes.Equal(got, v) {
			t.Fatalf("splitAnchor(%x) = %d, %x", v, gen, entry)
		}
	})
}
