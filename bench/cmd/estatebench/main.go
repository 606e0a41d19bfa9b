// Command estatebench measures planb against the tools it replaces, on one
// generated CAST-like estate, in one run:
//
//	a  cast:      pg_dump -Fc -n, one schema after another, then zip -r of the
//	              dumps and the delivery folder (what CAST AIP Console does)
//	b  borgmatic: borgmatic create with a postgresql_databases hook into a
//	              local borg repository (skipped, and said so, when absent)
//	c  planb:     planb apply --auto-approve
//	d  floor:     every schema pg_dump -Fc -Z0 > /dev/null in parallel, plus
//	              reading the delivery tree: the least any backup must do
//	e  encrypted: planb apply --auto-approve into a store encrypted with age
//	              to one recipient (no identity), the cost of encryption
//
// and restores: planb plan --restore + apply against unzip + pg_restore one
// schema after another. Runs alternate (the order rotates every round) and
// repeat; the table shows medians of wall time, CPU time of the process tree,
// CPU time of the PostgreSQL server, peak RSS of the largest process, and
// output size, followed by the ratios c/a, c/b, c/d and e/c.
//
// A second part times a no-op `planb plan` over 1,000 applications with 30
// archives each in a local store.
//
// With -day-two, a last part runs the day-two scenario (daytwo.go): delivery
// folders holding several versions are backed up, one more version is
// delivered (10 % of its files changed, 5 % new) and they are backed up
// again, by the CAST-like script, borgmatic and planb; the table shows the
// second backup's wall time, CPU and store growth.
//
// Usage (from the repository root, as root or as a user that may run
// PostgreSQL):
//
//	go run ./bench/cmd/estatebench -size small
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/planb-backup/planb/bench"
)

type options struct {
	size        string
	reps        int
	pgBinDir    string
	planbBin    string
	workDir     string
	keep        bool
	skipBackup  bool
	skipRestore bool
	skipPlan    bool
	planApps    int
	planArchive int
	methods     string
	// Overrides of the preset's fields; 0 keeps the preset.
	apps, analysisMB, deliveryFiles, deliveryMB int
	dayTwo                                      dayTwoOptions
}

func main() {
	var o options
	flag.StringVar(&o.size, "size", "small", "estate size: tiny, small or medium")
	flag.IntVar(&o.reps, "reps", 3, "rounds of every measurement (the median is reported)")
	flag.StringVar(&o.pgBinDir, "pg-bindir", "/usr/lib/postgresql/15/bin", "PostgreSQL 15 binaries")
	flag.StringVar(&o.planbBin, "planb", "", "planb binary to measure (default: built from ./cmd/planb)")
	flag.StringVar(&o.workDir, "workdir", "", "directory for the estate and outputs (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.BoolVar(&o.skipBackup, "skip-backup", false, "skip the backup comparison")
	flag.BoolVar(&o.skipRestore, "skip-restore", false, "skip the restore comparison")
	flag.BoolVar(&o.skipPlan, "skip-plan", false, "skip the planning benchmark")
	flag.IntVar(&o.planApps, "plan-apps", 1000, "applications in the planning benchmark")
	flag.IntVar(&o.planArchive, "plan-archives", 30, "archives per application in the planning benchmark")
	flag.StringVar(&o.methods, "methods", "abcde", "backup methods to run (a cast, b borgmatic, c planb, d floor, e planb into an encrypted store); restores need a and c")
	flag.IntVar(&o.apps, "apps", 0, "override the preset: number of applications")
	flag.IntVar(&o.analysisMB, "analysis-mb", 0, "override the preset: MB of each analysis schema")
	flag.IntVar(&o.deliveryFiles, "delivery-files", 0, "override the preset: files in each delivery folder")
	flag.IntVar(&o.deliveryMB, "delivery-mb", 0, "override the preset: MB of each delivery folder")
	o.dayTwo.register(flag.CommandLine)
	flag.Parse()
	// A signal (or a closed stdout) cancels the run; the server is stopped
	// and the work directory removed on the way out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "estatebench:", err)
		os.Exit(1)
	}
}

