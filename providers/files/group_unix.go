//go:build unix

package files

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
)

// processGroup is what a command runs in so that stopping it reaches every
// process it started: on Unix its own process group.
type processGroup struct {
	pgid int
}

// prepareGroup makes cmd start in a new process group. Call it before
// cmd.Start.
func prepareGroup(cmd *exec.Cmd) *processGroup {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return &processGroup{}
}

// started is called right after cmd.Start succeeded; the group's id is the
// command's pid.
func (g *processGroup) started(cmd *exec.Cmd, _ *slog.Logger) error {
	g.pgid = cmd.Process.Pid
	return nil
}

// interrupt asks every process of the group to stop (SIGTERM). It returns
// os.ErrProcessDone when none is left.
func (g *processGroup) interrupt() error {
	err := syscall.Kill(-g.pgid, syscall.SIGTERM)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// kill stops every process of the group at once (SIGKILL).
func (g *processGroup) kill() { _ = syscall.Kill(-g.pgid, syscall.SIGKILL) }

// release is called once the command has been waited for. Processes the
// command left running after it exited on its own go on.
func (g *processGroup) release() {}
