package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/planb-backup/planb/providers/internal/child"
	"github.com/planb-backup/planb/providers/internal/tail"
)

// outputTail is how much of a command's output is kept for its error.
const outputTail = 4 << 10

// killGrace is how long a process group gets between SIGTERM and SIGKILL
// (on Windows: between Ctrl-Break and the termination of its job) after its
// context ends.
const killGrace = 5 * time.Second

// Command is an external program to run.
type Command struct {
	// Argv is the program and its arguments; no shell is involved. It must
	// never hold secrets: pass them through Env or a file instead.
	Argv []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Timeout bounds the run; zero means no limit besides the context.
	Timeout time.Duration
	// Env is added to os.Environ() (later entries win). It is never
	// logged.
	Env []string
	// Stdin, when set, is the command's standard input; otherwise it reads
	// from the null device.
	Stdin io.Reader
	// Stdout, when set, receives the command's standard output (e.g. a
	// dump streamed into an archive) instead of the logger.
	Stdout io.Writer
}

// RunCommand runs c and waits for it. The command runs in its own process
// group; when ctx ends or the timeout expires the whole group gets SIGTERM,
// then SIGKILL after a grace period, so children such as a shell's
// subprocesses do not outlive it. On Windows the group is a job object and
// a console process group: Ctrl-Break, then the job is terminated; the job
// also ends the command's processes when planb dies. Each line of output (standard error, and
// standard output unless c.Stdout is set) is logged at info level with the
// stream name; a nil logger discards it. The error of a failed command
// names the program, the exit status or signal, the timeout if it was
// reached, and the last 4 KiB of its output; it wraps *exec.ExitError and
// the context's error where they apply.
func RunCommand(ctx context.Context, c Command, logger *slog.Logger) error {
	if len(c.Argv) == 0 {
		return errors.New("run command: empty argv")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := filepath.Base(c.Argv[0])
	runCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}

	cmd := exec.CommandContext(runCtx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	group := child.PrepareGroup(cmd)
	var killTimer *time.Timer
	var killMu sync.Mutex
	cmd.Cancel = func() error {
		err := group.Interrupt()
		killMu.Lock()
		killTimer = time.AfterFunc(killGrace, group.Kill)
		killMu.Unlock()
		return err
	}
	// Output pipes stay open while any member of the group lives; stop
	// waiting for them shortly after the SIGKILL.
	cmd.WaitDelay = killGrace + time.Second

	// Each stream keeps its own tail: the two are copied concurrently, so
	// one shared tail could let the end of stdout push out stderr's last
	// words, which say why the command failed.
	errTail := tail.New(outputTail / 2)
	outTail := tail.New(outputTail / 2)
	stderr := newLineLogger(logger, name, "stderr", errTail)
	defer stderr.Close()
	cmd.Stderr = stderr
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	} else {
		stdout := newLineLogger(logger, name, "stdout", outTail)
		defer stdout.Close()
		cmd.Stdout = stdout
	}

	logger.Debug("run command", "argv", c.Argv, "dir", c.Dir)
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		serr := group.Started(cmd, logger)
		err = cmd.Wait()
		if serr != nil {
			err = serr
		}
	}
	killMu.Lock()
	if killTimer != nil {
		// The group was signalled: make sure no member survives.
		killTimer.Stop()
		group.Kill()
	}
	killMu.Unlock()
	group.Release()
	logger.Debug("command finished", "command", name, "duration", time.Since(start), "error", err)
	if err == nil {
		return nil
	}

	msg := fmt.Sprintf("run %s", name)
	switch {
	case c.Timeout > 0 && errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		msg += fmt.Sprintf(": timed out after %s", c.Timeout)
		err = fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
	case ctx.Err() != nil:
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	var out [][]byte
	for _, t := range []*tail.Buffer{outTail, errTail} {
		if b := bytes.TrimSpace(t.Bytes()); len(b) > 0 {
			out = append(out, b)
		}
	}
	if len(out) > 0 {
		return fmt.Errorf("%s: %w\n%s", msg, err, bytes.Join(out, []byte("\n")))
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// lineLogger logs each complete line written to it and copies everything to
// tail. Close logs a last unterminated line.
type lineLogger struct {
	logger        *slog.Logger
	command, strm string
	tail          io.Writer
	partial       []byte
}

// maxLine bounds a logged line; longer lines are logged in pieces.
const maxLine = 8 << 10

func newLineLogger(logger *slog.Logger, command, stream string, tail io.Writer) *lineLogger {
	return &lineLogger{logger: logger, command: command, strm: stream, tail: tail}
}

// Write is called from one goroutine per stream by os/exec.
func (l *lineLogger) Write(p []byte) (int, error) {
	_, _ = l.tail.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			if len(l.partial) >= maxLine {
				l.log(l.partial)
				l.partial = l.partial[:0]
			}
			return len(p), nil
		}
		l.log(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
}

func (l *lineLogger) log(line []byte) {
	line = bytes.TrimRight(line, "\r")
	l.logger.Info(string(line), "command", l.command, "stream", l.strm)
}

func (l *lineLogger) Close() error {
	if len(l.partial) > 0 {
		l.log(l.partial)
		l.partial = nil
	}
	return nil
}
