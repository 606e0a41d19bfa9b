package replan

import (
	"context"
	"errors"
	"slices"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/facts"
	"github.com/planb-backup/planb/runner/report"
)

// Planned is a plan with the estate it was made from: what Execute runs.
type Planned struct {
	Plan   *plan.Plan
	Estate *facts.Estate
}

// Apply says how one apply executes and plans.
type Apply struct {
	// Execute runs a plan's step graph.
	Execute func(ctx context.Context, p Planned) (*dag.Result, error)
	// Replan plans the resources at addrs again, after Execute found them
	// changed. Nil for a saved plan: it is not planned again.
	Replan func(ctx context.Context, addrs []string) (Planned, error)
}

// Outcome is what an apply did, over its first run and the run of what
// it planned again.
type Outcome struct {
	// Failed are the steps that failed, in run order; the stale steps of
	// the first run are left out once their resources were planned again.
	Failed []dag.StepResult
	// Canceled reports whether either run was cancelled.
	Canceled bool
	// Metrics and Drills are the Prometheus metrics of both runs.
	Metrics []report.Metric
	Drills  []report.DrillMetric
}

// Run executes first and, when a.Replan is set, the context not cancelled
// and some steps failed with plan.ErrStale, plans their resources again
// and executes that plan.
func (a Apply) Run(ctx context.Context, first Planned) (Outcome, error) {
	res, err := a.Execute(ctx, first)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{
		Failed:   res.Failed(),
		Canceled: res.Canceled(),
		Metrics:  report.BackupMetrics(first.Plan, res),
		Drills:   report.DrillMetrics(first.Plan, res),
	}
	again := StaleResources(out.Failed)
	if a.Replan == nil || len(again) == 0 || ctx.Err() != nil {
		return out, nil
	}
	second, err := a.Replan(ctx, again)
	if err != nil {
		return Outcome{}, err
	}
	out.Failed = slices.DeleteFunc(out.Failed, func(f dag.StepResult) bool { return errors.Is(f.Err, plan.ErrStale) })
	var rerun *dag.Result
	if second.Plan.HasChanges() {
		if rerun, err = a.Execute(ctx, second); err != nil {
			return Outcome{}, err
		}
		out.Failed = append(out.Failed, rerun.Failed()...)
		out.Canceled = out.Canceled || rerun.Canceled()
		out.Metrics = append(out.Metrics, report.BackupMetrics(second.Plan, rerun)...)
	}
	out.Drills = report.MergeDrillMetrics(out.Drills, report.DrillMetrics(second.Plan, rerun))
	return out, nil
}

// StaleResources lists the resources whose store folder changed while the
// apply waited for its lock, in the order of their failed steps.
func StaleResources(failed []dag.StepResult) []string {
	var out []string
	for _, f := range failed {
		res := runner.TargetOf(f.Step).Resource
		if errors.Is(f.Err, plan.ErrStale) && res != "" && !slices.Contains(out, res) {
			out = append(out, res)
		}
	}
	return out
}
