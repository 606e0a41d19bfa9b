package main

// The "day two" scenario: an estate whose delivery folders already hold
// several versions is backed up once, then one more version is delivered
// (a copy of the last with some files changed and some new) and it is
// backed up again. What counts is the second backup: its wall time, its CPU
// and how much it grows the store, for planb, borgmatic (which
// deduplicates) and the CAST-like script (which zips everything again).

import (
	"compress/flate"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/planb-backup/planb/bench"
)

// dayTwoOptions are the flags of the day-two scenario.
type dayTwoOptions struct {
	run bool
	// versions is how many versions each delivery folder holds before the
	// first backup; the second backup finds one more.
	versions int
	// changedPct and newPct describe how a version differs from the one
	// before: that share of its files changed, that share new.
	changedPct, newPct int
	// incremental is planb's `incremental` setting for the applications:
	// true stores the delivery content once per store, false writes the
	// full self-contained ZIP of every backup.
	incremental bool
	// dbChangePct, when positive, updates that share of the rows of every
	// application's analysis and dashboard tables before the second backup,
	// as an analysis of the new version would; 0 leaves the database as
	// the first backup saw it.
	dbChangePct int
	methods     string
}

// register adds the scenario's flags to fs.
func (d *dayTwoOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.run, "day-two", false, "run the day-two scenario (a backup, one more delivered version, a second backup); combine with -skip-backup -skip-restore -skip-plan to run it alone")
	fs.IntVar(&d.versions, "day-two-versions", 3, "day two: versions in each delivery folder before the first backup (each of the preset's delivery size)")
	fs.IntVar(&d.changedPct, "day-two-changed", 10, "day two: percent of a version's files changed in the next version")
	fs.IntVar(&d.newPct, "day-two-new", 5, "day two: percent of new files in the next version")
	fs.BoolVar(&d.incremental, "day-two-incremental", true, "day two: planb's incremental setting for the applications (false: one full ZIP per backup)")
	fs.IntVar(&d.dbChangePct, "day-two-db-change", 0, "day two: percent of the analysis and dashboard rows updated before the second backup (0: the database is unchanged)")
	fs.StringVar(&d.methods, "day-two-methods", "abc", "day two: methods to run (a cast, b borgmatic, c planb)")
}

// dayTwoRun is the state of the scenario inside an env.
type dayTwoRun struct {
	e    *env
	o    dayTwoOptions
	dir  string // work/daytwo: delivery/<app>/v1…, the script's scratch
	next string // name of the version the second backup finds
	// changes counts the database changes made, so that each picks other
	// rows.
	changes int
}

// dayTwoMethod is one measured tool of the scenario: script(n) is the bash
// script of its first or second backup (n = 1, 2) into output, run with env;
// reset empties output before a round.
type dayTwoMethod struct {
	key, name string
	reset     func() error
	script    func(n int) string
	env       []string
	output    string
	// check, when set, verifies after the second backup that it really
	// backed something up.
	check func() error
	// packs, when set, returns the bytes of the store's pack files.
	packs func() (int64, error)
}

// dayTwoResult holds the medians of one method.
type dayTwoResult struct {
	first, second bench.Sample // Output: store size after the backup
	growth        int64        // median growth by the second backup
	packs         int64        // median growth of the packs (planb incremental)
}

