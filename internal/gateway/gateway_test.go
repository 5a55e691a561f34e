package gateway

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/domicile/domicile/client"
)

// region pages of ids, answered as a region's node would: up to limit
// records after the cursor, next = last id when more remain.
func regionPage(ids []string, cursor string, limit int) []byte {
	var p client.Page
	for _, id := range ids {
		if id <= cursor {
			continue
		}
		if len(p.Records) == limit {
			p.Next = p.Records[limit-1].ID
			break
		}
		p.Records = append(p.Records, client.Record{ID: id})
	}
	b, _ := json.Marshal(p)
	return b
}

// TestFanOutPaging walks every page of a fan-out over three regions and
// checks each record comes exactly once and no page exceeds the limit.
func TestFanOutPaging(t *testing.T) {
	data := map[string][]string{}
	order := []string{"a", "b", "c"}
	for i, r := range order {
		for j := range 3 + 4*i {
			data[r] = append(data[r], fmt.Sprintf("rec_%s_%02d", r, j))
		}
	}
	for _, limit := range []int{1, 2, 5, 7, 50} {
		t.Run(fmt.Sprintf("ok/limit=%d", limit), func(t *testing.T) {
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				regions, cursors := order, map[string]string{}
				if cursor != "" {
					c, err := decodeCursor(cursor)
					if err != nil {
						t.Fatal(err)
					}
					regions, cursors = nil, c
					for _, r := range order {
						if _, ok := c[r]; ok {
							regions = append(regions, r)
						}
					}
				}
				var answers []answer
				for _, r := range regions {
					answers = append(answers, answer{region: r, status: 200, body: regionPage(data[r], cursors[r], limit)})
				}
				p, err := mergePages(answers, limit, cursors)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Records) > limit {
					t.Fatalf("page of %d records, limit %d", len(p.Records), limit)
				}
				for _, r := range p.Records {
					if seen[r.ID] {
						t.Fatalf("record %s twice", r.ID)
					}
					seen[r.ID] = true
				}
				if cursor = p.Next; cursor == "" {
					break
				}
			}
			if want := 3 + 7 + 11; len(seen) != want {
				t.Fatalf("saw %d records, want %d", len(seen), want)
			}
		})
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	for _, c := range []string{"!!", "e30x", encodeCursor(map[string]string{"a": "x"}) + "A"} {
		if _, err := decodeCursor(c); err == nil {
			t.Errorf("cursor %q accepted", c)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(map[string]string{"cn-north": "rec_cn-north_x"}))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err == nil && c == nil {
			t.Fatalf("nil cursor without error for %q", s)
		}
	})
}
