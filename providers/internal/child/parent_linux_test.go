package child

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const linuxHelperEnv = "PLANB_CHILD_LINUX_TEST_HELPER"

// TestLinuxChildHelper is the process the test below runs: "planb" starts
// a "sleep" child as planb starts pg_dump (DieWithParent), writes its pid
// to $PLANB_CHILD_LINUX_TEST_HELPER_PIDFILE and sleeps; "sleep" sleeps.
func TestLinuxChildHelper(t *testing.T) {
	switch os.Getenv(linuxHelperEnv) {
	case "":
		return
	case "planb":
		cmd := exec.Command(os.Args[0], "-test.run=^TestLinuxChildHelper$")
		cmd.Env = append(os.Environ(), linuxHelperEnv+"=sleep")
		DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			os.Exit(3)
		}
		if err := os.WriteFile(os.Getenv(linuxHelperEnv+"_PIDFILE"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
			os.Exit(4)
		}
		time.Sleep(time.Minute)
	case "sleep":
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

// TestDieWithParentLinux kills "planb" with SIGKILL, which it cannot
// handle, and checks that its child is gone soon after.
func TestDieWithParentLinux(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	planb := exec.Command(os.Args[0], "-test.run=^TestLinuxChildHelper$")
	planb.Env = append(os.Environ(), linuxHelperEnv+"=planb", linuxHelperEnv+"_PIDFILE="+pidFile)
	if err := planb.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for i := 0; ; i++ {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			if pid, err = strconv.Atoi(string(b)); err != nil {
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
	if err := syscall.Kill(pid, 0); err != nil {
		planb.Process.Kill()
		t.Fatalf("the child ended before planb was killed: %v", err)
	}
	if err := planb.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	planb.Wait()
	// The child is reparented (to init or a subreaper) and reaped there; it
	// is gone once signal 0 finds no process, or only a zombie.
	for i := 0; ; i++ {
		if !alive(pid) {
			return
		}
		if i > 60 {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the child %d outlived planb", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid names a process that is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S …".
	for i := len(stat) - 1; i > 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] != 'Z'
		}
	}
	return true
}
