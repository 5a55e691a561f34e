package api

import (
	"net/http"
	"strconv"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/web"
)

// backup streams a backup of the region's store (see region.Backup): a tar
// of the store's files and the signed manifest, last. Errors before the
// copy is taken are problem answers like any other; once the stream has
// started an error can only cut it short, and a cut backup has no
// manifest, which the client and 'domicile restore' refuse.
func (h *handler) backup(w http.ResponseWriter, r *http.Request) {
	snap, err := h.s.Backup(r.Context(), caller(r), r.PathValue("region"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer func() {
		if err := snap.Close(); err != nil {
			h.log.Warn("backup: removing the store's copy", "request_id", web.RequestID(r), "err", err)
		}
	}()
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set(client.BackupBytesHeader, strconv.FormatInt(snap.Bytes(), 10))
	w.WriteHeader(http.StatusOK)
	if err := snap.WriteTo(r.Context(), w); err != nil {
		h.log.Warn("backup cut short", "request_id", web.RequestID(r), "err", err)
		panic(http.ErrAbortHandler) // the client sees a cut stream, without a manifest
	}
}
