package api

import (
	"context"
	"net/http"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/region"
	"github.com/domicile/domicile/internal/web"
)

// The end of a key's life: rewrap, usage, retire and destroy. Decode, call
// the region service, encode.

func (h *handler) rewrap(w http.ResponseWriter, r *http.Request) {
	var req client.RewrapRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	job, started, err := h.s.StartRewrap(r.Context(), caller(r), region.Rewrap{Region: r.PathValue("region"), Purpose: req.Purpose,
		Batch: req.Batch, Pause: req.Pause})
	h.startedJob(w, r, &job, started, err)
}

func (h *handler) keyUsage(w http.ResponseWriter, r *http.Request) {
	u, err := h.s.KeyUsage(r.Context(), caller(r), r.PathValue("region"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := client.KeyUsage{Region: h.s.Name(), Versions: []client.KeyVersionUsage{}}
	for _, p := range u.Status.Purposes {
		for _, v := range p.Versions {
			kv := client.KeyVersionUsage{Purpose: string(p.Purpose), Version: v.Version, State: string(v.State), Current: v.Version == p.Current, Suite: v.Suite}
			if p.Purpose == region.DataKey {
				n := max(v.DEKs, 0)
				kv.SubjectKeys = &n
			}
			out.Versions = append(out.Versions, kv)
		}
		for _, v := range p.Destroyed {
			out.Versions = append(out.Versions, client.KeyVersionUsage{Purpose: string(p.Purpose), Version: v, State: "destroyed"})
		}
	}
	if u.Job != nil {
		j := wireJob(h.s.Name(), u.Job)
		out.Job = &j
	}
	web.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) migrate(w http.ResponseWriter, r *http.Request) {
	var req client.MigrateRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	job, started, err := h.s.MigrateSuite(r.Context(), caller(r), region.MigrateSuite{Region: r.PathValue("region"), Suite: req.Suite,
		Batch: req.Batch, Pause: req.Pause})
	h.startedJob(w, r, &job, started, err)
}

// startedJob answers a request that started a job (or found it running).
func (h *handler) startedJob(w http.ResponseWriter, r *http.Request, job *region.RewrapJob, started bool, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := wireJob(h.s.Name(), job)
	out.New = started
	web.WriteJSON(w, http.StatusAccepted, out)
}

func wireJob(name string, j *region.RewrapJob) client.RewrapJob {
	out := client.RewrapJob{Region: name, ID: j.ID, Purpose: string(region.DataKey), State: string(j.State), Target: j.Target,
		Done: j.Done, Total: j.Total, Batch: j.Options.Batch, Pause: j.Options.Pause.String(), StartedAt: j.Started,
		UpdatedAt: j.Updated, Node: j.Node, Error: j.Error, Suite: j.Suite, Phase: j.Phase, Resealed: j.Resealed}
	if !j.Finished.IsZero() {
		f := j.Finished.In(time.UTC)
		out.FinishedAt = &f
	}
	return out
}

func (h *handler) retireKey(w http.ResponseWriter, r *http.Request) {
	h.changeKey(w, r, "retired", h.s.RetireKey)
}

func (h *handler) destroyKey(w http.ResponseWriter, r *http.Request) {
	h.changeKey(w, r, "destroyed", h.s.DestroyKey)
}

func (h *handler) changeKey(w http.ResponseWriter, r *http.Request, state string,
	change func(context.Context, region.Caller, region.KeyVersionChange) error) {
	var req client.KeyVersionRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	q := region.KeyVersionChange{Region: r.PathValue("region"), Purpose: req.Purpose, Version: req.Version, Force: req.Force}
	if err := change(r.Context(), caller(r), q); err != nil {
		h.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, client.KeyVersionResponse{Region: h.s.Name(), Purpose: req.Purpose, Version: req.Version, State: state})
}
