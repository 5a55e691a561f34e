package pebble

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/domicile/domicile/internal/store"
)

// The crash tests re-execute the test binary as a child process, as the
// os/exec tests do; the child's role is chosen by this variable.
const childEnv = "DOMICILE_PEBBLE_TEST_CHILD"

// Sizes of the kill -9 test: the child stops on its own after childMax
// Applies; the parent kills it after killAfter acknowledgements.
const (
	childWriters = 4
	childMax     = 20_000
	killAfter    = 1000
)

// TestHelperProcess is the child process's body; it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	role, dir, ok := strings.Cut(os.Getenv(childEnv), ":")
	if !ok {
		t.Skip("only runs as a child of TestKill9 and TestOpenInUseAcrossProcesses")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(2)
	}
	switch role {
	case "hold":
		// Hold the directory until the parent closes stdin.
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "write":
		// Every writer Applies batches of one Put and one Add and prints
		// "ack N" only after Apply returned nil.
		var next sync.Mutex
		n := 0
		var wg sync.WaitGroup
		for range childWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					next.Lock()
					i := n
					n++
					next.Unlock()
					if i >= childMax {
						return
					}
					var b store.Batch
					b.Put(crashKey(i), crashValue(i))
					b.Add([]byte("acked"), 1)
					if err := s.Apply(context.Background(), &b); err != nil {
						fmt.Println("apply error:", err)
						os.Exit(2)
					}
					fmt.Printf("ack %d\n", i) // one write(2) per line
				}
			}()
		}
		wg.Wait()
	}
	_ = s.Close()
	os.Exit(0)
}

func crashKey(i int) []byte   { return fmt.Appendf(nil, "crash/%06d", i) }
func crashValue(i int) []byte { return fmt.Appendf(nil, "value-%d-%0200d", i, i) }

// startChild starts the test binary as a child in the given role and
// returns it with its stdout.
func startChild(t *testing.T, role, dir string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot re-execute the test binary: %v", err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+role+":"+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout), stdin
}

// TestKill9 kills a writing child with SIGKILL and checks that every
// Apply it acknowledged survives, and that no batch was half applied.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd, out, _ := startChild(t, "write", dir)
	acked := map[int]bool{}
	for out.Scan() {
		line := out.Text()
		num, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			t.Fatalf("child: %s", line)
		}
		i, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("child: %s", line)
		}
		acked[i] = true
		if len(acked) == killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Fatal(err)
			}
		}
	}
	// Lines written before the kill are still read above, to EOF.
	_ = cmd.Wait()
	if len(acked) < killAfter {
		t.Fatalf("child acknowledged only %d Applies before exiting", len(acked))
	}

	s := openTest(t, dir, Options{})
	ctx := context.Background()
	for i := range acked {
		v, err := s.Get(ctx, crashKey(i))
		if err != nil || string(v) != string(crashValue(i)) {
			t.Fatalf("acknowledged key %d after kill -9: Get = %.20q, %v", i, v, err)
		}
	}
	kvs, err := s.Scan(ctx, []byte("crash/"), store.PrefixEnd([]byte("crash/")), 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Counter(ctx, []byte("acked"))
	if err != nil {
		t.Fatal(err)
	}
	// Each batch put one key and added 1: equal counts mean no batch was
	// half applied.
	if int(n) != len(kvs) {
		t.Errorf("after kill -9: %d keys but counter %d; a batch was half applied", len(kvs), n)
	}
	t.Logf("acknowledged %d, recovered %d (child killed mid-stream)", len(acked), len(kvs))
}

// TestOpenInUseAcrossProcesses checks the error when another process holds
// the directory, and that the directory opens once it is released.
func TestOpenInUseAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd, out, stdin := startChild(t, "hold", dir)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("child did not get ready: %q", out.Text())
	}
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "is in use by another domicile process") {
		t.Fatalf("Open of a held directory: error = %v, want it in use by another process", err)
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	openTest(t, dir, Options{})
}
