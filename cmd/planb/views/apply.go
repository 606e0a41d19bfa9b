package views

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/report"
)

// Apply shows what `planb apply` does: the plan it made for itself, the
// question, the progress of the steps and their summary, and why it
// failed.
type Apply interface {
	// Plan prints the plan apply made for itself.
	Plan(p *plan.Plan) error
	// Ask asks for 'yes' before applying.
	Ask()
	// NoAnswer ends the question standard input did not answer.
	NoAnswer()
	// NothingToDo says the plan has no changes.
	NothingToDo()
	// Replanning says which resources changed while apply waited for its
	// lock and are planned again.
	Replanning(addrs []string)
	// Unreachable warns that a store a saved plan works in cannot be
	// reached now.
	Unreachable(store, why string)
	// Events returns what reports the progress of a run's steps.
	Events() dag.Events
	// Summary prints the outcome of a run.
	Summary(res *dag.Result)
	// Unreached repeats, after the failures, that some stores could not be
	// reached.
	Unreached(err error)
	// Locked says another apply holds the lock and how to wait for it;
	// waited is set when --lock-timeout was given.
	Locked(waited bool)
}

// NewApply returns the view of apply of the given kind: Human prints the
// plan and the summary on standard output and the progress on standard
// error; JSON prints the plan and every event as JSON lines on standard
// output.
func NewApply(k Kind, v *View) Apply {
	if k == JSON {
		return &applyJSON{applyCommon{v}}
	}
	return &applyHuman{applyCommon{v}}
}

// applyCommon are the lines both kinds print alike.
type applyCommon struct{ v *View }

func (c applyCommon) Ask() {
	fmt.Fprint(c.v.Stdout, "\nDo you want to perform these actions? Only 'yes' will be accepted: ")
}

func (c applyCommon) NoAnswer() { fmt.Fprintln(c.v.Stdout) }

func (c applyCommon) NothingToDo() { fmt.Fprintln(c.v.Stdout, "Nothing to do.") }

func (c applyCommon) Replanning(addrs []string) {
	fmt.Fprintf(c.v.Stdout, "\n%s changed while this apply waited for its lock: planning again.\n\n", strings.Join(addrs, ", "))
}

func (c applyCommon) Unreachable(store, why string) {
	fmt.Fprintf(c.v.Stderr, "Warning: store.%s cannot be reached now (%s): the plan's work in it will fail; the rest is done.\n", store, why)
}

func (c applyCommon) Unreached(err error) { fmt.Fprintln(c.v.Stderr, "Error:", err) }

func (c applyCommon) Locked(waited bool) {
	if !waited {
		fmt.Fprintln(c.v.Stderr, "Another apply holds the lock: run again later, or wait for it with --lock-timeout (for example --lock-timeout 10m).")
	}
}

type applyHuman struct{ applyCommon }

func (h *applyHuman) Plan(p *plan.Plan) error {
	return p.WriteHuman(h.v.Stdout, plan.Style{Color: h.v.ColorStdout()})
}

func (h *applyHuman) Events() dag.Events {
	return report.NewTerminalEvents(h.v.Stderr, IsTerminal(h.v.Stderr))
}

func (h *applyHuman) Summary(res *dag.Result) { report.WriteSummary(h.v.Stdout, res) }

type applyJSON struct{ applyCommon }

// Plan prints the plan as the first JSON event line:
// {"type":"plan","time":…,"plan":{…}}.
func (j *applyJSON) Plan(p *plan.Plan) error {
	return json.NewEncoder(j.v.Stdout).Encode(struct {
		Type string     `json:"type"`
		Time string     `json:"time"`
		Plan *plan.Plan `json:"plan"`
	}{"plan", time.Now().UTC().Format(time.RFC3339Nano), p})
}

func (j *applyJSON) Events() dag.Events { return report.NewJSONEvents(j.v.Stdout) }

// Summary prints nothing: the events said it all.
func (j *applyJSON) Summary(*dag.Result) {}
