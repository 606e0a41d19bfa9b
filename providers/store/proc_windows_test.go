package store

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestProcWindows(t *testing.T) {
	boot := readBootID()
	if !strings.HasPrefix(boot, "windows-boot:") || readBootID() != boot {
		t.Fatalf("boot id %q, then %q", boot, readBootID())
	}
	if readPIDNamespace() == "" {
		t.Skip("in a Windows container: processes are not checked")
	}
	id := newIdentity("node-a", "aip")
	if id.start == 0 || id.pidNS != windowsPIDNamespace || id.bootID != boot {
		t.Fatalf("identity %+v", id)
	}
	if start, err := readStartTime(os.Getpid()); err != nil || start != id.start {
		t.Errorf("start time of this process: %d, %v; want %d", start, err, id.start)
	}
	exists, start, err := probeProcess(os.Getpid())
	if err != nil || !exists || start != id.start {
		t.Errorf("probe of this process: %v, %d, %v", exists, start, err)
	}

	cmd := exec.Command("cmd", "/c", "exit 0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if exists, _, err := probeProcess(cmd.Process.Pid); err != nil || exists {
		t.Errorf("probe of an exited process: %v, %v", exists, err)
	}

	// A record naming that exited process on this host, boot and PID
	// namespace: its holder is proven gone. One naming this process with
	// another start time: its pid was reused.
	holder := id.record(time.Now())
	holder.RunID, holder.PID = "", cmd.Process.Pid
	if gone, why := id.gone(holder); !gone {
		t.Errorf("holder of an exited process not gone: %s", why)
	}
	holder.PID, holder.Start = os.Getpid(), id.start+1
	id.runID, id.pid = "another run", os.Getpid()+4
	if gone, why := id.gone(holder); !gone || !strings.Contains(why, "another process") {
		t.Errorf("holder of a reused pid: %v, %s", gone, why)
	}
}
