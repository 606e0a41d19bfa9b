package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/report"
)

// TestDrillOfAFolder drills a folder through the runner and reads the
// drill's metrics back through report, hence the external test package.
func TestDrillOfAFolder(t *testing.T) {
	cfg, root := runner.FolderDrill(t)
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	ref := store.Ref{Kind: "persistence", Name: "node1"}

	// No archive yet: the drill takes the new backup, after it.
	p, res, st := runner.ApplyAt(t, cfg, t0)
	if f := res.Failed(); len(f) > 0 {
		t.Fatalf("apply: %v", f[0].Err)
	}
	if a := p.Action("drill persistence.node1 store.node"); a == nil || a.Archive != "node1_2026-11-25-08-00-00.zip" {
		t.Fatalf("plan: %+v", p.Actions)
	}
	rec, err := runner.ReadDrillRecord(context.Background(), st, ref)
	if err != nil || rec == nil {
		t.Fatalf("record: %v, %v", rec, err)
	}
	if rec.Result != plan.DrillOK || rec.Number != 1 || !rec.Time.Equal(t0) || !rec.LastSuccess.Equal(t0) || rec.Archive != "node1_2026-11-25-08-00-00.zip" {
		t.Errorf("record: %+v", rec)
	}
	checks := map[string]plan.DrillCheck{}
	for _, c := range rec.Checks {
		checks[c.Check] = c
	}
	if c := checks["files/"]; c.Result != plan.DrillOK || c.Files != 2 || c.Symlinks != 1 || c.Bytes != 5007 {
		t.Errorf("files check: %+v", c)
	}
	if c := checks["verify"]; c.Result != plan.DrillOK {
		t.Errorf("verify check: %+v", c)
	}
	if rec.Durations.Total <= 0 || rec.Finished.Before(rec.Started) {
		t.Errorf("durations: %+v", rec.Durations)
	}
	if entries, _ := os.ReadDir(os.TempDir()); entries != nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "planb-drill-") {
				info, _ := e.Info()
				if info != nil && time.Since(info.ModTime()) < time.Minute {
					t.Errorf("scratch folder %s left behind", e.Name())
				}
			}
		}
	}
	ms := report.DrillMetrics(p, res)
	if len(ms) != 1 || !ms[0].OK || !ms[0].Last.Equal(t0) || ms[0].Drill != "weekly" {
		t.Errorf("metrics: %+v", ms)
	}

	// A day later nothing is due but the backup; the drill is up to date.
	p, res, _ = runner.ApplyAt(t, cfg, t0.Add(day))
	if p.Action("drill persistence.node1 store.node") != nil || p.DrillStateOf("persistence.node1").Status != plan.DrillUpToDate {
		t.Fatalf("drill planned again a day later: %+v", p.Drills)
	}
	if ms := report.DrillMetrics(p, res); len(ms) != 1 || !ms[0].Last.Equal(t0) || !ms[0].OK {
		t.Errorf("metrics of a run without drill: %+v", ms)
	}

	// The newest archive's manifest claims a file more than it holds: the
	// next drill fails, saying so, and records that.
	newest := filepath.Join(root, "persistence", "node1", "node1_2026-11-26-08-00-00.zip")
	runner.RewriteManifest(t, newest, func(m *archive.Manifest) { m.Files.Files++ })
	now := t0.Add(8 * day)
	// Freeze the backup: only the drill runs.
	cfg.Resources[0].Every = 30 * day
	p, res, _ = runner.ApplyAt(t, cfg, now)
	a := p.Action("drill persistence.node1 store.node")
	if a == nil || a.Archive != filepath.Base(newest) || a.Reason != "last drill 8d ago, every 7d" {
		t.Fatalf("drill: %+v", a)
	}
	failed := res.Failed()
	if len(failed) != 1 || !strings.Contains(failed[0].Err.Error(), "files/: 2 files extracted, the manifest recorded 3") {
		t.Fatalf("failures: %+v", failed)
	}
	rec, _ = runner.ReadDrillRecord(context.Background(), st, ref)
	if rec.Result != plan.DrillFailed || rec.Number != 2 || len(rec.History) != 1 || rec.History[0].Result != plan.DrillOK || !rec.LastSuccess.Equal(t0) {
		t.Errorf("record of the failed drill: %+v", rec)
	}
	if ms := report.DrillMetrics(p, res); len(ms) != 1 || ms[0].OK || !ms[0].Last.Equal(now) || !ms[0].LastSuccess.Equal(t0) {
		t.Errorf("metrics of the failed drill: %+v", ms)
	}
	// A failed drill is due again.
	p, _, _ = runner.ApplyAt(t, cfg, now.Add(time.Hour))
	if st := p.DrillStateOf("persistence.node1"); st.Status != plan.DrillDue || !strings.Contains(st.Reason, "the last drill (1h ago) failed: files/: 2 files extracted") {
		t.Errorf("after a failed drill: %+v", st)
	}
}
