package files

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// helperEnv makes the test binary act as a command for RunCommand's tests
// (TestHelperProcess) instead of running the tests.
const helperEnv = "PLANB_FILES_TEST_HELPER"

// TestHelperProcess is the command the tests below run: "sleep" sleeps a
// minute; "parent" starts a "sleep" child in a process group of its own,
// writes its pid to the file named by $PLANB_FILES_TEST_HELPER_PIDFILE,
// and then sleeps ("parent-exit": exits). "runner" runs "parent" with
// RunCommand, as planb runs a hook.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	switch mode {
	case "sleep":
		time.Sleep(time.Minute)
	case "runner":
		// planb: runs a "parent" command until it is killed.
		cmd := Command{
			Argv: []string{os.Args[0], "-test.run=^TestHelperProcess$"},
			Env:  []string{helperEnv + "=parent"},
		}
		_ = RunCommand(context.Background(), cmd, nil)
	case "parent", "parent-exit":
		child := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		child.Env = append(os.Environ(), helperEnv+"=sleep")
		// A process group of its own: Ctrl-Break sent to the command's
		// group does not reach it, only the end of the job does.
		child.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
		if err := child.Start(); err != nil {
			os.Exit(3)
		}
		pidFile := os.Getenv(helperEnv + "_PIDFILE")
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
			os.Exit(4)
		}
		if mode == "parent" {
			time.Sleep(time.Minute)
		}
	}
	os.Exit(0)
}

// helperCommand is a Command running the test binary as TestHelperProcess in
// mode, and the file its child's pid is written to.
func helperCommand(t *testing.T, mode string) (Command, string) {
	pidFile := filepath.Join(tempDir(t), "pid")
	return Command{
		Argv: []string{os.Args[0], "-test.run=^TestHelperProcess$"},
		Env:  []string{helperEnv + "=" + mode, helperEnv + "_PIDFILE=" + pidFile},
	}, pidFile
}

// tempDir is a temporary folder removed after the test as far as it can
// be: some Windows emulations cannot remove what t.TempDir makes.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "planb-files-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(filepath.Join(dir, "pid"))
		os.Remove(dir)
	})
	return dir
}

// childOf returns the pid the helper wrote, waiting for it a little.
func childOf(t *testing.T, pidFile string) uint32 {
	t.Helper()
	for i := 0; ; i++ {
		b, err := os.ReadFile(pidFile)
		if err == nil && len(b) > 0 {
			pid, err := strconv.ParseUint(string(b), 10, 32)
			if err != nil {
				t.Fatal(err)
			}
			return uint32(pid)
		}
		if i > 200 {
			t.Fatalf("the helper wrote no child pid: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether process pid runs, waiting up to wait for it to
// end.
func running(t *testing.T, pid uint32, wait time.Duration) bool {
	t.Helper()
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, pid)
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return false
	}
	if err != nil {
		t.Fatalf("open process %d: %v", pid, err)
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, uint32(wait.Milliseconds()))
	if err != nil {
		t.Fatal(err)
	}
	return ev != windows.WAIT_OBJECT_0
}

func killPID(pid uint32) {
	if h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, pid); err == nil {
		windows.TerminateProcess(h, 1)
		windows.CloseHandle(h)
	}
}

func TestRunCommandWindowsOutputAndExitCode(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	err := RunCommand(context.Background(), Command{Argv: []string{"cmd", "/c", "echo out& echo err>&2& exit 3"}}, logger)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("error %v, want exit status 3", err)
	}
	for _, want := range []string{"msg=out command=cmd stream=stdout", "msg=err command=cmd stream=stderr"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestRunCommandWindowsTimeoutEndsJob(t *testing.T) {
	cmd, pidFile := helperCommand(t, "parent")
	cmd.Timeout = 2 * time.Second
	start := time.Now()
	err := RunCommand(context.Background(), cmd, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d > killGrace+10*time.Second {
		t.Errorf("RunCommand took %s", d)
	}
	child := childOf(t, pidFile)
	if running(t, child, 3*time.Second) {
		killPID(child)
		t.Fatalf("the command's child %d outlived it", child)
	}
}

func TestRunCommandWindowsCancelEndsJob(t *testing.T) {
	cmd, pidFile := helperCommand(t, "parent")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		childOf(t, pidFile)
		cancel()
	}()
	err := RunCommand(ctx, cmd, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	child := childOf(t, pidFile)
	if running(t, child, 3*time.Second) {
		killPID(child)
		t.Fatalf("the command's child %d outlived it", child)
	}
}

// A command that exits on its own leaves what it started running, as on
// Unix.
func TestRunCommandWindowsExitKeepsChildren(t *testing.T) {
	cmd, pidFile := helperCommand(t, "parent-exit")
	if err := RunCommand(context.Background(), cmd, nil); err != nil {
		t.Fatal(err)
	}
	child := childOf(t, pidFile)
	defer killPID(child)
	if !running(t, child, 200*time.Millisecond) {
		t.Errorf("the command's child %d ended with it", child)
	}
}

// When planb dies, killed, the processes of the commands it runs die too.
func TestRunCommandWindowsDiesWithPlanb(t *testing.T) {
	pidFile := filepath.Join(tempDir(t), "pid")
	runner := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	runner.Env = append(os.Environ(), helperEnv+"=runner", helperEnv+"_PIDFILE="+pidFile)
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	child := childOf(t, pidFile)
	if err := runner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	runner.Wait()
	if running(t, child, 3*time.Second) {
		killPID(child)
		t.Fatalf("the child %d of a command outlived planb", child)
	}
}