// env is the generated estate and everything the measured commands need.
type env struct {
	o       options
	size    bench.Size
	work    string // work directory, readable by the server's OS user
	root    string // estate root: delivery/<app>/
	srv     *server
	planb   string
	apps    []string
	schemas []string // every schema, applications' first, measurement last
	baseEnv []string
}

func run(ctx context.Context, o options, out io.Writer) error {
	size, ok := bench.Sizes[o.size]
	if !ok {
		return fmt.Errorf("-size %q: want tiny, small or medium", o.size)
	}
	for _, ov := range []struct {
		dst *int
		v   int
	}{{&size.Apps, o.apps}, {&size.AnalysisMB, o.analysisMB},
		{&size.DeliveryFiles, o.deliveryFiles}, {&size.DeliveryMB, o.deliveryMB}} {
		if ov.v > 0 {
			*ov.dst = ov.v
			size.Name = "custom"
		}
	}
	if !o.skipRestore && (!strings.Contains(o.methods, "a") || !strings.Contains(o.methods, "c")) {
		return errors.New("restores need the archives of methods a and c: add them to -methods or pass -skip-restore")
	}
	if o.reps < 1 {
		return errors.New("-reps must be at least 1")
	}
	e := &env{o: o, size: size}
	var err error
	if o.workDir == "" {
		if e.work, err = os.MkdirTemp("", "planb-bench-"); err != nil {
			return err
		}
	} else {
		e.work = o.workDir
		if err := os.MkdirAll(e.work, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(e.work, 0o755); err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(e.work)
	} else {
		defer fmt.Fprintln(os.Stderr, "kept", e.work)
	}
	e.root = filepath.Join(e.work, "estate")

	if e.planb = o.planbBin; e.planb == "" {
		e.planb = filepath.Join(e.work, "planb")
		progress("build planb")
		if b, err := exec.Command("go", "build", "-o", e.planb, "./cmd/planb").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/planb (run from the repository root): %v: %s", err, b)
		}
	}
	progress("start PostgreSQL")
	if e.srv, err = startServer(o.pgBinDir, filepath.Join(e.work, "pg")); err != nil {
		return err
	}
	defer e.srv.stop()
	e.baseEnv = append(os.Environ(), e.srv.env("aip")...)
	e.baseEnv = append(e.baseEnv, "PATH="+o.pgBinDir+":"+os.Getenv("PATH"), "PLANB_VAR_css_password="+e.srv.password, "NO_COLOR=1")

	header(out, e)
	if !o.skipBackup || !o.skipRestore || o.dayTwo.run {
		if err := e.seed(ctx, out); err != nil {
			return fmt.Errorf("seed the estate: %w", err)
		}
		if err := e.compare(ctx, out); err != nil {
			return err
		}
	}
	if o.dayTwo.run {
		if err := e.dayTwo(ctx, out); err != nil {
			return err
		}
	}
	if !o.skipPlan {
		if err := e.planning(ctx, out); err != nil {
			return fmt.Errorf("planning benchmark: %w", err)
		}
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "estatebench: "+format+"\n", args...)
}

func header(out io.Writer, e *env) {
	fmt.Fprintf(out, "# estatebench -size %s -reps %d (%d applications, analysis %d MB, delivery %d files / %d MB each)\n\n",
		e.size.Name, e.o.reps, e.size.Apps, e.size.AnalysisMB, e.size.DeliveryFiles, e.size.DeliveryMB)
	fmt.Fprintf(out, "- machine: %d CPUs, %s, %s; load average at start %s\n", runtime.NumCPU(), cpuModel(), memTotal(), loadAvg())
	fmt.Fprintf(out, "- versions: %s; %s; %s; %s; %s\n", firstLine(e.planb, "version"),
		firstLine(filepath.Join(e.o.pgBinDir, "pg_dump"), "--version"), firstLine("zip", "-v", "|2"),
		firstLine("borgmatic", "--version"), firstLine("borg", "--version"))
}

