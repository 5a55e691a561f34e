package gateway

import (
	"net/http"
	"slices"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/paging"
	"github.com/domicile/domicile/internal/web"
)

// exportCollection serves GET /v1/collections/{collection}/records: a page
// of a collection's export across regions, in policy order, with the
// fan-out cursor that listSubject uses (each region's own cursor, a
// record id; a region missing from it is done). Repeated region
// parameters restrict the export to those regions; the caller sends the
// same ones with every page.
func (g *Gateway) exportCollection(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	regions, cursors, err := g.regionsFor(q.Get("cursor"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if want := q["region"]; len(want) > 0 {
		for _, name := range want {
			if _, ok := g.backends[name]; !ok {
				g.fail(w, r, errcode.New(errcode.UnknownRegion, "region %q is not a region of the policy; 'domicile records export --help' shows how to name one", truncate(name)))
				return
			}
		}
		regions = slices.DeleteFunc(slices.Clone(regions), func(name string) bool { return !slices.Contains(want, name) })
	}
	limit, err := paging.Param(q.Get("limit"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if len(regions) == 0 {
		web.WriteJSON(w, http.StatusOK, map[string]any{"records": []any{}})
		return
	}
	g.pageAcross(w, r, regions, cursors, limit)
}
