package notify

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the version of the Summary document. Fields are added, never
// renamed or repurposed; a change that would break a reader gets a new
// version.
const Version = 1

// Event is a moment of a run a target can be told about.
type Event string

const (
	// EventStart is sent when apply begins.
	EventStart Event = "start"
	// EventSuccess is sent when apply or verify ends with exit code 0.
	EventSuccess Event = "success"
	// EventFailure is sent when apply or verify ends with any other exit
	// code.
	EventFailure Event = "failure"
)

// Results of a run, in Summary.Result and Resource.Result.
const (
	ResultRunning     = "running"
	ResultOK          = "ok"
	ResultFailed      = "failed"
	ResultInterrupted = "interrupted"
)

// Bounds of a Summary, so that a run with many failures still makes a
// small notification.
const (
	// MaxFailures is how many failures a Summary lists; the others are
	// counted in FailuresOmitted.
	MaxFailures = 20
	// MaxErrorBytes is how long an error of a Failure may get; longer ones
	// are cut and end in "…".
	MaxErrorBytes = 1000
)

// Summary is the document a notification carries (webhooks and
// healthchecks get it as JSON, ntfy gets Text). Every key is always
// present: lists are [] when empty, and what does not apply is null.
type Summary struct {
	Version int `json:"version"`
	// Command is "apply" or "verify".
	Command string `json:"command"`
	Event   Event  `json:"event"`
	// Result is ResultRunning (start), ResultOK, ResultFailed or
	// ResultInterrupted.
	Result string `json:"result"`
	// Text is the summary in one line, for people.
	Text         string    `json:"text"`
	Node         string    `json:"node"`
	PlanbVersion string    `json:"planb_version"`
	Started      time.Time `json:"started"`
	// Finished, ExitCode are null on start.
	Finished        *time.Time `json:"finished"`
	DurationSeconds float64    `json:"duration_seconds"`
	ExitCode        *int       `json:"exit_code"`
	// Error is what ended the command when it was not a step (a stale
	// plan, a lock held by another apply, an unreadable store); "" when
	// none.
	Error string `json:"error"`
	// Steps counts the steps of apply per status (ok, failed, skipped,
	// canceled).
	Steps map[string]int `json:"steps"`
	// Resources are the resources apply worked on.
	Resources []Resource `json:"resources"`
	// Failures are the failed steps of apply or the archives verify found
	// damaged, unreadable or unchecked, at most MaxFailures.
	Failures        []Failure `json:"failures"`
	FailuresOmitted int       `json:"failures_omitted"`
	// Archives are the counts of verify; null for apply.
	Archives *Archives `json:"archives"`
}

// Resource is what apply did for one resource.
type Resource struct {
	Address string `json:"address"`
	// Result is ResultOK when every step succeeded, ResultInterrupted when
	// a step was canceled, else ResultFailed.
	Result string `json:"result"`
	// Actions counts the planned actions per type (backup, copy, prune,
	// clean, restore, drill).
	Actions map[string]int `json:"actions"`
	// Steps counts the resource's steps per status.
	Steps map[string]int `json:"steps"`
}

// Failure is one failed step of apply, or one archive verify could not
// vouch for.
type Failure struct {
	// Step is the step's ID; "" for verify.
	Step string `json:"step"`
	// Label says what the step did, or for verify how the archive failed
	// (damaged, unreadable, unchecked).
	Label    string `json:"label"`
	Resource string `json:"resource"`
	Store    string `json:"store"`
	// Archive is the archive verify checked, as folder/name; "" for apply.
	Archive string `json:"archive"`
	Error   string `json:"error"`
	// Skipped counts the steps skipped because this one failed.
	Skipped int `json:"skipped"`
}

// Archives are the counts of verify.
type Archives struct {
	Verified   int `json:"verified"`
	Damaged    int `json:"damaged"`
	Unreadable int `json:"unreadable"`
}

// NewSummary returns the Summary of a command started at started, with
// empty lists.
func NewSummary(command, node, planbVersion string, started time.Time) *Summary {
	return &Summary{
		Version: Version, Command: command, Event: EventStart, Result: ResultRunning,
		Node: node, PlanbVersion: planbVersion, Started: started.UTC(),
		Steps: map[string]int{}, Resources: []Resource{}, Failures: []Failure{},
	}
}

// Finish sets the end of the run: the event and result follow from the
// exit code (130 is an interrupt).
func (s *Summary) Finish(finished time.Time, exitCode int) {
	f := finished.UTC()
	s.Finished, s.ExitCode = &f, &exitCode
	s.DurationSeconds = f.Sub(s.Started).Seconds()
	switch exitCode {
	case 0:
		s.Event, s.Result = EventSuccess, ResultOK
	case 130:
		s.Event, s.Result = EventFailure, ResultInterrupted
	default:
		s.Event, s.Result = EventFailure, ResultFailed
	}
}

// AddFailure lists f, its error cut to MaxErrorBytes, or counts it in
// FailuresOmitted once MaxFailures are listed.
func (s *Summary) AddFailure(f Failure) {
	if len(s.Failures) >= MaxFailures {
		s.FailuresOmitted++
		return
	}
	f.Error = cut(f.Error, MaxErrorBytes)
	s.Failures = append(s.Failures, f)
}

// Title is the summary in a few words: "planb apply failed on node-a".
func (s *Summary) Title() string {
	what := map[string]string{
		ResultRunning: "started", ResultOK: "succeeded", ResultFailed: "failed", ResultInterrupted: "was interrupted",
	}[s.Result]
	t := fmt.Sprintf("planb %s %s", s.Command, what)
	if s.Node != "" {
		t += " on " + s.Node
	}
	return t
}

// cut shortens s to at most n bytes on a rune boundary, ending in "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
