package dag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Step is one unit of work in a Graph.
type Step struct {
	// ID identifies the step uniquely within its graph, e.g.
	// "application.MAINFRAME/dump/mainframe_mngt".
	ID string
	// Label is the human description shown in progress and summaries,
	// e.g. "dump schema mainframe_mngt". The ID is shown when it is empty.
	Label string
	// Group is opaque to the executor: the graph's builder attaches it to
	// say what the step belongs to and interprets it again when reading
	// results and events (planb's runner: the resource and store the step
	// works on). Run hands it on unchanged; it may be nil.
	Group any
	// Deps lists the IDs of the steps that must finish first. Unless Always
	// is set, all of them must also have succeeded.
	Deps []string
	// Run does the work. It must return soon after ctx is cancelled and
	// report what it transferred through p.
	Run func(ctx context.Context, p *Progress) error
	// Always makes the step run even when a dependency failed, was skipped
	// or was canceled (cleanup such as "after" hooks and lock release). It
	// still waits for all its dependencies to finish. Always steps also
	// start after Run's context was cancelled, with a context of their own,
	// see Options.CleanupTimeout; one already running when the cancellation
	// comes sees it like any other step.
	Always bool
}

// Name is what outputs call the step: its Label, or its ID when the label
// is empty.
func (s Step) Name() string {
	if s.Label != "" {
		return s.Label
	}
	return s.ID
}

// Graph is a set of steps and their dependencies. Build it with NewGraph and
// Add; it is not safe for concurrent modification.
type Graph struct {
	steps []Step
	index map[string]int
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{index: map[string]int{}}
}

// Add adds a step. Dependencies may name steps that are added later; Validate
// checks that they all exist. An empty or duplicate ID, or a nil Run, is an
// error.
func (g *Graph) Add(s Step) error {
	switch {
	case s.ID == "":
		return errors.New("add step: empty ID")
	case s.Run == nil:
		return fmt.Errorf("add step %q: no Run function", s.ID)
	}
	if _, dup := g.index[s.ID]; dup {
		return fmt.Errorf("add step %q: duplicate ID", s.ID)
	}
	s.Deps = slices.Clone(s.Deps)
	g.index[s.ID] = len(g.steps)
	g.steps = append(g.steps, s)
	return nil
}

// Len returns the number of steps.
func (g *Graph) Len() int { return len(g.steps) }

// Validate reports dependencies on unknown steps, steps depending on
// themselves and cycles. A cycle error names every step on it in order,
// e.g. `dependency cycle: "a" -> "b" -> "a"`.
func (g *Graph) Validate() error {
	var errs []error
	for _, s := range g.steps {
		for _, d := range s.Deps {
			if _, ok := g.index[d]; !ok {
				errs = append(errs, fmt.Errorf("step %q depends on unknown step %q", s.ID, d))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if cycle := g.findCycle(); cycle != nil {
		quoted := make([]string, len(cycle))
		for i, id := range cycle {
			quoted[i] = fmt.Sprintf("%q", id)
		}
		return fmt.Errorf("dependency cycle: %s", strings.Join(quoted, " -> "))
	}
	return nil
}

// findCycle returns the IDs of one cycle, first step repeated at the end, or
// nil. It searches in insertion order so the reported cycle is stable.
func (g *Graph) findCycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.steps))
	var stack []int
	var found []string
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range g.steps[i].Deps {
			j, ok := g.index[d]
			if !ok {
				continue
			}
			switch color[j] {
			case grey:
				start := slices.Index(stack, j)
				for _, k := range stack[start:] {
					found = append(found, g.steps[k].ID)
				}
				// Deps point backwards (step -> dependency); report the
				// cycle in execution order, dependency first, starting
				// with the step added first.
				slices.Reverse(found)
				first := 0
				for k, id := range found {
					if g.index[id] < g.index[found[first]] {
						first = k
					}
				}
				found = append(found[first:], found[:first]...)
				found = append(found, found[0])
				return true
			case white:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range g.steps {
		if color[i] == white && visit(i) {
			return found
		}
	}
	return nil
}

// order returns step indexes in topological order: among the steps whose
// dependencies are all placed, the one added first comes first. It assumes a
// valid graph.
func (g *Graph) order() []int {
	pending := make([]int, len(g.steps))
	dependents := g.dependents()
	for i, s := range g.steps {
		pending[i] = len(s.Deps)
	}
	ready := &indexHeap{}
	for i := range g.steps {
		if pending[i] == 0 {
			ready.push(i)
		}
	}
	out := make([]int, 0, len(g.steps))
	for ready.len() > 0 {
		i := ready.pop()
		out = append(out, i)
		for _, j := range dependents[i] {
			pending[j]--
			if pending[j] == 0 {
				ready.push(j)
			}
		}
	}
	return out
}

// dependents maps each step index to the indexes of the steps depending on
// it, once per dependency edge.
func (g *Graph) dependents() [][]int {
	out := make([][]int, len(g.steps))
	for i, s := range g.steps {
		for _, d := range s.Deps {
			if j, ok := g.index[d]; ok {
				out[j] = append(out[j], i)
			}
		}
	}
	return out
}

// Steps returns the steps in topological order; ties are broken by the order
// in which they were added, so the result is stable. It returns them in
// insertion order when the graph is invalid.
func (g *Graph) Steps() []Step {
	if g.Validate() != nil {
		return slices.Clone(g.steps)
	}
	out := make([]Step, 0, len(g.steps))
	for _, i := range g.order() {
		out = append(out, g.steps[i])
	}
	return out
}
