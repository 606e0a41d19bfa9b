package notice

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/notify"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/facts"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// stepOf is a result of a step of resource in store local.
func stepOf(id, resource string, status dag.Status, err error) dag.StepResult {
	return dag.StepResult{Step: dag.Step{ID: id, Label: id, Group: runner.Target{Resource: resource, Store: "local"}}, Status: status, Err: err}
}

func TestApplySummary(t *testing.T) {
	r := New("apply", "node-a", "1.0", t0)
	p := &plan.Plan{Actions: []*plan.Action{
		{Type: plan.Backup, Resource: "application.a", Store: "local"},
		{Type: plan.Backup, Resource: "application.b", Store: "local"},
	}}
	res := &dag.Result{Steps: []dag.StepResult{
		stepOf("a/dump", "application.a", dag.StatusOK, nil),
		stepOf("b/dump", "application.b", dag.StatusFailed, errors.New("schema \"x\" does not exist\nmore")),
		func() dag.StepResult {
			s := stepOf("b/archive", "application.b", dag.StatusSkipped, nil)
			s.SkippedBecause = "b/dump"
			return s
		}(),
	}}
	r.Executed(p, res)
	s := r.Summarize(t0.Add(3200*time.Millisecond), 1, nil)
	if s.Result != notify.ResultFailed {
		t.Errorf("result %q", s.Result)
	}
	if len(s.Resources) != 2 || s.Resources[0].Result != notify.ResultOK || s.Resources[1].Result != notify.ResultFailed || s.Resources[1].Actions["backup"] != 1 {
		t.Errorf("resources %+v", s.Resources)
	}
	if len(s.Failures) != 1 || s.Failures[0].Skipped != 1 || s.Failures[0].Resource != "application.b" || s.Failures[0].Store != "local" {
		t.Errorf("failures %+v", s.Failures)
	}
	want := `planb apply failed on node-a (exit 1) after 3.2s: 1 ok, 1 failed, 1 skipped; b/dump (application.b, store.local): schema "x" does not exist`
	if s.Text != want {
		t.Errorf("text %q\nwant %q", s.Text, want)
	}
}

func TestVerifySummary(t *testing.T) {
	r := New("verify", "", "1.0", t0)
	r.Verified(3, 1, 1)
	r.ArchiveFailed(facts.ArchiveRow{Resource: "application.a", Store: "local", Folder: "applications/a", Archive: "a_1.zip"}, "damaged", errors.New("crc"))
	s := r.Summarize(t0.Add(time.Second), 1, nil)
	want := "planb verify failed (exit 1) after 1s: 3 archive(s) verified, 1 damaged, 1 unreadable or unchecked; damaged applications/a/a_1.zip (application.a, store.local): crc"
	if s.Text != want {
		t.Errorf("text %q\nwant %q", s.Text, want)
	}
}

func TestNilReportRecordsNothing(t *testing.T) {
	var r *Report
	r.Executed(&plan.Plan{}, &dag.Result{})
	r.Verified(1, 0, 0)
	r.ArchiveFailed(facts.ArchiveRow{}, "damaged", errors.New("x"))
}

func TestFirstLine(t *testing.T) {
	if got := firstLine("one\ntwo"); got != "one" {
		t.Errorf("first line %q", got)
	}
	long := strings.Repeat("é", 200)
	if got := firstLine(long); len(got) > 300+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("long line cut to %d bytes: %q", len(got), got)
	}
}
