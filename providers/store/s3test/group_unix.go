//go:build unix

package s3test

import (
	"os/exec"
	"syscall"
)

// ownGroup makes cmd start in its own process group, so killGroup reaches
// whatever it starts.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group of a command started with ownGroup.
func killGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
