package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/planb-backup/planb/bench"
)

// planning times a no-op `planb plan --detailed-exitcode` over
// e.o.planApps applications, each with e.o.planArchive archives in a local
// store (empty files: the catalog reads names only), at a time when nothing
// is due and retention keeps everything.
func (e *env) planning(ctx context.Context, out io.Writer) error {
	dir := filepath.Join(e.work, "planning")
	store := filepath.Join(dir, "store")
	cfgDir := filepath.Join(dir, "config")
	progress("planning benchmark: %d applications × %d archives", e.o.planApps, e.o.planArchive)
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	newest := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	names := make([]string, e.o.planApps)
	for i := range names {
		names[i] = fmt.Sprintf("APP%04d", i+1)
		folder := filepath.Join(store, "applications", names[i])
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return err
		}
		for k := range e.o.planArchive {
			t := newest.AddDate(0, 0, -k)
			f := filepath.Join(folder, names[i]+"_"+t.Format("2006-01-02-15-04-05")+".zip")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return err
			}
		}
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	cfg := e.configHead(store) + fmt.Sprintf(`
application "estate" {
  for_each = toset([%s])

  database  = database.css
  schemas   = { management = "${lower(each.key)}_mngt", dashboard = "${lower(each.key)}_central", analysis = "${lower(each.key)}_local" }
  every     = "24h"
  retention {
    keep_last = %d
  }
  stores    = [store.node]
}
`, strings.Join(quoted, ",\n    "), e.o.planArchive)
	if err := os.WriteFile(filepath.Join(cfgDir, "estate.hcl"), []byte(cfg), 0o644); err != nil {
		return err
	}
	now := newest.Add(6 * time.Hour).Format(time.RFC3339)
	var samples []bench.Sample
	for r := range e.o.reps + 1 {
		cmd := exec.CommandContext(ctx, e.planb, "--chdir", cfgDir, "plan", "--detailed-exitcode", "--now", now)
		cmd.Env = e.baseEnv
		var stderr, stdout strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 2 {
			return fmt.Errorf("planb plan found changes where nothing should be due:\n%s", tail(stdout.String(), 3000))
		}
		if err != nil {
			return fmt.Errorf("planb plan: %v: %s", err, tail(stderr.String(), 2000))
		}
		s := bench.Sample{Wall: wall, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
			PeakRSS: peakRSS(cmd.ProcessState)}
		progress("plan round %d: wall %s, rss %s", r, wall.Round(time.Millisecond), human(s.PeakRSS))
		if r > 0 { // round 0 warms the page cache of the store tree
			samples = append(samples, s)
		}
	}
	m := bench.Median(samples)
	fmt.Fprintf(out, "## No-op plan: %d applications × %d archives, local store (median of %d)\n\n", e.o.planApps, e.o.planArchive, len(samples))
	fmt.Fprintln(out, "| command | wall | CPU | peak RSS | target |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---|")
	fmt.Fprintf(out, "| `planb plan --detailed-exitcode` (exit 0) | %.3f s | %.3f s | %s | ≤ 1 s, ≤ 150 MB |\n\n", m.Wall.Seconds(), m.CPU.Seconds(), human(m.PeakRSS))
	return nil
}
