package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
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

func (g *globals) runApply(ctx context.Context, args []string, o applyOptions) error {
	var (
		p      *plan.Plan
		cfg    *config.Config
		stores map[string]store.Store
		err    error
	)
	if len(args) == 1 {
		if len(o.targets) > 0 {
			return errors.New("--target cannot be combined with a saved plan: the plan's targets were fixed when it was made")
		}
		p, err = plan.Load(args[0])
		if err != nil {
			return err
		}
		cfg, err = g.mustLoadConfig()
		if err != nil {
			return err
		}
		stores, err = g.openStores(cfg)
		if err != nil {
			return err
		}
		cat, unreachable, err := catalog(ctx, cfg, stores, cfg.Resources)
		if err != nil {
			return err
		}
		if err := p.CheckFresh(cfg.Digest, cat, unreachableNames(unreachable)...); err != nil {
			return err
		}
		g.warnUnreachable(p, unreachable)
		if p.Restore != nil {
			if err := g.checkRestoreFresh(ctx, p, cfg, stores); err != nil {
				return err
			}
		}
	} else {
		p, cfg, stores, err = g.makePlan(ctx, o.targets)
		if err != nil {
			return err
		}
		if err := g.showPlan(p, o.asJSON); err != nil {
			return err
		}
		if !p.HasChanges() {
			return unreachableFailure(p)
		}
		if !o.autoApprove {
			ok, err := g.confirm()
			if err != nil {
				return err
			}
			if !ok {
				return withCode(exitError, errors.New("apply cancelled"))
			}
		}
	}
	if !p.HasChanges() {
		fmt.Fprintln(g.stdout, "Nothing to do.")
		return unreachableFailure(p)
	}
	// The plan names the stores it could not reach; planning again below
	// covers only what changed.
	unreached := unreachableFailure(p)
	res, err := g.execute(ctx, p, cfg, stores, o)
	if err != nil {
		return err
	}
	failed := res.Failed()
	canceled := res.Canceled()
	metrics := report.BackupMetrics(p, res)
	drills := report.DrillMetrics(p, res)
	// An apply that planned for itself and waited for a lock plans again
	// what another apply changed meanwhile; a saved plan is run exactly or
	// not at all.
	if again := staleResources(failed); len(args) == 0 && o.autoApprove && len(again) > 0 && ctx.Err() == nil {
		fmt.Fprintf(g.stdout, "\n%s changed while this apply waited for its lock: planning again.\n\n", strings.Join(again, ", "))
		p, cfg, stores, err = g.makePlan(ctx, again)
		if err != nil {
			return err
		}
		if err := g.showPlan(p, o.asJSON); err != nil {
			return err
		}
		failed = slices.DeleteFunc(failed, func(f dag.StepResult) bool { return errors.Is(f.Err, plan.ErrStale) })
		var rerun *dag.Result
		if p.HasChanges() {
			rerun, err = g.execute(ctx, p, cfg, stores, o)
			if err != nil {
				return err
			}
			failed = append(failed, rerun.Failed()...)
			canceled = canceled || rerun.Canceled()
			metrics = append(metrics, report.BackupMetrics(p, rerun)...)
		}
		drills = report.MergeDrillMetrics(drills, report.DrillMetrics(p, rerun))
	}
	var metricsErr error
	if o.metricsFile != "" {
		if metricsErr = report.WriteMetricsWithDrills(o.metricsFile, metrics, drills); metricsErr != nil {
			g.logger.Error("write metrics", "path", o.metricsFile, "err", metricsErr)
		}
	}
	switch {
	case canceled || ctx.Err() != nil:
		return withCode(exitInterrupted, nil)
	case len(failed) == 0 && metricsErr != nil && unreached == nil:
		// The work is done, but monitoring would not see it.
		return withCode(exitError, nil)
	case len(failed) == 0:
		return unreached
	}
	if unreached != nil {
		fmt.Fprintln(g.stderr, "Error:", unreached)
	}
	for _, f := range failed {
		if errors.Is(f.Err, store.ErrLocked) {
			if o.lockTimeout == 0 {
				fmt.Fprintln(g.stderr, "Another apply holds the lock: run again later, or wait for it with --lock-timeout (for example --lock-timeout 10m).")
			}
			return withCode(exitLocked, nil)
		}
	}
	return withCode(exitError, nil)
}

// showPlan prints the plan apply made for itself: for a person, or as the
// first JSON event line ({"type":"plan","time":…,"plan":{…}}).
func (g *globals) showPlan(p *plan.Plan, asJSON bool) error {
	if !asJSON {
		return p.WriteHuman(g.stdout, plan.Style{Color: g.colorStdout()})
	}
	return json.NewEncoder(g.stdout).Encode(struct {
		Type string     `json:"type"`
		Time string     `json:"time"`
		Plan *plan.Plan `json:"plan"`
	}{"plan", time.Now().UTC().Format(time.RFC3339Nano), p})
}

// staleResources lists the resources whose store folder changed while the
// apply waited for its lock.
func staleResources(failed []dag.StepResult) []string {
	var out []string
	for _, f := range failed {
		if r := runner.TargetOf(f.Step).Resource; errors.Is(f.Err, plan.ErrStale) && r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// execute runs a plan's step graph and prints its summary.
func (g *globals) execute(ctx context.Context, p *plan.Plan, cfg *config.Config, stores map[string]store.Store, o applyOptions) (*dag.Result, error) {
	env := &runner.Env{
		Config:        cfg,
		Stores:        stores,
		Logger:        g.logger,
		PlanbVersion:  version,
		LockWait:      o.lockTimeout,
		DBLockTimeout: g.dbLockTimeout,
	}
	graph, err := runner.Build(p, env)
	if err != nil {
		return nil, err
	}
	parallelism := o.parallelism
	if parallelism <= 0 {
		parallelism = cfg.Parallelism
	}
	if parallelism <= 0 {
		parallelism = dag.DefaultParallelism()
	}
	var events dag.Events
	if o.asJSON {
		events = report.NewJSONEvents(g.stdout)
	} else {
		events = report.NewTerminalEvents(g.stderr, isTerminal(g.stderr))
	}
	res := dag.Run(ctx, graph, dag.Options{Parallelism: parallelism, Events: events, Logger: g.logger})
	events.Close()
	g.report.executed(p, res)
	if !o.asJSON {
		report.WriteSummary(g.stdout, res)
	}
	return res, nil
}

// confirm asks for 'yes' on standard input.
func (g *globals) confirm() (bool, error) {
	fmt.Fprint(g.stdout, "\nDo you want to perform these actions? Only 'yes' will be accepted: ")
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(g.stdout)
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
func (g *globals) warnUnreachable(p *plan.Plan, unreachable map[string]string) {
	for _, name := range unreachableNames(unreachable) {
		if slices.ContainsFunc(p.Actions, func(a *plan.Action) bool { return a.Store == name || a.FromStore == name }) {
			fmt.Fprintf(g.stderr, "Warning: store.%s cannot be reached now (%s): the plan's work in it will fail; the rest is done.\n", name, unreachable[name])
		}
	}
}
