//go:build !unix && !windows

package files

import (
	"log/slog"
	"os"
	"os/exec"
)

// processGroup is what a command runs in. Without process groups or job
// objects it is the command's own process only.
type processGroup struct {
	proc *os.Process
}

func prepareGroup(cmd *exec.Cmd) *processGroup { return &processGroup{} }

func (g *processGroup) started(cmd *exec.Cmd, _ *slog.Logger) error {
	g.proc = cmd.Process
	return nil
}

func (g *processGroup) interrupt() error { return g.proc.Kill() }

func (g *processGroup) kill() { _ = g.proc.Kill() }

func (g *processGroup) release() {}