// seed creates the database, the schemas and the delivery folders.
func (e *env) seed(ctx context.Context, out io.Writer) error {
	progress("seed %d applications (analysis %d MB each, %d delivery files / %d MB each)",
		e.size.Apps, e.size.AnalysisMB, e.size.DeliveryFiles, e.size.DeliveryMB)
	conn, err := pgx.Connect(ctx, e.srv.url("postgres"))
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE aip"); err != nil {
		conn.Close(ctx)
		return err
	}
	conn.Close(ctx)
	if conn, err = pgx.Connect(ctx, e.srv.url("aip")); err != nil {
		return err
	}
	defer conn.Close(ctx)
	var deliveryBytes int64
	for i := range e.size.Apps {
		app := bench.AppName(i)
		e.apps = append(e.apps, app)
		sc := bench.Schemas(app)
		e.schemas = append(e.schemas, sc[:]...)
		for _, stmt := range bench.SeedSQL(app, e.size) {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("application %s: %w", app, err)
			}
		}
		n, err := bench.WriteDelivery(filepath.Join(e.root, "delivery", app), app, e.size)
		if err != nil {
			return err
		}
		deliveryBytes += n
	}
	e.schemas = append(e.schemas, bench.MeasurementSchema)
	for _, stmt := range bench.MeasurementSQL(e.size, e.apps) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("measurement schema: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	var dbBytes, analysisBytes int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0),
		coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname LIKE '%\_local'), 0)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname = ANY($1)`, e.schemas).Scan(&dbBytes, &analysisBytes)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "- estate: %d applications × 3 schemas + measurement schema = %s in tables (analysis schemas %s); delivery %d files, %s\n\n",
		len(e.apps), human(dbBytes), human(analysisBytes), len(e.apps)*e.size.DeliveryFiles, human(deliveryBytes))
	return e.writeConfigs()
}

// configHead is the start of every planb configuration the benchmark writes:
// the password variable, the throwaway server and a local store at root.
func (e *env) configHead(root string) string {
	return e.configHeadWith(root, "")
}

// configHeadWith is configHead with extra lines in the store block (an
// encryption block).
func (e *env) configHeadWith(root, storeExtra string) string {
	return fmt.Sprintf(`variable "css_password" {
  type      = string
  sensitive = true
}

database "css" {
  host     = "127.0.0.1"
  port     = %d
  user     = "postgres"
  password = var.css_password
  dbname   = "aip"
  sslmode  = "disable"
  bin_dir  = %q
}

store "node" {
  local { path = %q }%s
}
`, e.srv.port, e.o.pgBinDir, root, storeExtra)
}

// writeConfigs writes the planb configuration and the borgmatic one.
func (e *env) writeConfigs() error {
	cfgDir := filepath.Join(e.work, "planb-config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	apps := make([]string, len(e.apps))
	for i, a := range e.apps {
		apps[i] = fmt.Sprintf("%q", a)
	}
	resources := fmt.Sprintf(`
application "estate" {
  for_each = toset([%s])

  database        = database.css
  schemas         = { management = "${each.key}_mngt", dashboard = "${each.key}_central", analysis = "${each.key}_local" }
  delivery_folder = "%s/${each.key}"
  every           = "24h"
  stores          = [store.node]
}

