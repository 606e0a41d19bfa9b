package child

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestDieWithParentLinux kills "planb" with SIGKILL, which it cannot
// handle, and checks that its child is gone soon after.
func TestDieWithParentLinux(t *testing.T) {
	planb, pid := startPlanb(t)
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
