package app

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/access"
)

// TestServe runs a region's node as `domicile serve` does: it says where
// it listens, answers, and stops cleanly when its context ends.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeConfig{Policy: examplePolicy(t), Region: "eu-central", Dir: filepath.Join(t.TempDir(), "eu"),
			Secret: []byte("serve"), KDF: benchKDF, AdminToken: access.NewToken(), AdminLocation: "DE", Listen: "127.0.0.1:0",
			Listening: func(u string) { urls <- u }})
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not listen")
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after its context ended: %v, want nil", err)
	}
}

// TestStartStages: each way of failing to start says at which step, so
// that the CLI can say what to do.
func TestStartStages(t *testing.T) {
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	one, _ := url.Parse("http://127.0.0.1:1")
	serve := func(c ServeConfig) error {
		c.Policy, c.Region, c.Dir, c.KDF = examplePolicy(t), "eu-central", filepath.Join(t.TempDir(), "eu"), benchKDF
		c.AdminToken = access.NewToken()
		if c.AdminLocation == "" {
			c.AdminLocation = "DE"
		}
		return Serve(ctx, c)
	}
	tests := []struct {
		name string
		err  error
		want Stage
	}{
		{"fail/sealed", serve(ServeConfig{Listen: "127.0.0.1:0"}), StageSealed},
		{"fail/listen", serve(ServeConfig{Secret: []byte("s"), Listen: busy.Addr().String()}), StageListen},
		{"fail/admin-location", serve(ServeConfig{Secret: []byte("s"), Listen: "127.0.0.1:0", AdminLocation: "nowhere"}), StagePrincipals},
		{"fail/gateway-backends", RunGateway(ctx, GatewayConfig{Policy: examplePolicy(t), Regions: map[string][]*url.URL{"eu-central": {one}},
			Listen: "127.0.0.1:0"}), StageGateway},
		{"fail/gateway-listen", RunGateway(ctx, GatewayConfig{Policy: examplePolicy(t), Regions: map[string][]*url.URL{
			"cn-north": {one}, "ru-central": {one}, "eu-central": {one}, "us-east": {one}}, Listen: busy.Addr().String()}), StageListen},
	}
	for _, tt := range tests {
		if got := StageOf(tt.err); got != tt.want {
			t.Errorf("%s: %v: stage %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}