measurement "health" {
  database = database.css
  schema   = %q
  every    = "24h"
  stores   = [store.node]
}
`, strings.Join(apps, ", "), filepath.Join(e.root, "delivery"), bench.MeasurementSchema)
	if err := os.WriteFile(filepath.Join(cfgDir, "estate.hcl"), []byte(e.configHead(e.out("planb"))+resources), 0o644); err != nil {
		return err
	}
	// Method e: the same into a store encrypted to one age recipient, as a
	// backup host without any private key writes it.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	encDir := filepath.Join(e.work, "planb-config-encrypted")
	if err := os.MkdirAll(encDir, 0o755); err != nil {
		return err
	}
	encrypted := fmt.Sprintf("\n  encryption {\n    recipients = [%q]\n  }", id.Recipient().String())
	if err := os.WriteFile(filepath.Join(encDir, "estate.hcl"), []byte(e.configHeadWith(e.out("planb-encrypted"), encrypted)+resources), 0o644); err != nil {
		return err
	}
	// borgmatic 1.7 layout (sections); the password stays in this 0600 file.
	borg := fmt.Sprintf(`location:
    source_directories:
        - %s
    repositories:
        - %s
storage:
    archive_name_format: 'bench-{now:%%Y-%%m-%%dT%%H:%%M:%%S.%%f}'
hooks:
    postgresql_databases:
        - name: aip
          hostname: 127.0.0.1
          port: %d
          username: postgres
          password: %s
          format: custom
