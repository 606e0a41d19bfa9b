package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
)

// jsonProgressInterval is the minimum time between two step_progress lines
// of one step.
const jsonProgressInterval = time.Second

// jsonEvent is one line of NewJSONEvents' output. Fields are only ever
// added, never renamed or repurposed.
type jsonEvent struct {
	Type            string     `json:"type"`
	Time            string     `json:"time"`
	Step            string     `json:"step,omitempty"`
	Label           string     `json:"label,omitempty"`
	Resource        string     `json:"resource,omitempty"`
	Store           string     `json:"store,omitempty"`
	Status          dag.Status `json:"status,omitempty"`
	Error           string     `json:"error,omitempty"`
	SkippedBecause  string     `json:"skipped_because,omitempty"`
	Bytes           *int64     `json:"bytes,omitempty"`
	Total           *int64     `json:"total,omitempty"`
	DurationSeconds *float64   `json:"duration_seconds,omitempty"`
	// Counts is set on the summary line: steps per status.
	Counts map[dag.Status]int `json:"counts,omitempty"`
}

type jsonEvents struct {
	mu           sync.Mutex
	enc          *json.Encoder
	now          func() time.Time
	lastProgress map[string]time.Time
}

// NewJSONEvents returns Events writing one JSON object per line to w:
//
//	{"type":"step_started","time":…,"step":…,"label":…,"resource":…,"store":…}
//	{"type":"step_progress",…,"bytes":…,"total":…}        (at most one per second per step)
//	{"type":"step_finished",…,"status":"ok|failed|skipped|canceled","error":…,"skipped_because":…,"bytes":…,"duration_seconds":…}
//	{"type":"summary","time":…,"status":…,"error":…,"duration_seconds":…,"counts":{"ok":…}}
//
// Times are RFC 3339 in UTC; empty fields are omitted. Write errors are
// ignored: losing the event stream must not stop a backup.
func NewJSONEvents(w io.Writer) dag.Events {
	return &jsonEvents{enc: json.NewEncoder(w), now: time.Now, lastProgress: map[string]time.Time{}}
}

func (j *jsonEvents) write(e jsonEvent, s dag.Step) {
	t := runner.TargetOf(s)
	e.Step, e.Label, e.Resource, e.Store = s.ID, s.Label, t.Resource, t.Store
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Time = j.now().UTC().Format(time.RFC3339Nano)
	_ = j.enc.Encode(e)
}

func (j *jsonEvents) StepStarted(s dag.Step) {
	j.write(jsonEvent{Type: "step_started"}, s)
}

func (j *jsonEvents) StepProgress(s dag.Step, done, total int64) {
	j.mu.Lock()
	now := j.now()
	last, seen := j.lastProgress[s.ID]
	if seen && now.Sub(last) < jsonProgressInterval {
		j.mu.Unlock()
		return
	}
	j.lastProgress[s.ID] = now
	j.mu.Unlock()
	e := jsonEvent{Type: "step_progress", Bytes: &done}
	if total >= 0 {
		e.Total = &total
	}
	j.write(e, s)
}

func (j *jsonEvents) StepFinished(r dag.StepResult) {
	j.mu.Lock()
	delete(j.lastProgress, r.Step.ID)
	j.mu.Unlock()
	e := jsonEvent{Type: "step_finished", Status: r.Status, SkippedBecause: r.SkippedBecause}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	if r.Status != dag.StatusSkipped && !r.Start.IsZero() {
		secs := r.Duration.Seconds()
		e.Bytes, e.DurationSeconds = &r.Bytes, &secs
	}
	j.write(e, r.Step)
}

func (j *jsonEvents) RunFinished(r *dag.Result) {
	secs := r.Duration.Seconds()
	e := jsonEvent{Type: "summary", Status: dag.StatusOK, DurationSeconds: &secs, Counts: r.Counts()}
	switch {
	case r.Err != nil:
		e.Status, e.Error = dag.StatusFailed, r.Err.Error()
	case r.Canceled():
		e.Status = dag.StatusCanceled
	case !r.OK():
		e.Status = dag.StatusFailed
	}
	j.write(e, dag.Step{})
}

func (j *jsonEvents) Close() {}

// terminalEvents prints one line per finished step and, on a terminal, a
// progress bar per running step.
type terminalEvents struct {
	mu       sync.Mutex
	w        io.Writer
	progress *mpb.Progress // nil when not on a terminal or after Close
	bars     map[string]*mpb.Bar
	color    bool
	now      func() time.Time
}

// NewTerminalEvents returns Events for humans. When isTerminal is set it
// draws an mpb progress bar per running step (label, bytes, rate, elapsed)
// and prints a line per finished step above the bars; otherwise it prints a
// plain line per step start and finish. Status words are coloured only on a
// terminal and when NO_COLOR is unset or empty. Close must be called to stop
// the bars.
func NewTerminalEvents(w io.Writer, isTerminal bool) dag.Events {
	t := &terminalEvents{w: w, bars: map[string]*mpb.Bar{}, now: time.Now}
	if isTerminal {
		t.color = os.Getenv("NO_COLOR") == ""
		t.progress = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond), mpb.ForceAutoRefresh())
	}
	return t
}

func (t *terminalEvents) line(status, text string) {
	stamp := t.now().Format("15:04:05")
	word := fmt.Sprintf("%-8s", status)
	if t.color {
		if code, ok := statusColors[status]; ok {
			word = "\x1b[" + code + "m" + word + "\x1b[0m"
		}
	}
	msg := stamp + " " + word + " " + text + "\n"
	if t.progress != nil {
		if _, err := t.progress.Write([]byte(msg)); err == nil {
			return
		}
	}
	_, _ = io.WriteString(t.w, msg)
}

var statusColors = map[string]string{
	string(dag.StatusOK):       "32",
	string(dag.StatusFailed):   "31",
	string(dag.StatusSkipped):  "33",
	string(dag.StatusCanceled): "33",
}

func (t *terminalEvents) StepStarted(s dag.Step) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.progress == nil {
		t.line("start", s.Name())
		return
	}
	t.bars[s.ID] = t.progress.AddBar(0,
		mpb.PrependDecorators(decor.Name(s.Name(), decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.Current(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
			decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace),
		),
	)
}

func (t *terminalEvents) StepProgress(s dag.Step, done, total int64) {
	t.mu.Lock()
	bar := t.bars[s.ID]
	t.mu.Unlock()
	if bar == nil {
		return
	}
	if total > 0 {
		bar.SetTotal(total, false)
	}
	bar.SetCurrent(done)
}

func (t *terminalEvents) StepFinished(r dag.StepResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if bar := t.bars[r.Step.ID]; bar != nil {
		bar.Abort(true)
		delete(t.bars, r.Step.ID)
	}
	text := r.Step.Name()
	switch r.Status {
	case dag.StatusOK:
		if r.Bytes > 0 {
			text += fmt.Sprintf(" (%s in %s)", plan.FormatBytes(r.Bytes), roundDuration(r.Duration))
		} else {
			text += fmt.Sprintf(" (%s)", roundDuration(r.Duration))
		}
	case dag.StatusSkipped:
		text += fmt.Sprintf(" (%s failed)", r.SkippedBecause)
	case dag.StatusFailed, dag.StatusCanceled:
		if r.Err != nil {
			text += ": " + strings.TrimRight(r.Err.Error(), "\n")
		}
	}
	t.line(string(r.Status), text)
}

func (t *terminalEvents) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.progress == nil {
		return
	}
	for id, bar := range t.bars {
		bar.Abort(true)
		delete(t.bars, id)
	}
	t.progress.Wait()
	t.progress = nil
}
