package child

import (
	"errors"
	"testing"

	"golang.org/x/sys/windows"
)

// TestDieWithParentWindows kills "planb" and checks that its child ends
// with it.
func TestDieWithParentWindows(t *testing.T) {
	planb, pid := startPlanb(t)
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
