package child

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/planb-backup/planb/providers/internal/winjob"
	"golang.org/x/sys/windows"
)

// Group is what a command runs in so that stopping it reaches every
// process it started. On Windows that is a job object, and a console
// process group of its own:
//
//   - The job holds the command and everything it starts. planb holds its
//     only handle and the job ends its processes when that handle is
//     closed (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE), so they die with planb
//     however planb ends; kill terminates the job.
//   - The process group (CREATE_NEW_PROCESS_GROUP) lets interrupt send
//     Ctrl-Break to the command alone. It also keeps a Ctrl-C typed in
//     planb's console from reaching the command directly: planb stops its
//     commands itself, as on Unix.
//
// The command is created suspended and resumed once it is in the job, so
// nothing it starts can escape it.
type Group struct {
	ready chan struct{} // closed when started has run

	mu     sync.Mutex
	proc   *os.Process
	pid    uint32
	job    windows.Handle // 0 outside a job, and after release
	killed bool
}

// PrepareGroup makes cmd start suspended in a new process group. Call it
// before cmd.Start. It also puts planb in a job of its own (winjob.JoinSelf),
// as the PostgreSQL programs do, so that no process planb starts outlives
// it.
func PrepareGroup(cmd *exec.Cmd) *Group {
	_ = winjob.JoinSelf() // without it, the command's own job still holds it while it runs
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.CREATE_SUSPENDED,
	}
	return &Group{ready: make(chan struct{})}
}

// Started puts the command, which cmd.Start just created suspended, in a
// new job and resumes it. When no job can be made (an old Windows that
// does not nest jobs, inside a job that forbids it) the command runs
// without one, with a warning: stopping it then stops it alone. An error
// means it could not be resumed; it has been killed.
func (g *Group) Started(cmd *exec.Cmd, logger *slog.Logger) error {
	defer close(g.ready)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.proc = cmd.Process
	g.pid = uint32(cmd.Process.Pid)
	job, err := winjob.New()
	if err == nil {
		if err = winjob.Assign(job, g.pid); err != nil {
			windows.CloseHandle(job)
		}
	}
	if err != nil {
		logger.Warn("the command runs outside a job object: processes it starts may outlive it",
			"command", filepath.Base(cmd.Path), "error", err)
	} else {
		g.job = job
	}
	if err := winjob.Resume(g.pid); err != nil {
		g.killLocked()
		return err
	}
	return nil
}

// Interrupt asks the command to stop: Ctrl-Break to its process group, the
// Windows counterpart of SIGTERM (a console program's default handler
// exits). When that cannot be sent (planb has no console), it kills the
// command at once.
func (g *Group) Interrupt() error {
	<-g.ready
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, g.pid); err != nil {
		g.Kill()
	}
	return nil
}

// Kill terminates every process of the job (the command alone when it runs
// outside one).
func (g *Group) Kill() {
	<-g.ready
	g.mu.Lock()
	defer g.mu.Unlock()
	g.killLocked()
}

func (g *Group) killLocked() {
	g.killed = true
	if g.job != 0 {
		_ = windows.TerminateJobObject(g.job, 1)
		return
	}
	if g.proc != nil {
		_ = g.proc.Kill()
	}
}

// Release closes the job once the command has been waited for. Unless the
// command was killed, processes it left running go on after it, as they do
// on Unix (the job stops ending them first), until planb ends: they are in
// planb's own job.
func (g *Group) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.job == 0 {
		return
	}
	if !g.killed {
		_ = winjob.KeepOnClose(g.job)
	}
	windows.CloseHandle(g.job)
	g.job = 0
}
