package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/client"
)

func customer(subject, j string, i int) client.NewRecord {
	return client.NewRecord{Collection: "customers", Subject: subject, Jurisdiction: j, Fields: map[string]string{
		"name": fmt.Sprintf("Test Person %d", i), "email": fmt.Sprintf("person%d@example.com", i)}}
}

// TestRestartAndUnseal: data survives a restart once unsealed; without the
// unseal secret the region refuses to serve and says how to unseal, while
// the other regions go on.
func TestRestartAndUnseal(t *testing.T) {
	t.Parallel() // mostly waiting (leases, key reloads, baselines): overlaps with the other long tests
	data := t.TempDir()
	s := startDev(t, data, nil, "--no-seed")
	c := s.client(t)
	ctx := context.Background()
	ids := map[string]string{}
	for i, j := range []string{"CN", "DE", "US"} {
		out, err := c.Create(ctx, []client.NewRecord{customer("cust-r", j, i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[j] = out.Records[0].ID
	}
	s.Stop()

	secret := filepath.Join(data, "unseal", "cn-north.secret")
	moved := secret + ".away"
	if err := os.Rename(secret, moved); err != nil {
		t.Fatal(err)
	}
	s = startDev(t, data, nil, "--no-seed")
	if !strings.Contains(s.stdout.String(), "SEALED") {
		t.Errorf("banner does not say cn-north is sealed:\n%s", s.stdout)
	}
	status, ctype, body := s.do(t, http.MethodGet, "/v1/records/"+ids["CN"], s.Token, nil)
	var p client.Problem
	json.Unmarshal(body, &p)
	if status != http.StatusServiceUnavailable || ctype != "application/problem+json" || p.Code != "region_sealed" ||
		!strings.Contains(p.Detail, "DOMICILE_UNSEAL_CN_NORTH") {
		t.Fatalf("sealed region answered %d %s %+v", status, ctype, p)
	}
	if _, err := s.client(t).Get(ctx, ids["DE"]); err != nil {
		t.Fatalf("unsealed region: %v", err)
	}
	s.Stop()

	// The secret through the environment unseals it.
	b, err := os.ReadFile(moved)
	if err != nil {
		t.Fatal(err)
	}
	s = startDev(t, data, []string{"DOMICILE_UNSEAL_CN_NORTH=" + strings.TrimSpace(string(b))}, "--no-seed")
	for j, id := range ids {
		r, err := s.client(t).Get(ctx, id)
		if err != nil {
			t.Fatalf("%s after restart: %v", j, err)
		}
		if r.Jurisdiction != j {
			t.Fatalf("read back %+v", r)
		}
	}
	s.Stop()

	// A wrong secret is refused the same way.
	s = startDev(t, data, []string{"DOMICILE_UNSEAL_CN_NORTH=wrong"}, "--no-seed")
	if status, _, _ := s.do(t, http.MethodGet, "/v1/records/"+ids["CN"], s.Token, nil); status != http.StatusServiceUnavailable {
		t.Fatalf("wrong secret: status %d", status)
	}
}

// TestKill9 ends the server with SIGKILL during a stream of creates: every
// acknowledged record reads back after a restart.
func TestKill9(t *testing.T) {
	data := t.TempDir()
	// It reads back 400 records in a few seconds through one principal,
	// over every region: the drain the guard stops by design, whose budget
	// now counts across regions. Durability is the point here.
	s := startDev(t, data, nil, "--no-seed", "--policy", loadPolicyFile())
	c := s.client(t)
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				j := []string{"CN", "DE", "US", "RU"}[(w+i)%4]
				out, err := c.Create(ctx, []client.NewRecord{customer(fmt.Sprintf("cust-k%d-%d", w, i), j, i)}, "")
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, out.Records[0].ID)
				n := len(acked)
				mu.Unlock()
				if n == 400 {
					s.Kill()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if len(acked) < 400 {
		t.Fatalf("only %d creates acknowledged before the server stopped", len(acked))
	}
	s = startDev(t, data, nil, "--no-seed", "--policy", loadPolicyFile())
	c = s.client(t)
	for _, id := range acked {
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatalf("acknowledged record %s lost after kill -9: %v", id, err)
		}
	}
}