// dayTwo runs the scenario and prints its table.
func (e *env) dayTwo(ctx context.Context, out io.Writer) error {
	d := &dayTwoRun{e: e, o: e.o.dayTwo, dir: filepath.Join(e.work, "daytwo")}
	if d.o.versions < 1 {
		return errors.New("-day-two-versions must be at least 1")
	}
	d.next = fmt.Sprintf("v%d", d.o.versions+1)
	progress("day two: write %d versions of each delivery folder", d.o.versions)
	var initial int64
	for _, app := range e.apps {
		n, err := bench.WriteVersions(d.delivery(app), app, e.size, d.o.versions, d.o.changedPct, d.o.newPct)
		if err != nil {
			return fmt.Errorf("day two: %w", err)
		}
		initial += n
	}
	ms, err := d.methods()
	if err != nil {
		return err
	}
	res := map[string]*dayTwoResult{}
	samples := map[string][][2]bench.Sample{}
	packs := map[string][]bench.Sample{} // Output: growth of the packs
	var change bench.VersionChange
	for r := range e.o.reps {
		for i := range ms {
			m := ms[(i+r)%len(ms)]
			s, c, p, err := d.round(ctx, m)
			if err != nil {
				return fmt.Errorf("day two %s (%s): %w", m.key, m.name, err)
			}
			change = c
			progress("day two round %d %s: second backup wall %s, cpu %s, server cpu %s, store %s → %s (+%s)", r+1, m.key,
				s[1].Wall.Round(10*time.Millisecond), s[1].CPU.Round(10*time.Millisecond), s[1].ServerCPU.Round(10*time.Millisecond),
				human(s[0].Output), human(s[1].Output), human(s[1].Output-s[0].Output))
			samples[m.key] = append(samples[m.key], s)
			packs[m.key] = append(packs[m.key], bench.Sample{Output: p})
		}
	}
	for k, v := range samples {
		res[k] = d.medians(v)
		res[k].packs = bench.Median(packs[k]).Output
	}
	oneVersion, err := deflatedSize(d.dir, d.next)
	if err != nil {
		return err
	}
	d.print(out, ms, res, initial, change, oneVersion)
	return nil
}

// delivery is application app's delivery folder of the scenario.
func (d *dayTwoRun) delivery(app string) string { return filepath.Join(d.dir, "delivery", app) }

// round runs one method's first backup, delivers the next version and runs
// its second backup; the next round removes that version again. The
// samples' Output is the size of the store after each backup; packs is how
// much the second backup added to the store's pack files (0 without).
func (d *dayTwoRun) round(ctx context.Context, m dayTwoMethod) (s [2]bench.Sample, c bench.VersionChange, packs int64, err error) {
	if err := d.removeNext(); err != nil {
		return s, c, 0, err
	}
	if err := m.reset(); err != nil {
		return s, c, 0, fmt.Errorf("prepare: %w", err)
	}
	if s[0], err = d.e.measure(ctx, m.script(1), m.env, m.output); err != nil {
		return s, c, 0, fmt.Errorf("first backup: %w", err)
	}
	var packs0 int64
	if m.packs != nil {
		if packs0, err = m.packs(); err != nil {
			return s, c, 0, err
		}
	}
	// The new version arrives as a delivery tool writes it: new files.
	for _, app := range d.e.apps {
		last := filepath.Join(d.delivery(app), fmt.Sprintf("v%d", d.o.versions))
		ch, err := bench.NextVersion(last, filepath.Join(d.delivery(app), d.next), d.o.changedPct, d.o.newPct, 1000+uint64(d.o.versions))
		if err != nil {
			return s, c, 0, err
		}
		c.Files += ch.Files
		c.Bytes += ch.Bytes
		c.Changed += ch.Changed
		c.New += ch.New
		c.ChangedBytes += ch.ChangedBytes
		c.NewBytes += ch.NewBytes
	}
	if err := d.changeDatabase(ctx); err != nil {
		return s, c, 0, err
	}
	if s[1], err = d.e.measure(ctx, m.script(2), m.env, m.output); err != nil {
		return s, c, 0, fmt.Errorf("second backup: %w", err)
	}
	if m.check != nil {
		if err := m.check(); err != nil {
			return s, c, 0, err
		}
	}
	if m.packs != nil {
		if packs, err = m.packs(); err != nil {
			return s, c, 0, err
		}
		packs -= packs0
	}
	return s, c, packs, nil
}

