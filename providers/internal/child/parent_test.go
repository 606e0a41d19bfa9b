//go:build linux || windows

package child

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const childHelperEnv = "PLANB_CHILD_TEST_HELPER"

// TestChildHelper is the process the tests of DieWithParent run: "planb"
// starts a "sleep" child as planb starts pg_dump (DieWithParent), writes
// its pid to $PLANB_CHILD_TEST_HELPER_PIDFILE and sleeps; "sleep" sleeps.
func TestChildHelper(t *testing.T) {
	switch os.Getenv(childHelperEnv) {
	case "":
		return
	case "planb":
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildHelper$")
		cmd.Env = append(os.Environ(), childHelperEnv+"=sleep")
		DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			os.Exit(3)
		}
		if err := os.WriteFile(os.Getenv(childHelperEnv+"_PIDFILE"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
			os.Exit(4)
		}
		time.Sleep(time.Minute)
	case "sleep":
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

// startPlanb starts TestChildHelper as "planb" and returns it with the pid
// of the child it started.
func startPlanb(t *testing.T) (planb *exec.Cmd, pid int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "planb-child-test-")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "pid")
	defer func() {
		os.Remove(pidFile)
		os.Remove(dir)
	}()
	planb = exec.Command(os.Args[0], "-test.run=^TestChildHelper$")
	planb.Env = append(os.Environ(), childHelperEnv+"=planb", childHelperEnv+"_PIDFILE="+pidFile)
	if err := planb.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			if pid, err = strconv.Atoi(string(b)); err != nil {
				planb.Process.Kill()
				t.Fatal(err)
			}
			return planb, pid
		}
		if i > 200 {
			planb.Process.Kill()
			t.Fatal("the helper wrote no child pid")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
