//go:build !unix && !windows

package child

import (
	"log/slog"
	"os"
	"os/exec"
)

// Group is what a command runs in. Without process groups or job
// objects it is the command's own process only.
type Group struct {
	proc *os.Process
}

// PrepareGroup returns the Group cmd will run in; it changes nothing of cmd.
func PrepareGroup(cmd *exec.Cmd) *Group { return &Group{} }

// Started records the command's process.
func (g *Group) Started(cmd *exec.Cmd, _ *slog.Logger) error {
	g.proc = cmd.Process
	return nil
}

// Interrupt kills the process: there is no gentler signal to send.
func (g *Group) Interrupt() error { return g.proc.Kill() }

// Kill kills the process.
func (g *Group) Kill() { _ = g.proc.Kill() }

// Release does nothing.
func (g *Group) Release() {}