`, filepath.Join(e.root, "delivery"), e.out("borgmatic"), e.srv.port, e.srv.password)
	return os.WriteFile(filepath.Join(e.work, "borgmatic.yaml"), []byte(borg), 0o600)
}

// out is where method writes its output.
func (e *env) out(method string) string { return filepath.Join(e.work, "out", method) }

// method is one measured way of doing the job.
type method struct {
	key, name string
	// prepare runs unmeasured before each round (clearing old output).
	prepare func() error
	// script is the bash script measured.
	script string
	// output is the directory whose size is the run's output; "" for none.
	output string
}

func (e *env) backupMethods() []method {
	q := shellQuote
	var cast, floor strings.Builder
	// a: CAST's own procedure: each schema dumped by itself, compressed by
	// pg_dump, then the dumps and the delivery folder zipped.
	fmt.Fprintf(&cast, "set -euo pipefail\ncd %s\n", q(e.root))
	for _, app := range e.apps {
		fmt.Fprintf(&cast, "mkdir -p dumps/%s\n", app)
		for _, s := range bench.Schemas(app) {
			fmt.Fprintf(&cast, "pg_dump -Fc -n %s -f dumps/%s/%s.dump\n", q(`"`+s+`"`), app, s)
		}
		fmt.Fprintf(&cast, "zip -q -r %s dumps/%s delivery/%s\nrm -rf dumps/%s\n", q(filepath.Join(e.out("cast"), app+".zip")), app, app, app)
	}
	fmt.Fprintf(&cast, "mkdir -p dumps/measure\npg_dump -Fc -n %s -f dumps/measure/%s.dump\nzip -q -r %s dumps/measure\nrm -rf dumps\n",
		q(`"`+bench.MeasurementSchema+`"`), bench.MeasurementSchema, q(filepath.Join(e.out("cast"), "measure.zip")))

	// d: the floor. pg_dump -Z0 of every schema at once, and the delivery
	// tree read through a pipe (GNU tar skips reading when it writes to
	// /dev/null itself).
	fmt.Fprintf(&floor, "set -euo pipefail\npids=()\n")
	for _, s := range e.schemas {
		fmt.Fprintf(&floor, "pg_dump -Fc -Z0 -n %s > /dev/null & pids+=($!)\n", q(`"`+s+`"`))
	}
	fmt.Fprintf(&floor, "tar -cf - -C %s delivery | wc -c > /dev/null & pids+=($!)\nfor p in \"${pids[@]}\"; do wait $p; done\n", q(e.root))

	reset := func(name string) func() error {
		return func() error {
			if err := os.RemoveAll(e.out(name)); err != nil {
				return err
			}
			return os.MkdirAll(e.out(name), 0o755)
		}
	}
	ms := []method{
		{key: "a", name: "cast: pg_dump -Fc one by one + zip -r", prepare: reset("cast"), script: cast.String(), output: e.out("cast")},
	}
	_, noBorgmatic := exec.LookPath("borgmatic")
	switch {
	case !strings.Contains(e.o.methods, "b"):
	case noBorgmatic == nil:
		borgBase := filepath.Join(e.work, "borgbase")
		ms = append(ms, method{key: "b", name: "borgmatic create (postgresql_databases hook)",
			prepare: func() error {
				if err := os.RemoveAll(borgBase); err != nil {
					return err
				}
				if err := os.RemoveAll(e.out("borgmatic")); err != nil {
					return err
				}
				c := exec.Command("borg", "init", "--encryption=none", e.out("borgmatic"))
				c.Env = e.borgEnv(borgBase)
				if b, err := c.CombinedOutput(); err != nil {
					return fmt.Errorf("borg init: %v: %s", err, b)
				}
				return nil
			},
			script: fmt.Sprintf("set -euo pipefail\nborgmatic --config %s create\n", q(filepath.Join(e.work, "borgmatic.yaml"))),
			output: e.out("borgmatic"),
		})
	default:
		progress("borgmatic not found in PATH: column b skipped (apt-get install -y borgmatic)")
	}
	ms = append(ms,
		method{key: "c", name: "planb apply", prepare: reset("planb"),
			script: fmt.Sprintf("set -euo pipefail\n%s --chdir %s apply --auto-approve > /dev/null\n", q(e.planb), q(filepath.Join(e.work, "planb-config"))),
			output: e.out("planb")},
		method{key: "d", name: "floor: pg_dump -Z0 > /dev/null ∥ + read delivery", prepare: func() error { return nil }, script: floor.String()},
		method{key: "e", name: "planb apply into an encrypted store (age, recipient only)", prepare: reset("planb-encrypted"),
			script: fmt.Sprintf("set -euo pipefail\n%s --chdir %s apply --auto-approve > /dev/null\n", q(e.planb), q(filepath.Join(e.work, "planb-config-encrypted"))),
			output: e.out("planb-encrypted")},
	)
	return slices.DeleteFunc(ms, func(m method) bool { return !strings.Contains(e.o.methods, m.key) })
}

func (e *env) borgEnv(base string) []string {
	return append(slices.Clone(e.baseEnv), "BORG_BASE_DIR="+base, "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes",
		"BORG_RELOCATED_REPO_ACCESS_IS_OK=yes")
}

func (e *env) restoreMethods() []method {
	q := shellQuote
	var cast, planb strings.Builder
	fmt.Fprintf(&cast, "set -euo pipefail\ncd %s\n", q(e.root))
	for _, app := range e.apps {
		fmt.Fprintf(&cast, "unzip -q -o %s\n", q(filepath.Join(e.out("cast"), app+".zip")))
		for _, s := range bench.Schemas(app) {
			fmt.Fprintf(&cast, "psql -q -v ON_ERROR_STOP=1 -c %s\npg_restore --exit-on-error -d aip dumps/%s/%s.dump\n",
				q(`DROP SCHEMA IF EXISTS "`+s+`" CASCADE`), app, s)
		}
		fmt.Fprintf(&cast, "rm -rf dumps/%s\n", app)
	}
	cfg := q(filepath.Join(e.work, "planb-config"))
	fmt.Fprintf(&planb, "set -euo pipefail\n")
	for _, app := range e.apps {
		plan := q(filepath.Join(e.work, "restore-"+app+".plan"))
		fmt.Fprintf(&planb, "%s --chdir %s plan --restore %s --no-safety-backup --out %s > /dev/null\n", q(e.planb), cfg, q(`application.estate["`+app+`"]`), plan)
		fmt.Fprintf(&planb, "%s --chdir %s apply --auto-approve %s > /dev/null\n", q(e.planb), cfg, plan)
	}
	none := func() error { return nil }
	return []method{
		{key: "a", name: "cast: unzip + pg_restore one by one", prepare: none, script: cast.String()},
		{key: "c", name: "planb plan --restore + apply", prepare: none, script: planb.String()},
	}
}

// compare runs the backup and restore methods alternately and prints their
// medians and ratios.
func (e *env) compare(ctx context.Context, out io.Writer) error {
	if !e.o.skipBackup || !e.o.skipRestore {
		// Restores need the archives of a and c; run backups at least once.
		ms := e.backupMethods()
		reps := e.o.reps
		if e.o.skipBackup {
			reps = 1
		}
		res, err := e.rounds(ctx, "backup", ms, reps)
		if err != nil {
			return err
		}
		if !e.o.skipBackup {
			fmt.Fprintf(out, "## Backup (median of %d, warm page cache)\n\n", e.o.reps)
			table(out, ms, res)
			ratios(out, res)
		}
	}
	if !e.o.skipRestore {
		ms := e.restoreMethods()
		res, err := e.rounds(ctx, "restore", ms, e.o.reps)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "## Restore of every application (median of %d)\n\n", e.o.reps)
		table(out, ms, res)
		fmt.Fprintf(out, "- restore c/a wall: %s\n\n", ratioText(res["c"].Wall.Seconds(), res["a"].Wall.Seconds()))
	}
	return nil
}

// rounds measures every method reps times, rotating the order each round
// so that no method always follows the same neighbour, and returns the
// medians by method key.
func (e *env) rounds(ctx context.Context, what string, ms []method, reps int) (map[string]bench.Sample, error) {
	samples := map[string][]bench.Sample{}
	for r := range reps {
		for i := range ms {
			m := ms[(i+r)%len(ms)]
			if err := m.prepare(); err != nil {
				return nil, fmt.Errorf("%s %s: prepare: %w", what, m.key, err)
			}
			env := e.baseEnv
			if m.key == "b" {
				env = e.borgEnv(filepath.Join(e.work, "borgbase"))
			}
			s, err := e.measure(ctx, m.script, env, m.output)
			if err != nil {
				return nil, fmt.Errorf("%s %s (%s): %w", what, m.key, m.name, err)
			}
			progress("%s round %d %s: wall %s, cpu %s, server cpu %s, rss %s, output %s", what, r+1, m.key,
				s.Wall.Round(10*time.Millisecond), s.CPU.Round(10*time.Millisecond), s.ServerCPU.Round(10*time.Millisecond), human(s.PeakRSS), human(s.Output))
			samples[m.key] = append(samples[m.key], s)
		}
	}
	med := map[string]bench.Sample{}
	for k, v := range samples {
		med[k] = bench.Median(v)
	}
	return med, nil
}

// measure runs script with bash and returns its sample. Dirty pages are
// written back before the clock starts and the server's CPU is read around
// the run.
func (e *env) measure(ctx context.Context, script string, env []string, output string) (bench.Sample, error) {
	_ = exec.Command("sync").Run()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cpu0, err := e.srv.cpu()
	if err != nil {
		return bench.Sample{}, fmt.Errorf("server cpu: %w", err)
	}
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return bench.Sample{}, fmt.Errorf("%v: %s", err, tail(stderr.String(), 2000))
	}
	// Backends exit just after their client disconnects; let the postmaster
	// reap them before reading its children's time.
	time.Sleep(200 * time.Millisecond)
	cpu1, err := e.srv.cpu()
	if err != nil {
		return bench.Sample{}, fmt.Errorf("server cpu: %w", err)
	}
	s := bench.Sample{
		Wall:      wall,
		CPU:       cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		ServerCPU: cpu1 - cpu0,
		PeakRSS:   peakRSS(cmd.ProcessState),
	}
	if output != "" {
		if s.Output, err = dirSize(output); err != nil {
			return s, err
		}
	}
	return s, nil
}

func table(out io.Writer, ms []method, res map[string]bench.Sample) {
	fmt.Fprintln(out, "| | method | wall | CPU (tree) | CPU (server) | peak RSS | output |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|")
	for _, m := range ms {
		s := res[m.key]
		o := "—"
		if m.output != "" {
			o = human(s.Output)
		}
		fmt.Fprintf(out, "| %s | %s | %.2f s | %.2f s | %.2f s | %s | %s |\n", m.key, m.name, s.Wall.Seconds(), s.CPU.Seconds(), s.ServerCPU.Seconds(), human(s.PeakRSS), o)
	}
	fmt.Fprintln(out)
}

func ratios(out io.Writer, res map[string]bench.Sample) {
	c := res["c"]
	line := func(label, target string, v float64) {
		fmt.Fprintf(out, "| %s | %s | %s |\n", label, ratioText(v, 1), target)
	}
	fmt.Fprintln(out, "| ratio | measured | target |")
	fmt.Fprintln(out, "|---|---:|---|")
	line("a/c wall (planb speed-up over the CAST script)", "≥ 4", bench.Ratio(res["a"].Wall.Seconds(), c.Wall.Seconds()))
	if b, ok := res["b"]; ok {
		line("b/c wall (speed-up over borgmatic)", "≥ 2", bench.Ratio(b.Wall.Seconds(), c.Wall.Seconds()))
		line("c/b output", "—", bench.Ratio(float64(c.Output), float64(b.Output)))
	} else {
		fmt.Fprintln(out, "| b/c wall | borgmatic absent | ≥ 2 |")
	}
	line("c/d wall (planb over the raw floor)", "≤ 1.3", bench.Ratio(c.Wall.Seconds(), res["d"].Wall.Seconds()))
	line("c/a output", "≤ 1.1", bench.Ratio(float64(c.Output), float64(res["a"].Output)))
	line("c/a CPU (tree + server)", "—", bench.Ratio((c.CPU+c.ServerCPU).Seconds(), (res["a"].CPU+res["a"].ServerCPU).Seconds()))
	line("c/a peak RSS", "—", bench.Ratio(float64(c.PeakRSS), float64(res["a"].PeakRSS)))
	if enc, ok := res["e"]; ok {
		line("e/c wall (into an encrypted store over a plain one)", "≤ 1.10", bench.Ratio(enc.Wall.Seconds(), c.Wall.Seconds()))
		line("e/c CPU (tree)", "—", bench.Ratio(enc.CPU.Seconds(), c.CPU.Seconds()))
		line("e/c output", "—", bench.Ratio(float64(enc.Output), float64(c.Output)))
	}
	fmt.Fprintln(out)
}

func ratioText(num, den float64) string {
	v := bench.Ratio(num, den)
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// firstLine runs prog with args and returns the first line of its output,
// or "<prog> absent". A final argument "|N" picks line N instead.
func firstLine(prog string, args ...string) string {
	line := 1
	if len(args) > 0 && strings.HasPrefix(args[len(args)-1], "|") {
		fmt.Sscanf(args[len(args)-1], "|%d", &line)
		args = args[:len(args)-1]
	}
	b, err := exec.Command(prog, args...).Output()
	if err != nil {
		return filepath.Base(prog) + " absent"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if line > len(lines) {
		line = len(lines)
	}
	l := strings.TrimSpace(lines[line-1])
	if !strings.Contains(l, filepath.Base(prog)) && !strings.Contains(strings.ToLower(l), strings.ToLower(filepath.Base(prog))) {
		l = filepath.Base(prog) + " " + l
	}
	return l
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	var kb int64
	fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
	return human(kb<<10) + " RAM"
}

// loadAvg returns the 1, 5 and 15 minute load averages: other work on the
// machine shows there and blurs every measurement.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
