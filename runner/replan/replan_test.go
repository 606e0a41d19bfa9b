package replan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/dag"
)

// step is the result of a step of resource that ended with status and err.
func step(resource string, status dag.Status, err error) dag.StepResult {
	return dag.StepResult{
		Step:   dag.Step{ID: resource + "/x", Group: runner.Target{Resource: resource, Store: "local"}},
		Status: status, Err: err,
	}
}

// stale is a step that found its store folder changed.
func stale(resource string) dag.StepResult {
	return step(resource, dag.StatusFailed, fmt.Errorf("%w: the folder changed", plan.ErrStale))
}

// changes is a plan with one action.
func changes() *plan.Plan {
	return &plan.Plan{Actions: []*plan.Action{{Type: plan.Backup, Resource: "application.a", Store: "local"}}}
}

func TestStaleResources(t *testing.T) {
	failed := []dag.StepResult{
		stale("application.b"),
		step("application.c", dag.StatusFailed, errors.New("dump failed")),
		stale("application.a"),
		stale("application.b"),
		stale(""),
	}
	if got := StaleResources(failed); !slices.Equal(got, []string{"application.b", "application.a"}) {
		t.Errorf("stale resources %v", got)
	}
}

func TestRunPlansAgainWhatChanged(t *testing.T) {
	var runs []*plan.Plan
	var replanned []string
	second := changes()
	a := Apply{
		Execute: func(ctx context.Context, p Planned) (*dag.Result, error) {
			runs = append(runs, p.Plan)
			if len(runs) == 1 {
				return &dag.Result{Steps: []dag.StepResult{
					stale("application.a"),
					step("application.c", dag.StatusFailed, errors.New("dump failed")),
				}}, nil
			}
			return &dag.Result{Steps: []dag.StepResult{step("application.a", dag.StatusOK, nil)}}, nil
		},
		Replan: func(ctx context.Context, addrs []string) (Planned, error) {
			replanned = append(replanned, addrs...)
			return Planned{Plan: second}, nil
		},
	}
	out, err := a.Run(context.Background(), Planned{Plan: changes()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(replanned, []string{"application.a"}) || len(runs) != 2 || runs[1] != second {
		t.Fatalf("replanned %v, %d runs", replanned, len(runs))
	}
	if len(out.Failed) != 1 || runner.TargetOf(out.Failed[0].Step).Resource != "application.c" {
		t.Errorf("failed %+v: the stale step is replaced by the second run, the other failure stays", out.Failed)
	}
	if out.Canceled {
		t.Error("canceled")
	}
}

func TestRunWithoutReplanKeepsStaleFailures(t *testing.T) {
	runs := 0
	a := Apply{Execute: func(ctx context.Context, p Planned) (*dag.Result, error) {
		runs++
		return &dag.Result{Steps: []dag.StepResult{stale("application.a")}}, nil
	}}
	out, err := a.Run(context.Background(), Planned{Plan: changes()})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 1 || len(out.Failed) != 1 || !errors.Is(out.Failed[0].Err, plan.ErrStale) {
		t.Errorf("a saved plan runs once and fails stale: %d runs, %+v", runs, out.Failed)
	}
}

func TestRunReplanWithoutChangesRunsNothing(t *testing.T) {
	runs := 0
	a := Apply{
		Execute: func(ctx context.Context, p Planned) (*dag.Result, error) {
			runs++
			return &dag.Result{Steps: []dag.StepResult{stale("application.a")}}, nil
		},
		Replan: func(ctx context.Context, addrs []string) (Planned, error) {
			return Planned{Plan: &plan.Plan{}}, nil
		},
	}
	out, err := a.Run(context.Background(), Planned{Plan: changes()})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 1 || len(out.Failed) != 0 {
		t.Errorf("another apply did the work: %d runs, failed %+v", runs, out.Failed)
	}
}

func TestRunNotPlannedAgainOnceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := Apply{
		Execute: func(ctx context.Context, p Planned) (*dag.Result, error) {
			return &dag.Result{Steps: []dag.StepResult{stale("application.a"), step("application.b", dag.StatusCanceled, context.Canceled)}}, nil
		},
		Replan: func(ctx context.Context, addrs []string) (Planned, error) {
			t.Error("planned again after cancellation")
			return Planned{}, nil
		},
	}
	out, err := a.Run(ctx, Planned{Plan: changes()})
	if err != nil || !out.Canceled {
		t.Errorf("cancelled run: %+v (%v)", out, err)
	}
}

func TestRunReplanError(t *testing.T) {
	a := Apply{
		Execute: func(ctx context.Context, p Planned) (*dag.Result, error) {
			return &dag.Result{Steps: []dag.StepResult{stale("application.a")}}, nil
		},
		Replan: func(ctx context.Context, addrs []string) (Planned, error) {
			return Planned{}, errors.New("store.local: list: gone")
		},
	}
	if _, err := a.Run(context.Background(), Planned{Plan: changes()}); err == nil || err.Error() != "store.local: list: gone" {
		t.Errorf("replan error: %v", err)
	}
}
