//go:build !linux && !windows

package postgres

import "os/exec"

// dieWithParent has no portable equivalent outside Linux.
func dieWithParent(cmd *exec.Cmd) {}
