// Package e2e starts the real domicile binary on 127.0.0.1 and checks
// Domicile's promises from the outside.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
)

// binary is built once per test run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "domicile-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "domicile")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../cmd/domicile")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build domicile:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `domicile dev`.
type server struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string
	Token  string
	Data   string
	stderr *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlLine = regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)`)

// spawn starts s.cmd, keeping its output in s, and waits until ready,
// given each line of its stdout in turn, says it serves and at which URL.
// It fails when the process exits first, or hangs.
func spawn(s *server, ready func(line string) (url string, ok bool)) error {
	s.stderr, s.stdout, s.done = &syncBuffer{}, &syncBuffer{}, make(chan struct{})
	pr, pw := io.Pipe()
	s.cmd.Stdout = io.MultiWriter(s.stdout, pw)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() {
		s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if u, ok := ready(sc.Text()); ok {
				found <- u
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case s.URL = <-found:
		return nil
	case <-s.done:
		return fmt.Errorf("exited before serving:\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	case <-time.After(3 * time.Minute): // a hung start, not a performance limit
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("did not start:\n%s", s.stderr)
	}
}

// startDev starts `domicile dev` on a free port of 127.0.0.1 and waits
// until it serves. extraEnv entries are added to the environment.
func startDev(t testing.TB, data string, extraEnv []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"dev", "--data", data, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	s := &server{t: t, cmd: cmd, Data: data}
	url := ""
	err := spawn(s, func(line string) (string, bool) {
		// The banner ends with the commands to try; wait for all of it.
		if m := urlLine.FindStringSubmatch(line); m != nil {
			url = m[1]
		}
		return url, strings.HasPrefix(line, "Try:") && url != ""
	})
	if err != nil {
		t.Fatalf("domicile dev %v", err)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.Token = strings.TrimSpace(string(tok))
	s.stopWith(t)
	return s
}

// cli runs the domicile binary with args against s, as its administrator
// (DOMICILE_ADDR and DOMICILE_TOKEN), and returns its combined output.
func (s *server) cli(args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "DOMICILE_ADDR="+s.URL, "DOMICILE_TOKEN="+s.Token)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stopWith stops s when t ends; when t failed, it first logs s's warnings
// and errors (its log lines name no personal data), so that a failure in
// CI shows the server's side of it.
func (s *server) stopWith(t testing.TB) {
	t.Cleanup(func() {
		s.Stop()
		if !t.Failed() {
			return
		}
		var lines []string
		for l := range strings.Lines(s.stderr.String()) {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || !strings.HasPrefix(l, "time=") {
				lines = append(lines, strings.TrimRight(l, "\n"))
			}
		}
		lines = lines[max(0, len(lines)-40):]
		t.Logf("%s %s: last warnings and errors:\n%s", binary, strings.Join(s.cmd.Args[1:2], ""), strings.Join(lines, "\n"))
	})
}

// Stop shuts the server down gracefully.
func (s *server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Kill ends the server with SIGKILL.
func (s *server) Kill() {
	s.cmd.Process.Kill()
	<-s.done
}

func (s *server) client(t testing.TB) *client.Client {
	c, err := client.New(s.URL, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// principal creates a principal through the admin API and returns a client
// acting as it.
func (s *server) principal(t testing.TB, id, location string, roles ...string) *client.Client {
	t.Helper()
	out, err := s.client(t).CreatePrincipal(context.Background(), client.PrincipalRequest{ID: id, Kind: "person", Roles: roles, Location: location})
	if err != nil {
		t.Fatalf("create principal %s: %v", id, err)
	}
	c, err := client.New(s.URL, out.Token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// do sends a raw request and returns the status, content type and body.
func (s *server) do(t testing.TB, method, path, token string, body []byte) (int, string, []byte) {
	t.Helper()
	return s.doHeaders(t, method, path, token, body, nil)
}

// doHeaders is do with extra headers, which replace do's own.
func (s *server) doHeaders(t testing.TB, method, path, token string, body []byte, hdr map[string]string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
