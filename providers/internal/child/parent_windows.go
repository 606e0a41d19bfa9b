package child

import (
	"os/exec"

	"github.com/planb-backup/planb/providers/internal/winjob"
)

// DieWithParent makes Windows end cmd when planb dies, even when it is
// killed: planb joins, once, a job object that terminates its processes
// when planb's handle to it closes (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE), and
// every process it starts afterwards is in that job. A pg_dump or
// pg_restore must not go on writing after the process that planned its
// work is gone. Where no such job can be made, cmd runs without it, as on
// systems other than Linux and Windows.
func DieWithParent(cmd *exec.Cmd) { _ = winjob.JoinSelf() }
