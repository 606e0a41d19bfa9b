package child

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the kernel kill cmd when planb dies, even by SIGKILL:
// a pg_dump or pg_restore must not go on writing after the process that
// planned its work is gone.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
