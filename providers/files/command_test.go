//go:build unix

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
)

func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		cmd      Command
		wantErr  []string // substrings of the error; nil means success
		exitCode int
		wantLogs []string
	}{
		"success logs output lines": {
			cmd:      Command{Argv: []string{"sh", "-c", "echo out; echo err >&2"}},
			wantLogs: []string{"msg=out command=sh stream=stdout", "msg=err command=sh stream=stderr"},
		},
		"exit code and stderr in error": {
			cmd:      Command{Argv: []string{"sh", "-c", "echo 'pg_dump: error: no such schema' >&2; exit 3"}},
			wantErr:  []string{"run sh: exit status 3", "pg_dump: error: no such schema"},
			exitCode: 3,
		},
		"env is added to the environment": {
			cmd:     Command{Argv: []string{"sh", "-c", `test "${#PLANB_TEST_VALUE}" = 6 && test -n "$PATH" || { echo bad env >&2; exit 1; }`}, Env: []string{"PLANB_TEST_VALUE=s3cret"}},
			wantErr: nil,
		},
		"dir is the working directory": {
			cmd: Command{Argv: []string{"sh", "-c", `test "$(pwd -P)" = "$1" || { pwd >&2; exit 1; }`, "sh", mustEval(t, dir)}, Dir: dir},
		},
		"missing program": {
			cmd:     Command{Argv: []string{"/nonexistent/planb-no-such-program"}},
			wantErr: []string{"run planb-no-such-program:", "no such file"},
		},
		"empty argv": {
			cmd:     Command{},
			wantErr: []string{"empty argv"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			err := RunCommand(context.Background(), tc.cmd, logger)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("RunCommand: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("RunCommand succeeded, want error")
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
			}
			if tc.exitCode != 0 {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != tc.exitCode {
					t.Errorf("error %v: want *exec.ExitError with code %d", err, tc.exitCode)
				}
			}
			for _, want := range tc.wantLogs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs do not contain %q:\n%s", want, logs.String())
				}
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("environment value leaked into logs:\n%s", logs.String())
			}
		})
	}
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startGroupTest runs a shell that starts a background sleep (a grandchild
// in the same process group), writes the sleep's pid to a file and waits.
func startGroupTest(t *testing.T) (Command, string) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	return Command{Argv: []string{"sh", "-c", `sleep 60 & echo $! > "$1"; wait`, "sh", pidFile}}, pidFile
}

func waitGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("child pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		// A killed child that is not yet reaped is a zombie: treat it as gone.
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild sleep %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunCommandTimeoutKillsProcessGroup(t *testing.T) {
	cmd, pidFile := startGroupTest(t)
	cmd.Timeout = 300 * time.Millisecond
	start := time.Now()
	err := RunCommand(context.Background(), cmd, nil)
	if err == nil {
		t.Fatal("RunCommand succeeded, want timeout")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("RunCommand took %s, want about the timeout", elapsed)
	}
	if !strings.Contains(err.Error(), "timed out after 300ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q: want timeout wrapping context.DeadlineExceeded", err)
	}
	waitGone(t, pidFile)
}

func TestRunCommandCancelKillsProcessGroup(t *testing.T) {
	cmd, pidFile := startGroupTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if _, err := os.Stat(pidFile); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err := RunCommand(ctx, cmd, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunCommand error %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), "timed out") {
		t.Errorf("error %q mentions a timeout", err)
	}
	waitGone(t, pidFile)
}

func TestRunCommandTailIsBounded(t *testing.T) {
	err := RunCommand(context.Background(), Command{Argv: []string{"sh", "-c", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo last >&2; exit 1`}}, nil)
	if err == nil {
		t.Fatal("want error")
	}
	msg := err.Error()
	if len(msg) > outputTail+200 {
		t.Errorf("error is %d bytes, want at most about %d", len(msg), outputTail)
	}
	if !strings.Contains(msg, "line 1999") || !strings.Contains(msg, "last") || strings.Contains(msg, "line 10\n") {
		t.Errorf("error does not hold the tail of the output: %q", msg[:200])
	}
	if !strings.Contains(msg, "…") {
		t.Error("truncated output is not marked")
	}
}

func TestRunCommandStdinStdout(t *testing.T) {
	var out bytes.Buffer
	err := RunCommand(context.Background(), Command{Argv: []string{"tr", "a-z", "A-Z"}, Stdin: strings.NewReader("planb"), Stdout: &out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "PLANB" {
		t.Errorf("stdout = %q, want PLANB", out.String())
	}
}
