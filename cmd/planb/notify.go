package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/notify"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/facts"
)

// notifyBound is how long apply and verify wait at their end for their
// notifications to be delivered; what is still on its way then is given
// up and logged.
const notifyBound = 10 * time.Second

// sendsNotifications gives cmd (apply or verify) a --no-notify flag and
// makes it send the notifications of the configuration's notify blocks:
// apply its start, both their success or failure. A notification never
// changes the exit code; one that cannot be delivered is a warning.
func (g *globals) sendsNotifications(cmd *cobra.Command) {
	var off bool
	cmd.Flags().BoolVar(&off, "no-notify", false, "send no notifications (notify blocks), for manual runs")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if off {
			return run(c, args)
		}
		n := g.startNotifications(c.Name())
		err := run(c, args)
		if n != nil {
			g.finishNotifications(c.Context(), n, err)
		}
		return err
	}
}

// startNotifications starts a Notifier for the notify blocks of the
// configuration and, for apply, sends the start. It returns nil when there
// is nothing to notify: no notify block, or a configuration that does not
// load (the command reports that itself).
func (g *globals) startNotifications(command string) *notify.Notifier {
	cfg, diags, err := g.loadConfig(false)
	if err != nil || diags.HasErrors() || cfg == nil {
		return nil
	}
	targets := g.notifyTargets(cfg)
	if len(targets) == 0 {
		return nil
	}
	n := notify.New(targets, notify.Options{UserAgent: "planb/" + version, Logger: g.logger})
	g.report = &runReport{sum: notify.NewSummary(command, cfg.Node, version, time.Now())}
	if command == "apply" {
		g.report.sum.Text = g.report.sum.Title()
		n.Notify(g.report.sum)
	}
	return n
}

// finishNotifications sends the end of the command that returned err, and
// waits for the notifications at most notifyBound.
func (g *globals) finishNotifications(ctx context.Context, n *notify.Notifier, err error) {
	code := exitCode(err)
	if err != nil && ctx.Err() != nil {
		code = exitInterrupted
	}
	s := g.report.summarize(time.Now(), code, err)
	n.Notify(s)
	n.Close(notifyBound)
}

// notifyTargets turns the notify blocks into targets. A block whose URL,
// token or header comes from a sensitive variable without a value is left
// out with a warning naming the variable.
func (g *globals) notifyTargets(cfg *config.Config) []notify.Target {
	var out []notify.Target
	for _, nb := range cfg.Notifiers {
		if err := nb.MissingSecret(); err != nil {
			g.logger.Warn("notifications not sent", "notify", "notify."+nb.Name, "err", err)
			continue
		}
		t := notify.Target{
			Name: nb.Name, Kind: notify.Kind(nb.Kind), URL: nb.URL.Reveal(), Host: nb.Host,
			Token: nb.Token.Reveal(), Headers: map[string]string{},
		}
		for k, v := range nb.Headers {
			t.Headers[k] = v.Reveal()
		}
		for _, e := range nb.On {
			t.On = append(t.On, notify.Event(e))
		}
		out = append(out, t)
	}
	return out
}

// runReport collects what apply and verify did, for the summary their
// notifications carry. Its methods do nothing on a nil report (no
// notifications).
type runReport struct {
	sum *notify.Summary
	// plans and results are each run of apply's step graph (two when
	// apply planned again after waiting for a lock).
	plans   []*plan.Plan
	results []*dag.Result
	// archives and failures are verify's.
	archives *notify.Archives
	failures []notify.Failure
}

// executed records one run of apply's step graph.
func (r *runReport) executed(p *plan.Plan, res *dag.Result) {
	if r == nil || res == nil {
		return
	}
	r.plans = append(r.plans, p)
	r.results = append(r.results, res)
}

// verified records the counts of verify.
func (r *runReport) verified(checked, damaged, unreadable int) {
	if r == nil {
		return
	}
	r.archives = &notify.Archives{Verified: checked, Damaged: damaged, Unreadable: unreadable}
}

// archiveFailed records an archive verify could not vouch for; how is
// damaged, unreadable or unchecked.
func (r *runReport) archiveFailed(a facts.ArchiveRow, how string, err error) {
	if r == nil {
		return
	}
	r.failures = append(r.failures, notify.Failure{
		Label: how, Resource: a.Resource, Store: a.Store, Archive: a.Folder + "/" + a.Archive, Error: err.Error(),
	})
}

// summarize completes the summary of a command that ended with exit code
// code and error err (nil, or already printed when its message is empty).
func (r *runReport) summarize(finished time.Time, code int, err error) *notify.Summary {
	s := r.sum
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
