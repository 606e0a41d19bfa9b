package notice

import (
	"fmt"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/notify"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/facts"
)

// New starts the report of command (apply or verify) on node, begun at
// start.
func New(command, node, planbVersion string, start time.Time) *Report {
	return &Report{Summary: notify.NewSummary(command, node, planbVersion, start)}
}

// Report collects what apply and verify did, for the summary their
// notifications carry. Its methods do nothing on a nil report (no
// notifications).
type Report struct {
	// Summary is the summary being made: its start, then, once
	// Summarize was called, its end.
	Summary *notify.Summary
	// plans and results are each run of apply's step graph (two when
	// apply planned again after waiting for a lock).
	plans   []*plan.Plan
	results []*dag.Result
	// archives and failures are verify's.
	archives *notify.Archives
	failures []notify.Failure
}

// Executed records one run of apply's step graph.
func (r *Report) Executed(p *plan.Plan, res *dag.Result) {
	if r == nil || res == nil {
		return
	}
	r.plans = append(r.plans, p)
	r.results = append(r.results, res)
}

// Verified records the counts of verify.
func (r *Report) Verified(checked, damaged, unreadable int) {
	if r == nil {
		return
	}
	r.archives = &notify.Archives{Verified: checked, Damaged: damaged, Unreadable: unreadable}
}

// ArchiveFailed records an archive verify could not vouch for; how is
// damaged, unreadable or unchecked.
func (r *Report) ArchiveFailed(a facts.ArchiveRow, how string, err error) {
	if r == nil {
		return
	}
	r.failures = append(r.failures, notify.Failure{
		Label: how, Resource: a.Resource, Store: a.Store, Archive: a.Folder + "/" + a.Archive, Error: err.Error(),
	})
}

// Summarize completes the summary of a command that ended with exit code
// code and error err (nil, or already printed when its message is empty).
func (r *Report) Summarize(finished time.Time, code int, err error) *notify.Summary {
	s := r.Summary
	s.Finish(finished, code)
	if err != nil && err.Error() != "" {
		s.Error = err.Error()
	}
	s.Archives = r.archives
	for _, f := range r.failures {
		s.AddFailure(f)
	}
	index := map[string]int{}
	resource := func(addr string) *notify.Resource {
		i, ok := index[addr]
		if !ok {
			i = len(s.Resources)
			index[addr] = i
			s.Resources = append(s.Resources, notify.Resource{Address: addr, Result: notify.ResultOK, Actions: map[string]int{}, Steps: map[string]int{}})
		}
		return &s.Resources[i]
	}
	for i, res := range r.results {
		for _, a := range r.plans[i].Actions {
			resource(a.Resource).Actions[string(a.Type)]++
		}
		if res.Err != nil && s.Error == "" {
			s.Error = "nothing was run: " + res.Err.Error()
		}
		for _, st := range res.Steps {
			s.Steps[string(st.Status)]++
			if t := runner.TargetOf(st.Step); t.Resource != "" {
				rs := resource(t.Resource)
				rs.Steps[string(st.Status)]++
				rs.Result = worseResult(rs.Result, st.Status)
			}
		}
		for _, f := range res.Failed() {
			s.AddFailure(stepFailure(res, f))
		}
	}
	s.Text = summaryLine(s)
	return s
}

// worseResult is the result of a resource that was result before a step
// ended with st: a failed or skipped step fails it, a canceled one
// interrupts it unless it failed already.
func worseResult(result string, st dag.Status) string {
	switch {
	case st == dag.StatusFailed || st == dag.StatusSkipped:
		return notify.ResultFailed
	case st == dag.StatusCanceled && result == notify.ResultOK:
		return notify.ResultInterrupted
	}
	return result
}

// stepFailure describes the failed step f of res, with the number of steps
// skipped because of it.
func stepFailure(res *dag.Result, f dag.StepResult) notify.Failure {
	skipped := 0
	for _, st := range res.Steps {
		if st.SkippedBecause == f.Step.ID {
			skipped++
		}
	}
	label := f.Step.Label
	if label == "" {
		label = f.Step.ID
	}
	t := runner.TargetOf(f.Step)
	return notify.Failure{
		Step: f.Step.ID, Label: label, Resource: t.Resource, Store: t.Store, Error: fmt.Sprint(f.Err), Skipped: skipped,
	}
}

// summaryLine is s in one line, for people: "planb apply failed on node-a
// (exit 1) after 3.2s: 16 ok, 1 failed, 1 skipped; dump schema x
// (measurement.health, store.node): schema "x" does not exist".
func summaryLine(s *notify.Summary) string {
	head := s.Title()
	if s.ExitCode != nil && *s.ExitCode != 0 {
		head += fmt.Sprintf(" (exit %d)", *s.ExitCode)
	}
	took := time.Duration(s.DurationSeconds * float64(time.Second))
	if took < time.Second {
		took = took.Round(time.Millisecond)
	} else {
		took = took.Round(100 * time.Millisecond)
	}
	head += " after " + took.String()
	var parts []string
	switch {
	case s.Archives != nil:
		parts = append(parts, fmt.Sprintf("%d archive(s) verified, %d damaged, %d unreadable or unchecked", s.Archives.Verified, s.Archives.Damaged, s.Archives.Unreadable))
	case len(s.Steps) > 0:
		var counts []string
		for _, st := range []dag.Status{dag.StatusOK, dag.StatusFailed, dag.StatusSkipped, dag.StatusCanceled} {
			if n := s.Steps[string(st)]; n > 0 || st == dag.StatusOK {
				counts = append(counts, fmt.Sprintf("%d %s", n, st))
			}
		}
		parts = append(parts, strings.Join(counts, ", "))
	case s.Error == "" && s.Result == notify.ResultOK:
		parts = append(parts, "nothing to do")
	}
	if len(s.Failures) > 0 {
		parts = append(parts, failureLine(s.Failures[0]))
		if more := len(s.Failures) - 1 + s.FailuresOmitted; more > 0 {
			parts = append(parts, fmt.Sprintf("%d more failure(s)", more))
		}
	} else if s.Error != "" {
		parts = append(parts, firstLine(s.Error))
	}
	if len(parts) == 0 {
		return head
	}
	return head + ": " + strings.Join(parts, "; ")
}

// failureLine is one failure in a few words.
func failureLine(f notify.Failure) string {
	where := []string{}
	if f.Resource != "" {
		where = append(where, f.Resource)
	}
	if f.Store != "" {
		where = append(where, "store."+f.Store)
	}
	text := f.Label
	if f.Archive != "" {
		text += " " + f.Archive
	}
	if len(where) > 0 {
		text += " (" + strings.Join(where, ", ") + ")"
	}
	return text + ": " + firstLine(f.Error)
}

// firstLine is the first line of s, at most 300 bytes.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}
