package runner

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
)

// folderDrill is a file-based persistence folder in store "node", drilled
// by drill "weekly".
func folderDrill(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"aip.mv.db": "h2 data", "sub/trace.log": strings.Repeat("x", 5000)} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("aip.mv.db", filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	node := &config.Store{Name: "node", Local: &config.LocalStore{Path: root}}
	cfg := &config.Config{
		Digest: "d",
		Stores: map[string]*config.Store{"node": node},
		Resources: []*config.Resource{{
			Kind: config.Persistence, Address: "persistence.node1", Name: "node1", Path: dir, Every: 24 * time.Hour,
			Stores: []*config.Store{node},
		}},
		Drills: []*config.Drill{{Name: "weekly", Every: 7 * 24 * time.Hour, Resources: []string{"persistence.node1"}}},
	}
	return cfg, root
}

// applyAt plans as of now with what the store recorded of the drills,
// applies the plan and returns it with the result.
func applyAt(t *testing.T, cfg *config.Config, now time.Time) (*plan.Plan, *Result, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.NewLocal("node", cfg.Stores["node"].Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	archives, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ReadDrillRecord(ctx, st, store.Ref{Kind: "persistence", Name: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]*plan.DrillRecord{}
	if rec != nil {
		facts["persistence.node1"] = rec
	}
	p, err := plan.Make(cfg, plan.Catalog{"node": archives}, plan.Options{Now: now, Drills: facts})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": st}})
	if err != nil {
		t.Fatal(err)
	}
	return p, Run(ctx, g, Options{}), st
}

// rewriteManifest rewrites the archive at path with its manifest changed
// by edit; every other entry is copied as it was.
func rewriteManifest(t *testing.T, path string, edit func(m *archive.Manifest)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if f.Name != archive.ManifestName {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rc, _ := f.Open()
		raw, _ := io.ReadAll(rc)
		rc.Close()
		var m archive.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(&m)
		raw, _ = json.Marshal(&m)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDrillOfAFolder(t *testing.T) {
	cfg, root := folderDrill(t)
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	ref := store.Ref{Kind: "persistence", Name: "node1"}

	// No archive yet: the drill takes the new backup, after it.
	p, res, st := applyAt(t, cfg, t0)
	if f := res.Failed(); len(f) > 0 {
		t.Fatalf("apply: %v", f[0].Err)
	}
	if a := p.Action("drill persistence.node1 store.node"); a == nil || a.Archive != "node1_2026-11-25-08-00-00.zip" {
		t.Fatalf("plan: %+v", p.Actions)
	}
	rec, err := ReadDrillRecord(context.Background(), st, ref)
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
	ms := DrillMetrics(p, res)
	if len(ms) != 1 || !ms[0].OK || !ms[0].Last.Equal(t0) || ms[0].Drill != "weekly" {
		t.Errorf("metrics: %+v", ms)
	}

	// A day later nothing is due but the backup; the drill is up to date.
	p, res, _ = applyAt(t, cfg, t0.Add(day))
	if p.Action("drill persistence.node1 store.node") != nil || p.DrillStateOf("persistence.node1").Status != plan.DrillUpToDate {
		t.Fatalf("drill planned again a day later: %+v", p.Drills)
	}
	if ms := DrillMetrics(p, res); len(ms) != 1 || !ms[0].Last.Equal(t0) || !ms[0].OK {
		t.Errorf("metrics of a run without drill: %+v", ms)
	}

	// The newest archive's manifest claims a file more than it holds: the
	// next drill fails, saying so, and records that.
	newest := filepath.Join(root, "persistence", "node1", "node1_2026-11-26-08-00-00.zip")
	rewriteManifest(t, newest, func(m *archive.Manifest) { m.Files.Files++ })
	now := t0.Add(8 * day)
	// Freeze the backup: only the drill runs.
	cfg.Resources[0].Every = 30 * day
	p, res, _ = applyAt(t, cfg, now)
	a := p.Action("drill persistence.node1 store.node")
	if a == nil || a.Archive != filepath.Base(newest) || a.Reason != "last drill 8d ago, every 7d" {
		t.Fatalf("drill: %+v", a)
	}
	failed := res.Failed()
	if len(failed) != 1 || !strings.Contains(failed[0].Err.Error(), "files/: 2 files extracted, the manifest recorded 3") {
		t.Fatalf("failures: %+v", failed)
	}
	rec, _ = ReadDrillRecord(context.Background(), st, ref)
	if rec.Result != plan.DrillFailed || rec.Number != 2 || len(rec.History) != 1 || rec.History[0].Result != plan.DrillOK || !rec.LastSuccess.Equal(t0) {
		t.Errorf("record of the failed drill: %+v", rec)
	}
	if ms := DrillMetrics(p, res); len(ms) != 1 || ms[0].OK || !ms[0].Last.Equal(now) || !ms[0].LastSuccess.Equal(t0) {
		t.Errorf("metrics of the failed drill: %+v", ms)
	}
	// A failed drill is due again.
	p, _, _ = applyAt(t, cfg, now.Add(time.Hour))
	if st := p.DrillStateOf("persistence.node1"); st.Status != plan.DrillDue || !strings.Contains(st.Reason, "the last drill (1h ago) failed: files/: 2 files extracted") {
		t.Errorf("after a failed drill: %+v", st)
	}
}

func TestWriteDrillMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "planb.prom")
	ds := []DrillMetric{
		{Resource: "measurement.health", Drill: "weekly", Last: time.Unix(1767225600, 0), Duration: 2500 * time.Millisecond},
		{Resource: "application.MAINFRAME", Drill: "weekly", Last: time.Unix(1767225600, 0), LastSuccess: time.Unix(1767225600, 0), Duration: 83 * time.Second, OK: true},
	}
	if err := WriteMetricsWithDrills(path, []Metric{{Resource: "application.MAINFRAME", Store: "node", OK: true}}, ds); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{
		"planb_backup_success{resource=\"application.MAINFRAME\",store=\"node\"} 1\n",
		"# TYPE planb_drill_last_timestamp_seconds gauge\n",
		"planb_drill_last_timestamp_seconds{resource=\"application.MAINFRAME\",drill=\"weekly\"} 1767225600\n",
		"planb_drill_last_success_timestamp_seconds{resource=\"application.MAINFRAME\",drill=\"weekly\"} 1767225600\n",
		"planb_drill_duration_seconds{resource=\"measurement.health\",drill=\"weekly\"} 2.5\n",
		"planb_drill_success{resource=\"application.MAINFRAME\",drill=\"weekly\"} 1\nplanb_drill_success{resource=\"measurement.health\",drill=\"weekly\"} 0\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `planb_drill_last_success_timestamp_seconds{resource="measurement.health"`) {
		t.Errorf("a resource whose drills never succeeded has a last success:\n%s", b)
	}
	if err := WriteMetricsWithDrills(path, nil, append(ds, ds[0])); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate drill metric: %v", err)
	}
	merged := MergeDrillMetrics(ds, []DrillMetric{{Resource: "measurement.health", Drill: "weekly", OK: true}})
	if len(merged) != 2 || !merged[0].OK {
		t.Errorf("merged: %+v", merged)
	}
}
