package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times: 100
// on every architecture Go supports on Linux.
const clockTick = 10 * time.Millisecond

// ProcCPU returns the CPU time (user and system) process pid has used, read
// from /proc/PID/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the contents
// of /proc/PID/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last
// ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("server CPU: /proc stat has no command name")
	}
	// After ")": field 3 (state) onwards.
	f := bytes.Fields(b[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("server CPU: /proc stat has %d fields after the name, want more than %d", len(f), stime)
	}
	u, err1 := strconv.ParseUint(string(f[utime]), 10, 63)
	s, err2 := strconv.ParseUint(string(f[stime]), 10, 63)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	const max = uint64(1<<63-1) / uint64(clockTick)
	if u > max || s > max || u+s > max {
		return 0, errors.New("server CPU: /proc stat times out of range")
	}
	return time.Duration(u+s) * clockTick, nil
}

// PeakRSS returns the peak resident set size of process pid in bytes
// (VmHWM in /proc/PID/status).
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	return parseHWM(b)
}

// parseHWM finds "VmHWM:  N kB" in the contents of /proc/PID/status.
func parseHWM(b []byte) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("server memory: malformed VmHWM line %q", line)
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			return 0, fmt.Errorf("server memory: malformed VmHWM line %q", line)
		}
		return n << 10, nil
	}
	return 0, errors.New("server memory: no VmHWM in /proc status")
}
