package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/web"
)

// exportRegion answers a collection export as a region's node does, with
// short pages: at most short records per page (a scan budget running
// out), next = the last id read while more remain.
func exportRegion(t *testing.T, name string, ids []string, short int, asked *sync.Map) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked.Store(name, true)
		if q.Has("region") {
			t.Errorf("the gateway sent region parameters to %s: %s", name, r.URL.RawQuery)
		}
		if r.URL.Path != "/v1/collections/customers/records" {
			t.Errorf("%s asked for %s", name, r.URL.Path)
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		cursor := q.Get("cursor")
		p := client.Page{Records: []client.Record{}}
		for i, id := range ids {
			if id <= cursor {
				continue
			}
			if len(p.Records) == min(limit, short) {
				p.Next = ids[i-1]
				break
			}
			p.Records = append(p.Records, client.Record{ID: id, Region: name})
		}
		web.WriteJSON(w, http.StatusOK, p)
	})
}

func TestExportCollectionFanOut(t *testing.T) {
	data := map[string][]string{}
	for i, r := range []string{"cn-north", "eu-central", "us-east"} {
		for j := range 2 + 3*i {
			data[r] = append(data[r], fmt.Sprintf("rec_%s_%02d", r, j))
		}
	}
	tests := []struct {
		name    string
		regions []string
		limit   int
		short   int
	}{
		{"ok/every-region", nil, 4, 100},
		{"ok/every-region-short-pages", nil, 3, 1},
		{"ok/one-region", []string{"eu-central"}, 2, 100},
		{"ok/two-regions-short-pages", []string{"us-east", "cn-north"}, 5, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked sync.Map
			backends := map[string]Backend{}
			for name, ids := range data {
				backends[name] = Backend{URL: &url.URL{Scheme: "http", Host: name + ".local"}, Transport: LocalTransport(exportRegion(t, name, ids, tc.short, &asked))}
			}
			h, err := New(Options{Resolver: testResolver(t), Backends: backends})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("the export does not end")
				}
				q := url.Values{"limit": {strconv.Itoa(tc.limit)}}
				for _, r := range tc.regions {
					q.Add("region", r)
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/collections/customers/records?"+q.Encode(), nil))
				var p client.Page
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
					t.Fatalf("page %d: %d %s", pages, rec.Code, rec.Body)
				}
				if len(p.Records) > tc.limit {
					t.Errorf("page %d holds %d records, over the limit %d", pages, len(p.Records), tc.limit)
				}
				for _, r := range p.Records {
					got = append(got, r.ID)
				}
				if p.Next == "" {
					break
				}
				cursor = p.Next
			}
			var want []string
			for _, name := range []string{"cn-north", "eu-central", "us-east"} {
				if len(tc.regions) == 0 || slices.Contains(tc.regions, name) {
					want = append(want, data[name]...)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("exported %v, want %v", got, want)
			}
			asked.Range(func(k, _ any) bool {
				if len(tc.regions) > 0 && !slices.Contains(tc.regions, k.(string)) {
					t.Errorf("region %s was asked, not one of %v", k, tc.regions)
				}
				return true
			})
		})
	}
}

func TestExportCollectionErrors(t *testing.T) {
	var asked sync.Map
	backends := map[string]Backend{}
	for _, name := range []string{"cn-north", "eu-central", "us-east"} {
		backends[name] = Backend{URL: &url.URL{Scheme: "http", Host: name + ".local"}, Transport: LocalTransport(exportRegion(t, name, nil, 10, &asked))}
	}
	h, err := New(Options{Resolver: testResolver(t), Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, query string
		status      int
		code        string
	}{
		{"fail/unknown-region", "region=mars", 404, "unknown_region"},
		{"fail/one-unknown-region", "region=eu-central&region=" + strings.Repeat("x", 100), 404, "unknown_region"},
		{"fail/bad-cursor", "cursor=!!", 400, "invalid_cursor"},
		{"fail/zero-limit", "limit=0", 400, "invalid_request"},
		{"fail/negative-limit", "limit=-2", 400, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/collections/customers/records?"+c.query, nil))
			var p client.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != c.status || p.Code != c.code {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, c.status, c.code)
			}
			if strings.Contains(rec.Body.String(), strings.Repeat("x", 50)) {
				t.Errorf("the answer echoes the whole region parameter: %s", rec.Body)
			}
		})
	}
}
