//go:build unix

package child

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
)

// Group is what a command runs in so that stopping it reaches every
// process it started: on Unix its own process group.
type Group struct {
	pgid int
}

// PrepareGroup makes cmd start in a new process group. Call it before
// cmd.Start.
func PrepareGroup(cmd *exec.Cmd) *Group {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return &Group{}
}

// Started is called right after cmd.Start succeeded; the group's id is the
// command's pid.
func (g *Group) Started(cmd *exec.Cmd, _ *slog.Logger) error {
	g.pgid = cmd.Process.Pid
	return nil
}

// Interrupt asks every process of the group to stop (SIGTERM). It returns
// os.ErrProcessDone when none is left.
func (g *Group) Interrupt() error {
	err := syscall.Kill(-g.pgid, syscall.SIGTERM)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// Kill stops every process of the group at once (SIGKILL).
func (g *Group) Kill() { _ = syscall.Kill(-g.pgid, syscall.SIGKILL) }

// Release is called once the command has been waited for. Processes the
// command left running after it exited on its own go on.
func (g *Group) Release() {}
