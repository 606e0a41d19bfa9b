package child

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

const childHelperEnv = "PLANB_CHILD_TEST_HELPER"

// TestChildHelper is the process the test below runs: "planb" starts a
// "sleep" child as planb starts pg_dump (DieWithParent), writes its pid to
// $PLANB_CHILD_TEST_HELPER_PIDFILE and sleeps; "sleep" sleeps.
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

func TestDieWithParentWindows(t *testing.T) {
	dir, err := os.MkdirTemp("", "planb-child-test-")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "pid")
	defer func() {
		os.Remove(pidFile)
		os.Remove(dir)
	}()
	planb := exec.Command(os.Args[0], "-test.run=^TestChildHelper$")
	planb.Env = append(os.Environ(), childHelperEnv+"=planb", childHelperEnv+"_PIDFILE="+pidFile)
	if err := planb.Start(); err != nil {
		t.Fatal(err)
	}
	var pid uint64
	for i := 0; ; i++ {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			if pid, err = strconv.ParseUint(string(b), 10, 32); err != nil {
				t.Fatal(err)
			}
			break
		}
		if i > 200 {
			planb.Process.Kill()
			t.Fatal("the helper wrote no child pid")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_TERMINATE, false, uint32(pid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		t.Fatal("the child ended before planb was killed")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(h)
	if err := planb.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	planb.Wait()
	if ev, err := windows.WaitForSingleObject(h, 3000); err != nil || ev != windows.WAIT_OBJECT_0 {
		windows.TerminateProcess(h, 1)
		t.Fatalf("the child %d outlived planb (%d, %v)", pid, ev, err)
	}
}
