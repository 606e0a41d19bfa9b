package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/cmd/planb/views"
	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
	"github.com/planb-backup/planb/runner/facts"
	"github.com/planb-backup/planb/runner/replan"
	"github.com/planb-backup/planb/runner/report"
)

type applyOptions struct {
	autoApprove bool
	asJSON      bool
	parallelism int
	lockTimeout time.Duration
	metricsFile string
	targets     []string
}

func newApplyCmd(g *globals) *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply [PLAN-FILE]",
		Short: "Execute a plan",
		Long: `Apply executes a plan as a graph of lock, dump, archive, copy, prune and clean
steps, running independent steps in parallel.

With PLAN-FILE (from 'planb plan --out') it runs exactly that plan, and refuses
it when the configuration or any archive the plan relied on changed since.
Without, it plans, shows the plan and asks for confirmation ('yes'), unless
--auto-approve is given.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runApply(cmd.Context(), args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	f.BoolVar(&o.asJSON, "json", false, "print JSON event lines instead of progress")
	f.IntVar(&o.parallelism, "parallelism", 0, "steps run at once (default: planb { parallelism }, or the number of CPUs, at least 2)")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "wait this long for a lock another apply holds (default: fail at once with exit code 11)")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write Prometheus textfile metrics to PATH")
	f.StringArrayVar(&o.targets, "target", nil, "limit the plan to a resource address (repeatable)")
	g.sendsNotifications(cmd)
	return cmd
}

// runApply has four phases: the plan to apply (a saved one checked
// fresh, or one made now and approved), its run (planning again what
// changed while apply waited for its lock), the metrics file, and the
// exit code.
func (g *globals) runApply(ctx context.Context, args []string, o applyOptions) error {
	view := views.NewApply(views.KindOf(o.asJSON), g.view())
	var (
		first replan.Planned
		err   error
	)
	if len(args) == 1 {
		first, err = g.savedPlan(ctx, args[0], o, view)
	} else {
		first, err = g.approvedPlan(ctx, o, view)
	}
	if err != nil || first.Plan == nil {
		return err
	}
	// The plan names the stores it could not reach; planning again covers
	// only what changed.
	unreached := unreachableFailure(first.Plan)
	out, err := g.applyRuns(len(args) == 0 && o.autoApprove, o, view).Run(ctx, first)
	if err != nil {
		return err
	}
	metricsErr := g.writeMetrics(o.metricsFile, out)
	return applyExit(ctx, out, unreached, metricsErr, o.lockTimeout > 0, view)
}

// savedPlan loads the plan of path and refuses it when the configuration
// or any archive it relied on changed since. A plan without changes is
// said so and not run: the zero Planned.
func (g *globals) savedPlan(ctx context.Context, path string, o applyOptions, view views.Apply) (replan.Planned, error) {
	if len(o.targets) > 0 {
		return replan.Planned{}, errors.New("--target cannot be combined with a saved plan: the plan's targets were fixed when it was made")
	}
	p, err := plan.Load(path)
	if err != nil {
		return replan.Planned{}, err
	}
	cfg, err := g.mustLoadConfig()
	if err != nil {
		return replan.Planned{}, err
	}
	stores, err := g.openStores(cfg)
	if err != nil {
		return replan.Planned{}, err
	}
	e := g.estate(cfg, stores)
	unreachable, err := e.CheckSaved(ctx, p)
	if err != nil {
		return replan.Planned{}, err
	}
	warnUnreachable(p, unreachable, view)
	if p.Restore != nil {
		if err := e.CheckRestoreFresh(ctx, p); err != nil {
			return replan.Planned{}, err
		}
	}
	if !p.HasChanges() {
		view.NothingToDo()
		return replan.Planned{}, unreachableFailure(p)
	}
	return replan.Planned{Plan: p, Estate: e}, nil
}

// approvedPlan plans, shows the plan and asks for 'yes' unless
// --auto-approve. A plan without changes is not run: the zero Planned.
func (g *globals) approvedPlan(ctx context.Context, o applyOptions, view views.Apply) (replan.Planned, error) {
	p, e, err := g.makePlan(ctx, o.targets)
	if err != nil {
		return replan.Planned{}, err
	}
	if err := view.Plan(p); err != nil {
		return replan.Planned{}, err
	}
	if !p.HasChanges() {
		return replan.Planned{}, unreachableFailure(p)
	}
	if !o.autoApprove {
		ok, err := g.confirm(view)
		if err != nil {
			return replan.Planned{}, err
		}
		if !ok {
			return replan.Planned{}, withCode(exitError, errors.New("apply cancelled"))
		}
	}
	return replan.Planned{Plan: p, Estate: e}, nil
}

// applyRuns says how apply executes a plan and, when again is set (apply
// planned for itself and needs no approval), plans again what changed
// while it waited for its lock; a saved plan is run exactly or not at
// all.
func (g *globals) applyRuns(again bool, o applyOptions, view views.Apply) replan.Apply {
	a := replan.Apply{
		Execute: func(ctx context.Context, p replan.Planned) (*dag.Result, error) {
			return g.execute(ctx, p, o, view)
		},
	}
	if again {
		a.Replan = func(ctx context.Context, addrs []string) (replan.Planned, error) {
			view.Replanning(addrs)
			p, e, err := g.makePlan(ctx, addrs)
			if err != nil {
				return replan.Planned{}, err
			}
			return replan.Planned{Plan: p, Estate: e}, view.Plan(p)
		}
	}
	return a
}

// writeMetrics writes the Prometheus textfile of --metrics-file, when
// given; a failure is logged and returned.
func (g *globals) writeMetrics(path string, out replan.Outcome) error {
	if path == "" {
		return nil
	}
	err := report.WriteMetricsWithDrills(path, out.Metrics, out.Drills)
	if err != nil {
		g.logger.Error("write metrics", "path", path, "err", err)
	}
	return err
}

// applyExit is the exit of an apply: interrupted, failed (locked: 11),
// failed to write its metrics, or the stores it could not reach
// (unreached, nil when none).
func applyExit(ctx context.Context, out replan.Outcome, unreached, metricsErr error, waited bool, view views.Apply) error {
	switch {
	case out.Canceled || ctx.Err() != nil:
		return withCode(exitInterrupted, nil)
	case len(out.Failed) == 0 && metricsErr != nil && unreached == nil:
		// The work is done, but monitoring would not see it.
		return withCode(exitError, nil)
	case len(out.Failed) == 0:
		return unreached
	}
	if unreached != nil {
		view.Unreached(unreached)
	}
	if slices.ContainsFunc(out.Failed, func(f dag.StepResult) bool { return errors.Is(f.Err, store.ErrLocked) }) {
		view.Locked(waited)
		return withCode(exitLocked, nil)
	}
	return withCode(exitError, nil)
}

// execute runs a plan's step graph and shows its progress and summary.
func (g *globals) execute(ctx context.Context, p replan.Planned, o applyOptions, view views.Apply) (*dag.Result, error) {
	env := &runner.Env{
		Config:        p.Estate.Config,
		Stores:        p.Estate.Stores,
		Logger:        g.logger,
		PlanbVersion:  version,
		LockWait:      o.lockTimeout,
		DBLockTimeout: g.dbLockTimeout,
	}
	graph, err := runner.Build(p.Plan, env)
	if err != nil {
		return nil, err
	}
	parallelism := cmp.Or(max(o.parallelism, 0), max(p.Estate.Config.Parallelism, 0), dag.DefaultParallelism())
	events := view.Events()
	res := dag.Run(ctx, graph, dag.Options{Parallelism: parallelism, Events: events, Logger: g.logger})
	events.Close()
	g.report.Executed(p.Plan, res)
	view.Summary(res)
	return res, nil
}

// confirm asks for 'yes' on standard input.
func (g *globals) confirm(view views.Apply) (bool, error) {
	view.Ask()
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && line == "" {
		view.NoAnswer()
		return false, withCode(exitError, errors.New("no answer on standard input; use --auto-approve to apply without asking"))
	}
	return strings.TrimSpace(line) == "yes", nil
}

// unreachableFailure is the outcome of an apply whose plan could not reach
// some stores: all other work is done, then it fails naming them (exit 1).
// It is nil when the plan reached every store.
func unreachableFailure(p *plan.Plan) error {
	if err := p.UnreachableError(); err != nil {
		return withCode(exitError, err)
	}
	return nil
}

// warnUnreachable says which stores a saved plan relies on that cannot be
// reached now: the plan's work in them fails, the rest is done.
func warnUnreachable(p *plan.Plan, unreachable map[string]string, view views.Apply) {
	for _, name := range facts.UnreachableNames(unreachable) {
		if slices.ContainsFunc(p.Actions, func(a *plan.Action) bool { return a.Store == name || a.FromStore == name }) {
			view.Unreachable(name, unreachable[name])
		}
	}
}
