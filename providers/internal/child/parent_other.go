//go:build !linux && !windows

package child

import "os/exec"

// DieWithParent has no portable equivalent outside Linux.
func DieWithParent(cmd *exec.Cmd) {}
