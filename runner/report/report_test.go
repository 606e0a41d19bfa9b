package report

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
)

func init() {
	// Other test files of the package may register -update too.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func ok(context.Context, *dag.Progress) error { return nil }

// mustGraph builds a graph from steps, failing the test on any error.
func mustGraph(t *testing.T, steps ...dag.Step) *dag.Graph {
	t.Helper()
	g := dag.NewGraph()
	for _, s := range steps {
		if s.Run == nil {
			s.Run = ok
		}
		if err := g.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestWriteDOT(t *testing.T) {
	g := mustGraph(t,
		dag.Step{ID: "application.MAINFRAME/lock/node", Label: "lock application.MAINFRAME in store.node", Group: runner.Target{Resource: "application.MAINFRAME", Store: "node"}},
		dag.Step{ID: "application.MAINFRAME/dump/mainframe_mngt", Label: "dump schema mainframe_mngt", Group: runner.Target{Resource: "application.MAINFRAME"}, Deps: []string{"application.MAINFRAME/lock/node"}},
		dag.Step{ID: "application.MAINFRAME/dump/mainframe_local", Label: "dump schema mainframe_local", Group: runner.Target{Resource: "application.MAINFRAME"}, Deps: []string{"application.MAINFRAME/lock/node"}},
		dag.Step{ID: "application.MAINFRAME/archive", Label: `archive "MAINFRAME"`, Group: runner.Target{Resource: "application.MAINFRAME"}, Deps: []string{"application.MAINFRAME/dump/mainframe_mngt", "application.MAINFRAME/dump/mainframe_local"}},
		dag.Step{ID: `application.all["WEB"]/dump/web_mngt`, Label: "dump schema web_mngt", Group: runner.Target{Resource: `application.all["WEB"]`}},
		dag.Step{ID: "report", Deps: []string{"application.MAINFRAME/archive", `application.all["WEB"]/dump/web_mngt`}},
	)
	var buf bytes.Buffer
	if err := WriteDOT(&buf, g); err != nil {
		t.Fatal(err)
	}
	golden(t, "graph.dot", buf.Bytes())

	bad := mustGraph(t, dag.Step{ID: "a", Deps: []string{"a"}})
	if err := WriteDOT(&buf, bad); err == nil {
		t.Error("WriteDOT of a cyclic graph succeeded")
	}
}

func TestWriteSummary(t *testing.T) {
	step := func(id, label string) dag.Step { return dag.Step{ID: id, Label: label} }
	r := &dag.Result{
		Duration: 83*time.Second + 420*time.Millisecond,
		Steps: []dag.StepResult{
			{Step: step("app.A/lock", "lock app.A"), Status: dag.StatusOK},
			{Step: step("app.A/dump/a_mngt", "dump schema a_mngt"), Status: dag.StatusFailed, Err: errors.New(`dump schema "a_mngt": pg_dump: exit status 1`)},
			{Step: step("app.A/archive", "archive app.A"), Status: dag.StatusSkipped, SkippedBecause: "app.A/dump/a_mngt"},
			{Step: step("app.A/upload", "copy app.A to store.offsite"), Status: dag.StatusSkipped, SkippedBecause: "app.A/dump/a_mngt"},
			{Step: step("app.A/unlock", "unlock app.A"), Status: dag.StatusOK},
			{Step: step("app.B/dump", ""), Status: dag.StatusFailed, Err: errors.New("write archive: disk full\nsecond line")},
			{Step: step("app.C/dump", "dump schema c"), Status: dag.StatusOK},
		},
	}
	var buf bytes.Buffer
	WriteSummary(&buf, r)
	golden(t, "summary.txt", buf.Bytes())
	if n := strings.Count(buf.String(), "pg_dump: exit status 1"); n != 1 {
		t.Errorf("failure printed %d times, want once", n)
	}

	buf.Reset()
	WriteSummary(&buf, &dag.Result{Duration: 1500 * time.Millisecond, Steps: []dag.StepResult{
		{Step: step("a", "dump a"), Status: dag.StatusOK},
		{Step: step("b", "dump b"), Status: dag.StatusCanceled, Err: context.Canceled},
	}})
	want := "2 steps in 1.5s: 1 ok, 1 canceled.\n\nInterrupted: 1 step canceled.\n"
	if buf.String() != want {
		t.Errorf("canceled summary:\n%q\nwant\n%q", buf.String(), want)
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
