package store

import (
	"os"
	"strings"
	"testing"
)

func TestProcLinux(t *testing.T) {
	if readBootID() == "" || readPIDNamespace() == "" {
		t.Skip("no /proc of this PID namespace")
	}
	id := newIdentity("node-a", "aip")
	if id.start == 0 || !strings.HasPrefix(id.pidNS, "pid:[") || len(id.bootID) != 36 || id.runID == "" {
		t.Fatalf("identity %+v", id)
	}
	if start, err := readStartTime(os.Getpid()); err != nil || start != id.start {
		t.Errorf("start time of this process: %d, %v; want %d", start, err, id.start)
	}
	exists, start, err := probeProcess(os.Getppid())
	if err != nil || !exists || start == 0 {
		t.Errorf("probe of the parent: %v, %d, %v", exists, start, err)
	}
	dead := exitedPID(t)
	if exists, _, err := probeProcess(dead); err != nil || exists {
		t.Errorf("probe of an exited process: %v, %v", exists, err)
	}
	for stat, want := range map[string]uint64{
		"1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 100 200": 42,
		"7 (a) b (c) R 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 77 100 200": 77,
	} {
		if got, err := parseStartTime([]byte(stat)); err != nil || got != want {
			t.Errorf("parseStartTime(%q) = %d, %v; want %d", stat, got, err, want)
		}
	}
	if _, err := parseStartTime([]byte("1 (x) S 0")); err == nil {
		t.Error("parseStartTime of a short line succeeded")
	}
}
