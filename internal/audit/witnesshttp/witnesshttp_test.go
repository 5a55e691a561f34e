package witnesshttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPublish(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer x" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	w := &Witness{URL: srv.URL, Header: http.Header{"Authorization": {"Bearer x"}}}
	if err := w.Publish(context.Background(), []byte("cp\n")); err != nil {
		t.Fatal(err)
	}
	if string(got) != "cp\n" {
		t.Fatalf("witness got %q", got)
	}
	bad := &Witness{URL: srv.URL}
	if err := bad.Publish(context.Background(), []byte("cp\n")); err == nil {
		t.Fatal("403 was accepted")
	}
}
