// Command planb makes backups of PostgreSQL-based application estates
// declarative: HCL files say what must be backed up, `planb plan` shows what
// is missing, due or expired, and `planb apply` makes it so.
//
// This package only parses, calls and prints: one cmd_<verb>.go per
// command reads its flags, loads the configuration (plan/config) and opens
// the stores (stores*.go), has runner/facts gather what plans are made of
// and make them, runs them with runner (through runner/replan for apply;
// verify's checks are runner/check), and prints every line through the
// command's view in cmd/planb/views.
// exit.go maps outcomes to exit codes; notify.go sends the run summaries
// runner/notice builds.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/postgres"
	"github.com/planb-backup/planb/runner/notice"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes planb with args and returns the exit code. It is main without
// the process: tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if msg := err.Error(); msg != "" {
		g.view().Error(msg)
	}
	if ctx.Err() != nil {
		// Whatever failed, it failed because planb was asked to stop.
		return exitInterrupted
	}
	return exitCode(err)
}

// globals are the flags every command shares and the streams it writes to.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	chdir    string
	noColor  bool
	logLevel string
	now      string
	vars     []string
	varFiles []string
	// dbLockTimeout bounds the waits of restore planning and restores for
	// table locks.
	dbLockTimeout time.Duration

	logger *slog.Logger
	// report collects what apply or verify did for their notifications;
	// nil when none are sent.
	report *notice.Report
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "planb",
		Short: "Declarative backups of PostgreSQL-based application estates",
		Long: `planb backs up application estates built on PostgreSQL (CAST AIP first of all).
Describe what must be backed up in HCL files, review what is due with
'planb plan', and make it so with 'planb apply'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.setup()
		},
	}
	root.Version = version
	root.SetVersionTemplate("planb {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&g.chdir, "chdir", ".", "configuration directory")
	pf.BoolVar(&g.noColor, "no-color", false, "no colours in output (also NO_COLOR)")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	pf.StringVar(&g.now, "now", "", "evaluate schedules and retention as of this RFC 3339 time, or this long from now (+25h, -7d) (also PLANB_NOW)")
	pf.StringArrayVar(&g.vars, "var", nil, "set a variable: --var name=value (repeatable)")
	pf.StringArrayVar(&g.varFiles, "var-file", nil, "read variables from an HCL file (repeatable)")
	pf.DurationVar(&g.dbLockTimeout, "db-lock-timeout", postgres.DefaultLockTimeout, "restores and restore plans wait this long for a table lock, then name the sessions holding it")

	root.AddCommand(
		newValidateCmd(g),
		newFmtCmd(g),
		newPlanCmd(g),
		newApplyCmd(g),
		newListCmd(g),
		newVerifyCmd(g),
		newShowCmd(g),
		newGraphCmd(g),
		newVersionCmd(g),
	)
	return root
}

func (g *globals) setup() error {
	if os.Getenv("NO_COLOR") != "" {
		g.noColor = true
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	g.logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// clock returns the time planb evaluates schedules and retention at: --now,
// PLANB_NOW, or the current time.
func (g *globals) clock() (time.Time, error) {
	s := g.now
	if s == "" {
		s = os.Getenv("PLANB_NOW")
	}
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	if rel := strings.TrimLeft(s, "+-"); len(rel) == len(s)-1 {
		// Relative to the real clock: +25h, -7d, -1d12h.
		d, err := config.ParseDuration(rel)
		if err != nil {
			return time.Time{}, fmt.Errorf("--now %q: want an RFC 3339 time such as 2026-11-25T08:00:00Z, or a duration from now such as +25h or -7d", s)
		}
		if s[0] == '-' {
			d = -d
		}
		return time.Now().UTC().Add(d).Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now %q: want an RFC 3339 time such as 2026-11-25T08:00:00Z, or a duration from now such as +25h or -7d", s)
	}
	return t.UTC(), nil
}

// varMap turns --var name=value flags into a map.
func (g *globals) varMap() (map[string]string, error) {
	m := make(map[string]string, len(g.vars))
	for _, kv := range g.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: want name=value", kv)
		}
		m[k] = v
	}
	return m, nil
}

// view returns what the commands print through: the streams, with the
// colour settings of the flags.
func (g *globals) view() *views.View {
	return &views.View{Stdout: g.stdout, Stderr: g.stderr, NoColor: g.noColor}
}
