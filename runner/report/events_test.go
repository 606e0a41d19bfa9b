package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
)

// fakeClock returns t and advances it by step on every call.
func fakeClock(t time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := t
		t = t.Add(step)
		return now
	}
}

var t0 = time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)

func TestJSONEvents(t *testing.T) {
	var buf bytes.Buffer
	ev := NewJSONEvents(&buf)
	ev.(*jsonEvents).now = fakeClock(t0, 100*time.Millisecond)
	g := mustGraph(t,
		dag.Step{ID: "app.A/dump/a_mngt", Label: "dump schema a_mngt", Group: runner.Target{Resource: "app.A", Store: "node"}, Run: func(_ context.Context, p *dag.Progress) error {
			p.SetTotal(100)
			for range 10 {
				p.Add(10)
				time.Sleep(dag.ProgressInterval + 5*time.Millisecond)
			}
			return nil
		}},
		dag.Step{ID: "app.A/archive", Label: "archive app.A", Group: runner.Target{Resource: "app.A"}, Deps: []string{"app.A/dump/a_mngt"}, Run: func(context.Context, *dag.Progress) error {
			return errors.New(`disk "full"`)
		}},
		dag.Step{ID: "app.A/upload", Label: "upload", Deps: []string{"app.A/archive"}},
	)
	dag.Run(context.Background(), g, dag.Options{Events: ev})
	ev.Close()

	type line struct {
		Type            string         `json:"type"`
		Time            time.Time      `json:"time"`
		Step            string         `json:"step"`
		Label           string         `json:"label"`
		Resource        string         `json:"resource"`
		Store           string         `json:"store"`
		Status          string         `json:"status"`
		Error           string         `json:"error"`
		SkippedBecause  string         `json:"skipped_because"`
		Bytes           *int64         `json:"bytes"`
		Total           *int64         `json:"total"`
		DurationSeconds *float64       `json:"duration_seconds"`
		Counts          map[string]int `json:"counts"`
	}
	var lines []line
	var types []string
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var l line
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.Time.IsZero() {
			t.Errorf("line %q has no time", sc.Text())
		}
		lines = append(lines, l)
		if l.Type != "step_progress" {
			types = append(types, l.Type+" "+l.Step+" "+l.Status)
		}
	}
	want := []string{
		"step_started app.A/dump/a_mngt ",
		"step_finished app.A/dump/a_mngt ok",
		"step_started app.A/archive ",
		"step_finished app.A/archive failed",
		"step_finished app.A/upload skipped",
		"summary  failed",
	}
	if strings.Join(types, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(types, "\n"), strings.Join(want, "\n"))
	}
	progress := 0
	for _, l := range lines {
		switch {
		case l.Type == "step_progress":
			progress++
			if l.Total == nil || *l.Total != 100 || l.Bytes == nil {
				t.Errorf("progress line without bytes and total: %+v", l)
			}
		case l.Type == "step_started" && l.Step == "app.A/dump/a_mngt":
			if l.Label != "dump schema a_mngt" || l.Resource != "app.A" || l.Store != "node" {
				t.Errorf("started line lacks step fields: %+v", l)
			}
		case l.Type == "step_finished" && l.Status == "ok":
			if l.Bytes == nil || *l.Bytes != 100 || l.DurationSeconds == nil || *l.DurationSeconds <= 0 {
				t.Errorf("finished line lacks bytes or duration: %+v", l)
			}
		case l.Type == "step_finished" && l.Status == "failed":
			if l.Error != `disk "full"` {
				t.Errorf("failed line error %q", l.Error)
			}
		case l.Type == "step_finished" && l.Status == "skipped":
			if l.SkippedBecause != "app.A/archive" || l.Bytes != nil {
				t.Errorf("skipped line: %+v", l)
			}
		case l.Type == "summary":
			if l.Counts["ok"] != 1 || l.Counts["failed"] != 1 || l.Counts["skipped"] != 1 {
				t.Errorf("summary counts %v", l.Counts)
			}
		}
	}
	// The fake clock advances 100ms per call: at most one progress line per
	// second of fake time, over about 10 calls of progress.
	if progress < 1 || progress > 3 {
		t.Errorf("%d progress lines, want throttling to about one per second", progress)
	}
}

func TestTerminalEventsPlain(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	var buf bytes.Buffer
	ev := NewTerminalEvents(&buf, false)
	ev.(*terminalEvents).now = fakeClock(t0, time.Second)
	dump := dag.Step{ID: "app.A/dump/a_mngt", Label: "dump schema a_mngt"}
	ev.StepStarted(dump)
	ev.StepProgress(dump, 10, 100)
	ev.StepFinished(dag.StepResult{Step: dump, Status: dag.StatusOK, Bytes: 3 << 20, Duration: 2500 * time.Millisecond})
	ev.StepFinished(dag.StepResult{Step: dag.Step{ID: "app.B/dump"}, Status: dag.StatusFailed, Err: errors.New("pg_dump: exit status 1")})
	ev.StepFinished(dag.StepResult{Step: dag.Step{ID: "app.B/archive", Label: "archive app.B"}, Status: dag.StatusSkipped, SkippedBecause: "app.B/dump"})
	ev.StepFinished(dag.StepResult{Step: dag.Step{ID: "app.C/lock", Label: "lock app.C"}, Status: dag.StatusCanceled, Err: context.Canceled})
	ev.Close()
	want := `02:30:00 start    dump schema a_mngt
02:30:01 ok       dump schema a_mngt (3.0 MiB in 2.5s)
02:30:02 failed   app.B/dump: pg_dump: exit status 1
02:30:03 skipped  archive app.B (app.B/dump failed)
02:30:04 canceled lock app.C: context canceled
`
	if buf.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestTerminalEventsBars(t *testing.T) {
	for name, noColor := range map[string]string{"color": "", "NO_COLOR": "1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("NO_COLOR", noColor)
			var buf syncBuffer
			ev := NewTerminalEvents(&buf, true)
			g := mustGraph(t, dag.Step{ID: "copy", Label: "copy archive", Run: func(_ context.Context, p *dag.Progress) error {
				p.SetTotal(4 << 20)
				for range 4 {
					p.Add(1 << 20)
					time.Sleep(60 * time.Millisecond)
				}
				return nil
			}})
			done := make(chan struct{})
			go func() {
				dag.Run(context.Background(), g, dag.Options{Events: ev})
				ev.Close()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("run with progress bars did not finish")
			}
			out := buf.String()
			if !strings.Contains(out, "copy archive") || !strings.Contains(out, "MiB") {
				t.Errorf("bar output lacks label or sizes:\n%q", out)
			}
			hasColor := strings.Contains(out, "\x1b[32mok")
			if hasColor != (noColor == "") {
				t.Errorf("NO_COLOR=%q: coloured status = %v\n%q", noColor, hasColor, out)
			}
		})
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
