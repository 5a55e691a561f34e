package console

import (
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/domicile/domicile/client"
)

// kv is a row of a two-column table.
type kv struct {
	Key   string
	Value string
}

func sortedKV[V any](m map[string]V, f func(V) string) []kv {
	out := make([]kv, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, f(m[k])})
	}
	return out
}

// regionView is one region on the regions page.
type regionView struct {
	Name, Suite, Residency string
	Jurisdictions          []string
	Algorithms             []kv
	Records                []kv
	// State is the node's readiness as the gateway's /readyz tells it
	// (ready, unavailable, unreachable), or sealed.
	State string
	Keys  *client.KeyStatus
	Usage *client.KeyUsage
	// KeysProblem is the API's refusal of the key details.
	KeysProblem *client.Problem
}

type regionsView struct {
	Regions     []regionView
	ListProblem *client.Problem
}

// readiness is the gateway's /readyz: each region's node state. It is
// public; a failure leaves the map empty.
func (c *Console) readiness(r *http.Request) map[string]string {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://gateway.console.internal/readyz", nil)
	if err != nil {
		return nil
	}
	resp, err := (&inProcess{h: c.api, from: r}).RoundTrip(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out struct {
		Regions map[string]string `json:"regions"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out) != nil {
		return nil
	}
	return out.Regions
}

func (c *Console) regions(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	ready := c.readiness(r)
	var v regionsView
	rs, err := s.api.Regions(ctx)
	if err != nil {
		p := problemOf(err)
		if p.Status == http.StatusUnauthorized {
			c.expire(w, r)
			return
		}
		v.ListProblem = &p
		// A sealed region fails the listing; still show each region's
		// state from the public readiness probe.
		for _, name := range slices.Sorted(maps.Keys(ready)) {
			v.Regions = append(v.Regions, regionView{Name: name})
		}
	} else {
		for _, reg := range rs.Regions {
			v.Regions = append(v.Regions, regionView{Name: reg.Name, Suite: reg.Suite, Residency: reg.Residency, Jurisdictions: reg.Jurisdictions,
				Algorithms: sortedKV(reg.Algorithms, func(s string) string { return s }),
				Records:    sortedKV(reg.Records, func(n int64) string { return strconv.FormatInt(n, 10) })})
		}
	}
	for i := range v.Regions {
		rv := &v.Regions[i]
		rv.State = cmp.Or(ready[rv.Name], "unknown")
		ks, err := s.api.Keys(ctx, rv.Name)
		if err != nil {
			p := problemOf(err)
			if p.Code == "region_sealed" {
				rv.State = "sealed"
			}
			rv.KeysProblem = &p
			continue
		}
		rv.Keys = ks
		if u, err := s.api.KeyUsage(ctx, rv.Name); err == nil {
			rv.Usage = u
		}
	}
	c.render(w, s, http.StatusOK, "regions", view{Title: "Regions", Active: "/regions", Data: v})
}

// subjectKeys returns the count of subject keys of a data version, for the
// template; "—" when the API does not count the version's use.
func (u usageIndex) SubjectKeys(purpose string, version uint32) string {
	for _, v := range u {
		if v.Purpose == purpose && v.Version == version && v.SubjectKeys != nil {
			return strconv.FormatInt(*v.SubjectKeys, 10)
		}
	}
	return "—"
}

type usageIndex []client.KeyVersionUsage

// Uses returns the usage rows as an index for the template.
func (rv regionView) Uses() usageIndex {
	if rv.Usage == nil {
		return nil
	}
	return rv.Usage.Versions
}

// mapView is the residency map page.
type mapView struct {
	Map         *svgMap
	Collections []collectionView
	Regions     []client.Region
}

// collectionView is where a collection's records live.
type collectionView struct {
	Name    string
	Regions []kv // region, record count
}

func (c *Console) residencyMap(w http.ResponseWriter, r *http.Request, s *session) {
	rs, err := s.api.Regions(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := mapView{Map: drawMap(rs.Regions), Regions: rs.Regions}
	byColl := map[string][]kv{}
	for _, reg := range rs.Regions {
		for coll, n := range reg.Records {
			byColl[coll] = append(byColl[coll], kv{reg.Name, strconv.FormatInt(n, 10)})
		}
	}
	for _, coll := range slices.Sorted(maps.Keys(byColl)) {
		v.Collections = append(v.Collections, collectionView{Name: coll, Regions: byColl[coll]})
	}
	c.render(w, s, http.StatusOK, "map", view{Title: "Residency map", Active: "/map", Data: v})
}

// transfersView is the transfers page.
type transfersView struct {
	Year    int
	Region  string
	Regions []string
	Reports []transferReportView
}

type transferReportView struct {
	Region  string
	Report  *client.TransferReport
	Problem *client.Problem
}

func (c *Console) transfers(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	year := 0
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 1970 || n > 9999 {
			c.problem(w, r, s, http.StatusBadRequest, client.Problem{Code: "invalid_year", Detail: "the year must be a number such as 2026", Hint: "leave it empty for the current year"})
			return
		}
		year = n
	}
	rs, err := s.api.Regions(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := transfersView{Year: year, Region: q.Get("region")}
	for _, reg := range rs.Regions {
		v.Regions = append(v.Regions, reg.Name)
	}
	if v.Region != "" && !slices.Contains(v.Regions, v.Region) {
		c.problem(w, r, s, http.StatusNotFound, client.Problem{Code: "unknown_region", Detail: "no such region behind this gateway", Hint: "pick a region from the list"})
		return
	}
	status := http.StatusOK
	for _, name := range v.Regions {
		if v.Region != "" && name != v.Region {
			continue
		}
		rep, err := s.api.TransferReport(r.Context(), name, year)
		tv := transferReportView{Region: name, Report: rep}
		if err != nil {
			p := problemOf(err)
			if p.Status == http.StatusUnauthorized {
				c.expire(w, r)
				return
			}
			if p.Status == http.StatusForbidden {
				status = http.StatusForbidden
			}
			tv.Problem, tv.Report = &p, nil
		}
		v.Reports = append(v.Reports, tv)
	}
	c.render(w, s, status, "transfers", view{Title: "Transfers", Active: "/transfers", Data: v})
}

// alertsView is the alerts and locks page.
type alertsView struct {
	Alerts []client.Alert
	More   bool
	Locked []client.Principal
	// PrincipalsProblem is the API's refusal of the principal list.
	PrincipalsProblem *client.Problem
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, s *session) {
	ar, err := s.api.Alerts(r.Context(), client.AlertFilter{Limit: 200})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := alertsView{Alerts: ar.Alerts, More: ar.Next != ""}
	if ps, err := s.api.Principals(r.Context()); err != nil {
		p := problemOf(err)
		v.PrincipalsProblem = &p
	} else {
		for _, p := range ps.Principals {
			if p.State == "locked" {
				v.Locked = append(v.Locked, p)
			}
		}
	}
	vw := view{Title: "Alerts & locks", Active: "/alerts", Data: v}
	if r.URL.Query().Get("unlocked") != "" {
		vw.Notice = "The principal is unlocked in every region."
	}
	c.render(w, s, http.StatusOK, "alerts", vw)
}

func (c *Console) unlock(w http.ResponseWriter, r *http.Request, s *session) {
	id := strings.TrimSpace(r.PostForm.Get("principal"))
	if id == "" || len(id) > 200 {
		c.problem(w, r, s, http.StatusBadRequest, client.Problem{Code: "invalid_principal", Detail: "name the principal to unlock"})
		return
	}
	if _, err := s.api.SetPrincipalState(r.Context(), id, "unlock"); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"/alerts?unlocked=1", http.StatusSeeOther)
}

// recordView is the record lookup page.
type recordView struct {
	ID, Purpose string
	Record      *client.Record
	Rows        []fieldRow
}

// fieldRow is one field of a record as the API showed it.
type fieldRow struct {
	Field, Value string
	// Shown is "clear" or "masked"; Mask names the mask.
	Shown, Mask string
}

func (c *Console) records(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := recordView{ID: strings.TrimSpace(q.Get("id")), Purpose: cmp.Or(strings.TrimSpace(q.Get("purpose")), "support")}
	vw := view{Title: "Record lookup", Active: "/records", Data: &v}
	if v.ID == "" {
		c.render(w, s, http.StatusOK, "records", vw)
		return
	}
	if len(v.ID) > 200 || len(v.Purpose) > 100 {
		p := client.Problem{Status: http.StatusBadRequest, Code: "invalid_input", Detail: "the record id or purpose is too long"}
		vw.Problem = &p
		c.render(w, s, http.StatusBadRequest, "records", vw)
		return
	}
	rec, err := s.api.ForPurpose(v.Purpose).Get(r.Context(), v.ID)
	if err != nil {
		p := problemOf(err)
		if p.Status == http.StatusUnauthorized {
			c.expire(w, r)
			return
		}
		vw.Problem = &p
		c.render(w, s, apiStatus(p), "records", vw)
		return
	}
	v.Record = rec
	for _, f := range slices.Sorted(maps.Keys(rec.Fields)) {
		row := fieldRow{Field: f, Value: rec.Fields[f], Shown: "clear"}
		if rec.Access != nil {
			how := rec.Access.Fields[f]
			if mask, ok := strings.CutPrefix(how, "masked:"); ok {
				row.Shown, row.Mask = "masked", mask
			} else if how != "" {
				row.Shown = how
			}
		}
		v.Rows = append(v.Rows, row)
	}
	c.render(w, s, http.StatusOK, "records", vw)
}