// changeDatabase updates -day-two-db-change percent of the rows of each
// application's analysis and dashboard tables, picked anew each time, and
// vacuums them, untimed.
func (d *dayTwoRun) changeDatabase(ctx context.Context) error {
	if d.o.dbChangePct <= 0 {
		return nil
	}
	d.changes++
	conn, err := pgx.Connect(ctx, d.e.srv.url("aip"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, app := range d.e.apps {
		sc := bench.Schemas(app)
		objects := pgx.Identifier{sc[2], "objects"}.Sanitize()
		links := pgx.Identifier{sc[2], "links"}.Sanitize()
		metrics := pgx.Identifier{sc[1], "metric_results"}.Sanitize()
		for _, stmt := range []string{
			fmt.Sprintf(`UPDATE %s SET checksum = md5(checksum), line_end = line_end + 1 WHERE abs(hashint8(id + %d)) %% 100 < %d`, objects, d.changes, d.o.dbChangePct),
			fmt.Sprintf(`UPDATE %s SET link_type = (link_type + 1) %% 17 WHERE abs(hashint8(id - %d)) %% 100 < %d`, links, d.changes, d.o.dbChangePct),
			fmt.Sprintf(`UPDATE %s SET violations = violations + 1 WHERE abs(hashint8(object_id + %d)) %% 100 < %d`, metrics, d.changes, d.o.dbChangePct),
			fmt.Sprintf(`VACUUM %s, %s, %s`, objects, links, metrics),
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("change the database of %s: %w", app, err)
			}
		}
	}
	return nil
}

// removeNext removes the version the second backup finds, so that a round
// starts from the versions of the first backup.
func (d *dayTwoRun) removeNext() error {
	for _, app := range d.e.apps {
		if err := os.RemoveAll(filepath.Join(d.delivery(app), d.next)); err != nil {
			return err
		}
	}
	return nil
}

// medians reduces a method's rounds: each field's median on its own, and
// the median growth (taken per round, not as a difference of medians).
func (d *dayTwoRun) medians(rounds [][2]bench.Sample) *dayTwoResult {
	var first, second, growth []bench.Sample
	for _, r := range rounds {
		first = append(first, r[0])
		second = append(second, r[1])
		growth = append(growth, bench.Sample{Output: r[1].Output - r[0].Output})
	}
	return &dayTwoResult{first: bench.Median(first), second: bench.Median(second), growth: bench.Median(growth).Output}
}

// methods builds the scenario's methods: its own configurations for planb
// and borgmatic, and the CAST-like script, all over the scenario's
// delivery folders and the applications' schemas (not the measurement
// schema).
func (d *dayTwoRun) methods() ([]dayTwoMethod, error) {
	e := d.e
	q := shellQuote
	var ms []dayTwoMethod
	reset := func(dirs ...string) func() error {
		return func() error {
			for _, dir := range dirs {
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
			}
			return os.MkdirAll(dirs[0], 0o755)
		}
	}
	if strings.Contains(d.o.methods, "a") {
		out := e.out("daytwo-cast")
		ms = append(ms, dayTwoMethod{key: "a", name: "cast: pg_dump -Fc one by one + zip -r", reset: reset(out), env: e.baseEnv, output: out,
			script: func(n int) string {
				var b strings.Builder
				fmt.Fprintf(&b, "set -euo pipefail\ncd %s\n", q(d.dir))
				for _, app := range e.apps {
					fmt.Fprintf(&b, "mkdir -p dumps/%s\n", app)
					for _, s := range bench.Schemas(app) {
						fmt.Fprintf(&b, "pg_dump -Fc -n %s -f dumps/%s/%s.dump\n", q(`"`+s+`"`), app, s)
					}
					fmt.Fprintf(&b, "zip -q -r %s dumps/%s delivery/%s\nrm -rf dumps/%s\n", q(filepath.Join(out, fmt.Sprintf("%s_%d.zip", app, n))), app, app, app)
				}
				return b.String()
			}})
	}
	if strings.Contains(d.o.methods, "b") {
		if m, err := d.borgmatic(); err != nil {
			return nil, err
		} else if m != nil {
			ms = append(ms, *m)
		}
	}
	if strings.Contains(d.o.methods, "c") {
		m, err := d.planbMethod()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("-day-two-methods %q: no method to run", d.o.methods)
	}
	return ms, nil
}

// borgmatic returns the borgmatic method, or nil (said on stderr) when
// borgmatic is not installed. Each round starts from a new repository;
// both backups go into it, the second finding the first's chunks and files
// cache.
func (d *dayTwoRun) borgmatic() (*dayTwoMethod, error) {
	e := d.e
	if _, err := exec.LookPath("borgmatic"); err != nil {
		progress("borgmatic not found in PATH: day two column b skipped (apt-get install -y borgmatic)")
		return nil, nil
	}
	repo, base := e.out("daytwo-borgmatic"), filepath.Join(e.work, "daytwo-borgbase")
	cfg := filepath.Join(e.work, "daytwo-borgmatic.yaml")
	yaml := fmt.Sprintf(`location:
    source_directories:
        - %s
    repositories:
        - %s
storage:
    archive_name_format: 'daytwo-{now:%%Y-%%m-%%dT%%H:%%M:%%S.%%f}'
hooks:
    postgresql_databases:
        - name: aip
          hostname: 127.0.0.1
          port: %d
          username: postgres
          password: %s
          format: custom
          options: "--exclude-schema=%s"
`, filepath.Join(d.dir, "delivery"), repo, e.srv.port, e.srv.password, bench.MeasurementSchema)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	env := e.borgEnv(base)
	return &dayTwoMethod{key: "b", name: "borgmatic create (postgresql_databases hook)", env: env, output: repo,
		reset: func() error {
			for _, dir := range []string{repo, base} {
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
				return err
			}
			c := exec.Command("borg", "init", "--encryption=none", repo)
			c.Env = env
			if b, err := c.CombinedOutput(); err != nil {
				return fmt.Errorf("borg init: %v: %s", err, b)
			}
			return nil
		},
		script: func(int) string {
			return fmt.Sprintf("set -euo pipefail\nborgmatic --config %s create\n", shellQuote(cfg))
		}}, nil
}

// planbMethod writes the scenario's planb configuration: the applications
// with their delivery folders, incremental as -day-two-incremental says,
// backed up every 24 h, so that the second apply is due only because of the
// new version (on_new_version).
func (d *dayTwoRun) planbMethod() (dayTwoMethod, error) {
	e := d.e
	store := e.out("daytwo-planb")
	cfgDir := filepath.Join(e.work, "daytwo-planb-config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return dayTwoMethod{}, err
	}
	apps := make([]string, len(e.apps))
	for i, a := range e.apps {
		apps[i] = fmt.Sprintf("%q", a)
	}
	cfg := e.configHead(store) + fmt.Sprintf(`
application "estate" {
  for_each = toset([%s])

  database        = database.css
  schemas         = { management = "${each.key}_mngt", dashboard = "${each.key}_central", analysis = "${each.key}_local" }
  delivery_folder = "%s/${each.key}"
  incremental     = %t
  every           = "24h"
  stores          = [store.node]
}
`, strings.Join(apps, ", "), filepath.Join(d.dir, "delivery"), d.o.incremental)
	if err := os.WriteFile(filepath.Join(cfgDir, "estate.hcl"), []byte(cfg), 0o644); err != nil {
		return dayTwoMethod{}, err
	}
	return dayTwoMethod{key: "c", name: d.planbName(), env: e.baseEnv, output: store,
		reset: func() error {
			if err := os.RemoveAll(store); err != nil {
				return err
			}
			return os.MkdirAll(store, 0o755)
		},
		script: func(int) string {
			return fmt.Sprintf("set -euo pipefail\n%s --chdir %s apply --auto-approve > /dev/null\n", shellQuote(e.planb), shellQuote(cfgDir))
		},
		// The second apply must have backed up every application again
		// (due because of the new version), or its growth means nothing.
		check: func() error {
			n, err := countArchives(store)
			if err != nil {
				return err
			}
			if want := 2 * len(e.apps); n != want {
				return fmt.Errorf("the store holds %d archives after two applies, want %d: the new version did not make every application due", n, want)
			}
			return nil
		},
		packs: func() (int64, error) { return packBytes(store) },
	}, nil
}

func (d *dayTwoRun) planbName() string {
	if d.o.incremental {
		return "planb apply (incremental = true)"
	}
	return "planb apply (incremental = false: full ZIP)"
}

// print writes the scenario's table and ratios.
func (d *dayTwoRun) print(out io.Writer, ms []dayTwoMethod, res map[string]*dayTwoResult, initial int64, c bench.VersionChange, oneVersion int64) {
	e := d.e
	fmt.Fprintf(out, "## Day two: a backup, one more version delivered, a second backup (median of %d)\n\n", e.o.reps)
	fmt.Fprintf(out, "- %d applications (their 3 schemas each; not the measurement schema), each delivery folder with %d versions (%s in all) before the first backup\n",
		len(e.apps), d.o.versions, human(initial))
	fmt.Fprintf(out, "- then %s in each: a copy of v%d with %d %% of its files changed and %d %% new: %d files, %s (%d changed, %s; %d new, %s), %s deflated (level 6)\n",
		d.next, d.o.versions, d.o.changedPct, d.o.newPct, c.Files, human(c.Bytes), c.Changed, human(c.ChangedBytes), c.New, human(c.NewBytes), human(oneVersion))
	if d.o.dbChangePct > 0 {
		fmt.Fprintf(out, "- before the second backup %d %% of the rows of every analysis and dashboard table were updated (untimed, then vacuumed), as an analysis of the new version would\n", d.o.dbChangePct)
	} else {
		fmt.Fprintln(out, "- the database is the same for both backups (a backup right after the delivery, before its analysis)")
	}
	fmt.Fprintf(out, "- load average now %s\n\n", loadAvg())
	fmt.Fprintln(out, "| | method | 2nd backup wall | CPU (tree) | CPU (server) | peak RSS | store growth | 1st backup wall | store after 1st |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, m := range ms {
		r := res[m.key]
		fmt.Fprintf(out, "| %s | %s | %.2f s | %.2f s | %.2f s | %s | %s | %.2f s | %s |\n", m.key, m.name,
			r.second.Wall.Seconds(), r.second.CPU.Seconds(), r.second.ServerCPU.Seconds(), human(r.second.PeakRSS),
			human(r.growth), r.first.Wall.Seconds(), human(r.first.Output))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| ratio (second backup) | measured | target |")
	fmt.Fprintln(out, "|---|---:|---|")
	line := func(label, target string, num, den float64) {
		fmt.Fprintf(out, "| %s | %s | %s |\n", label, ratioText(num, den), target)
	}
	c2, a2, b2 := res["c"], res["a"], res["b"]
	if c2 != nil && b2 != nil {
		line("c/b store growth (planb over borg)", "≤ 1", float64(c2.growth), float64(b2.growth))
		line("c/b wall", "≤ 0.5", c2.second.Wall.Seconds(), b2.second.Wall.Seconds())
		line("c/b CPU (tree + server)", "—", (c2.second.CPU + c2.second.ServerCPU).Seconds(), (b2.second.CPU + b2.second.ServerCPU).Seconds())
	}
	if c2 != nil && a2 != nil {
		line("c/a wall (planb over the CAST script)", "≤ 0.3", c2.second.Wall.Seconds(), a2.second.Wall.Seconds())
		line("c/a store growth", "—", float64(c2.growth), float64(a2.growth))
		line("c/a CPU (tree + server)", "—", (c2.second.CPU + c2.second.ServerCPU).Seconds(), (a2.second.CPU + a2.second.ServerCPU).Seconds())
	}
	if c2 != nil && d.o.incremental {
		line(fmt.Sprintf("c growth in packs (%s) over one version deflated (%s)", human(c2.packs), human(oneVersion)), "≤ 0.3", float64(c2.packs), float64(oneVersion))
	}
	fmt.Fprintln(out)
}

// deflatedSize returns the bytes of every application's version folder
// name under dir/delivery deflated at level 6, file by file (what a ZIP
// would hold of it, headers aside).
func deflatedSize(dir, name string) (int64, error) {
	var n counter
	zw, err := flate.NewWriter(&n, 6)
	if err != nil {
		return 0, err
	}
	apps, err := os.ReadDir(filepath.Join(dir, "delivery"))
	if err != nil {
		return 0, err
	}
	for _, app := range apps {
		err := filepath.WalkDir(filepath.Join(dir, "delivery", app.Name(), name), func(p string, de fs.DirEntry, err error) error {
			if err != nil || !de.Type().IsRegular() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			zw.Reset(&n)
			if _, err := io.Copy(zw, f); err != nil {
				return err
			}
			return zw.Close()
		})
		if err != nil {
			return 0, fmt.Errorf("deflate version %s: %w", name, err)
		}
	}
	return int64(n), nil
}

// counter is an io.Writer that counts the bytes written to it.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// packBytes sums the regular files under a packs/ folder of store.
func packBytes(store string) (int64, error) {
	var n int64
	err := filepath.WalkDir(store, func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(store, p)
		if !slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), "packs") {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// countArchives counts the <app>_YYYY-MM-DD-HH-mm-SS.zip archives in a
// local store (any depth).
func countArchives(store string) (int, error) {
	n := 0
	err := filepath.WalkDir(store, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() && strings.HasSuffix(p, ".zip") {
			n++
		}
		return err
	})
	return n, err
}
