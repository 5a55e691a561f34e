package api

import (
	"net/http"
	"slices"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/web"
)

// exportCollection serves GET /v1/collections/{collection}/records on a
// region's node: one page of the collection's export in this region. A
// region query parameter, when given, must name this region (the gateway
// uses it to choose the regions it asks, and sends none).
func (h *handler) exportCollection(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !regionParamFits(q["region"], h.s.Name()) {
		h.fail(w, r, errcode.New(errcode.UnknownRegion, "this node serves region %s; ask the gateway for other regions", h.s.Name()))
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.s.ExportCollection(r.Context(), caller(r), r.PathValue("collection"), q.Get("cursor"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.Page{Records: make([]client.Record, len(p.Records)), Next: p.Next}
	for i := range p.Records {
		out.Records[i] = wireRecord(&p.Records[i])
		out.Records[i].Access.Refused = p.Refused[i]
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// regionParamFits reports whether a request's region parameters (none, or
// names among which the node's own) let the node answer it.
func regionParamFits(names []string, own string) bool {
	return len(names) == 0 || slices.Contains(names, own)
}
