package runner

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Step is one unit of work in a Graph.
type Step struct {
	// ID identifies the step uniquely within its graph, e.g.
	// "application.MAINFRAME/dump/mainframe_mngt".
	ID string
	// Label is the human description shown in progress and summaries,
	// e.g. "dump schema mainframe_mngt". The ID is shown when it is empty.
	Label string
	// Resource is the address the step belongs to (for summaries, clusters
	// in the DOT output and metrics); it may be empty.
	Resource string
	// Store is the name of the store the step writes to; it may be empty.
	Store string
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

func (s Step) name() string {
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

// WriteDOT writes the graph in Graphviz DOT: one box per step labelled with
// its Label, steps of the same Resource grouped in a cluster labelled with
// the resource, and an edge from each dependency to its dependent. The output
// is deterministic. The graph must be valid.
func (g *Graph) WriteDOT(w io.Writer) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("write graph: %w", err)
	}
	steps := g.Steps()
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph planb {")
	fmt.Fprintln(bw, "\trankdir=LR;")
	fmt.Fprintln(bw, "\tnode [shape=box];")
	var resources []string
	byResource := map[string][]Step{}
	for _, s := range steps {
		if _, seen := byResource[s.Resource]; !seen {
			resources = append(resources, s.Resource)
		}
		byResource[s.Resource] = append(byResource[s.Resource], s)
	}
	cluster := 0
	for _, r := range resources {
		indent := "\t"
		if r != "" {
			fmt.Fprintf(bw, "\tsubgraph cluster_%d {\n\t\tlabel=%s;\n", cluster, dotQuote(r))
			cluster++
			indent = "\t\t"
		}
		for _, s := range byResource[r] {
			fmt.Fprintf(bw, "%s%s [label=%s];\n", indent, dotQuote(s.ID), dotQuote(s.name()))
		}
		if r != "" {
			fmt.Fprintln(bw, "\t}")
		}
	}
	for _, s := range steps {
		for _, d := range s.Deps {
			fmt.Fprintf(bw, "\t%s -> %s;\n", dotQuote(d), dotQuote(s.ID))
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write graph: %w", err)
	}
	return nil
}

// dotQuote returns s as a DOT double-quoted string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

// Options configures Run.
type Options struct {
	// Parallelism bounds the number of steps running at once. Zero or less
	// means the number of CPUs, at least 2.
	Parallelism int
	// Events receives step starts, progress and results; nil discards them.
	// Run does not close it.
	Events Events
	// Logger receives a debug record per step start and finish (Events are
	// the user-facing report); nil discards. Steps get it, with the step ID
	// attached, through Progress.Logger.
	Logger *slog.Logger
	// CleanupTimeout bounds each Always step that starts after the context
	// of Run was cancelled; such steps get a context that is not cancelled
	// with ctx but expires after this duration. Zero means one minute.
	CleanupTimeout time.Duration
}

// DefaultParallelism is the parallelism used when Options.Parallelism is
// not positive: the number of CPUs, at least 2.
func DefaultParallelism() int {
	return max(runtime.NumCPU(), 2)
}

// Status is the outcome of one step.
type Status string

// Step outcomes.
const (
	StatusOK       Status = "ok"
	StatusFailed   Status = "failed"
	StatusSkipped  Status = "skipped"  // a dependency failed
	StatusCanceled Status = "canceled" // Run's context was cancelled
)

// StepResult is the outcome of one step.
type StepResult struct {
	Step   Step
	Status Status
	// Err is the error returned by Run (failed or canceled steps), nil
	// otherwise.
	Err error
	// Start is when the step started; zero for steps that never ran.
	Start    time.Time
	Duration time.Duration
	// Bytes is what the step reported through Progress.Add and the
	// counting Reader and Writer.
	Bytes int64
	// SkippedBecause is the ID of the failed step that caused this one to
	// be skipped: the original failure, not an intermediate skipped step.
	SkippedBecause string
}

// Result is the outcome of Run.
type Result struct {
	// Steps holds one result per step, in the order of Graph.Steps.
	Steps []StepResult
	// Duration is the wall time of the whole run.
	Duration time.Duration
	// Err is set when the graph could not be run at all (it is invalid);
	// no step ran then and all are reported skipped.
	Err error
}

// Failed returns the results of the steps that failed, in graph order.
// Skipped and canceled steps are not included.
func (r *Result) Failed() []StepResult {
	var out []StepResult
	for _, s := range r.Steps {
		if s.Status == StatusFailed {
			out = append(out, s)
		}
	}
	return out
}

// OK reports whether every step succeeded.
func (r *Result) OK() bool {
	if r.Err != nil {
		return false
	}
	for _, s := range r.Steps {
		if s.Status != StatusOK {
			return false
		}
	}
	return true
}

// Canceled reports whether any step was canceled.
func (r *Result) Canceled() bool {
	for _, s := range r.Steps {
		if s.Status == StatusCanceled {
			return true
		}
	}
	return false
}

// Counts returns the number of steps per status.
func (r *Result) Counts() map[Status]int {
	out := map[Status]int{}
	for _, s := range r.Steps {
		out[s.Status]++
	}
	return out
}

// WriteSummary writes the end-of-run summary: a line with the counts per
// status, then each failure once with its error, followed by the steps that
// were skipped because of it. Skipped steps are never listed as failures.
func (r *Result) WriteSummary(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if r.Err != nil {
		fmt.Fprintf(bw, "Nothing was run: %v\n", r.Err)
		return
	}
	c := r.Counts()
	parts := []string{fmt.Sprintf("%d ok", c[StatusOK])}
	for _, st := range []Status{StatusFailed, StatusSkipped, StatusCanceled} {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
		}
	}
	fmt.Fprintf(bw, "%s in %s: %s.\n", plural(len(r.Steps), "step"), roundDuration(r.Duration), strings.Join(parts, ", "))
	skippedBy := map[string][]StepResult{}
	for _, s := range r.Steps {
		if s.Status == StatusSkipped {
			skippedBy[s.SkippedBecause] = append(skippedBy[s.SkippedBecause], s)
		}
	}
	for _, f := range r.Failed() {
		fmt.Fprintf(bw, "\nFailed: %s", f.Step.name())
		if f.Step.name() != f.Step.ID {
			fmt.Fprintf(bw, " [%s]", f.Step.ID)
		}
		fmt.Fprintf(bw, "\n%s\n", indent(fmt.Sprint(f.Err), "  "))
		if skipped := skippedBy[f.Step.ID]; len(skipped) > 0 {
			fmt.Fprintf(bw, "  Skipped because of it (%d):\n", len(skipped))
			for _, s := range skipped {
				fmt.Fprintf(bw, "    - %s\n", s.Step.name())
			}
		}
	}
	if n := c[StatusCanceled]; n > 0 {
		fmt.Fprintf(bw, "\nInterrupted: %s canceled.\n", plural(n, "step"))
	}
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// roundDuration keeps summaries readable: milliseconds below a second,
// tenths of a second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// Run executes the graph. Steps whose dependencies have finished start in
// graph order, at most opts.Parallelism at a time, each in its own
// goroutine. A failed step marks its dependents skipped, transitively, while
// independent branches go on; Always steps run regardless once their
// dependencies have finished.
//
// Cancelling ctx (SIGINT) stops launching steps: steps that have not started
// are canceled, running steps see ctx cancelled and Run waits for them; a
// step returning an error after the cancellation is canceled, not failed.
// Always steps still run, see Options.CleanupTimeout. Run returns only when
// no step goroutine is left. A panicking step fails with the panic value.
func Run(ctx context.Context, g *Graph, opts Options) *Result {
	start := time.Now()
	events := opts.Events
	if events == nil {
		events = nopEvents{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	parallelism := opts.Parallelism
	if parallelism <= 0 {
		parallelism = DefaultParallelism()
	}
	cleanupTimeout := opts.CleanupTimeout
	if cleanupTimeout <= 0 {
		cleanupTimeout = time.Minute
	}

	if err := g.Validate(); err != nil {
		res := &Result{Err: fmt.Errorf("invalid step graph: %w", err)}
		for _, s := range g.steps {
			res.Steps = append(res.Steps, StepResult{Step: s, Status: StatusSkipped})
		}
		res.Duration = time.Since(start)
		finishRun(events, res)
		return res
	}

	order := g.order()
	rank := make([]int, len(g.steps)) // position in order, for stable launching
	for pos, i := range order {
		rank[i] = pos
	}
	s := &scheduler{
		g:          g,
		events:     events,
		logger:     logger,
		results:    make([]StepResult, len(g.steps)),
		pending:    make([]int, len(g.steps)),
		taint:      make([]string, len(g.steps)),
		dependents: g.dependents(),
		ready:      &indexHeap{less: func(a, b int) bool { return rank[a] < rank[b] }},
		done:       make(chan stepDone),
	}
	for i, st := range g.steps {
		s.pending[i] = len(st.Deps)
		if s.pending[i] == 0 {
			s.ready.push(i)
		}
	}

	running := 0
	remaining := len(g.steps)
	for remaining > 0 {
		canceled := ctx.Err() != nil
		// Settle what can be decided without running anything: skipped
		// dependents and, after cancellation, every step that is not Always.
		// Settling may make more steps ready, hence the loop.
		for {
			settle := s.ready.removeIf(func(i int) bool {
				return !g.steps[i].Always && (canceled || s.taint[i] != "")
			})
			if len(settle) == 0 {
				break
			}
			for _, i := range settle {
				if canceled {
					s.finish(i, StepResult{Step: g.steps[i], Status: StatusCanceled, Err: context.Cause(ctx)})
				} else {
					s.finish(i, StepResult{Step: g.steps[i], Status: StatusSkipped, SkippedBecause: s.taint[i]})
				}
				remaining--
			}
		}
		for running < parallelism && s.ready.len() > 0 {
			i := s.ready.pop()
			stepCtx, cancel := ctx, context.CancelFunc(func() {})
			if canceled {
				stepCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			}
			s.launch(stepCtx, cancel, i)
			running++
		}
		if remaining == 0 {
			break
		}
		if running == 0 {
			// Unreachable for a valid graph: every unfinished step that is
			// not running waits for an unfinished dependency.
			panic("runner: steps left but none running or ready")
		}
		var d stepDone
		if canceled {
			d = <-s.done
		} else {
			select {
			case d = <-s.done:
			case <-ctx.Done():
				continue
			}
		}
		running--
		remaining--
		s.finish(d.index, d.result)
	}
	res := &Result{Duration: time.Since(start)}
	for _, i := range order {
		res.Steps = append(res.Steps, s.results[i])
	}
	finishRun(events, res)
	return res
}

func finishRun(events Events, res *Result) {
	if rf, ok := events.(RunFinisher); ok {
		rf.RunFinished(res)
	}
}

type stepDone struct {
	index  int
	result StepResult
}

// scheduler holds Run's bookkeeping; only Run's goroutine touches it.
type scheduler struct {
	g          *Graph
	events     Events
	logger     *slog.Logger
	results    []StepResult
	pending    []int    // unfinished dependencies per step
	taint      []string // ID of the failure upstream of a step, "" if none
	dependents [][]int
	ready      *indexHeap
	done       chan stepDone
}

// launch starts step i in a goroutine that reports on s.done.
func (s *scheduler) launch(ctx context.Context, cancel context.CancelFunc, i int) {
	st := s.g.steps[i]
	s.events.StepStarted(st)
	s.logger.Debug("step started", "step", st.ID, "label", st.Label)
	go func() {
		defer cancel()
		p := newProgress(st, s.events, s.logger.With("step", st.ID))
		start := time.Now()
		err := runStep(ctx, st, p)
		r := StepResult{Step: st, Status: StatusOK, Start: start, Duration: time.Since(start), Bytes: p.Done()}
		if err != nil {
			r.Err = err
			r.Status = StatusFailed
			if ctx.Err() != nil {
				r.Status = StatusCanceled
			}
		}
		p.flush()
		s.done <- stepDone{index: i, result: r}
	}()
}

// runStep calls st.Run, turning a panic into an error.
func runStep(ctx context.Context, st Step, p *Progress) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return st.Run(ctx, p)
}

// finish records the result of step i and makes dependents ready whose
// dependencies have all finished.
func (s *scheduler) finish(i int, r StepResult) {
	s.results[i] = r
	switch r.Status {
	case StatusFailed:
		s.taint[i] = r.Step.ID
	case StatusCanceled:
		if s.taint[i] == "" {
			s.taint[i] = r.Step.ID
		}
	}
	attrs := []any{"step", r.Step.ID, "status", r.Status, "duration", r.Duration, "bytes", r.Bytes}
	switch r.Status {
	case StatusFailed, StatusCanceled:
		attrs = append(attrs, "error", r.Err)
	case StatusSkipped:
		attrs = append(attrs, "because", r.SkippedBecause)
	}
	s.logger.Debug("step finished", attrs...)
	s.events.StepFinished(r)
	for _, j := range s.dependents[i] {
		if s.taint[j] == "" && s.taint[i] != "" {
			s.taint[j] = s.taint[i]
		}
		s.pending[j]--
		if s.pending[j] == 0 {
			s.ready.push(j)
		}
	}
}

// indexHeap is a min-heap of step indexes ordered by less (plain < when
// nil).
type indexHeap struct {
	items []int
	less  func(a, b int) bool
}

func (h *indexHeap) Len() int { return len(h.items) }
func (h *indexHeap) Less(a, b int) bool {
	if h.less == nil {
		return h.items[a] < h.items[b]
	}
	return h.less(h.items[a], h.items[b])
}
func (h *indexHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *indexHeap) Push(x any)    { h.items = append(h.items, x.(int)) }
func (h *indexHeap) Pop() any {
	i := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return i
}

func (h *indexHeap) len() int   { return len(h.items) }
func (h *indexHeap) push(i int) { heap.Push(h, i) }
func (h *indexHeap) pop() int   { return heap.Pop(h).(int) }

// removeIf removes and returns, in heap order, the items for which match is
// true.
func (h *indexHeap) removeIf(match func(int) bool) []int {
	var take []int
	h.items = slices.DeleteFunc(h.items, func(i int) bool {
		if match(i) {
			take = append(take, i)
			return true
		}
		return false
	})
	if len(take) == 0 {
		return nil
	}
	heap.Init(h)
	th := &indexHeap{items: take, less: h.less}
	heap.Init(th)
	out := make([]int, 0, len(take))
	for th.len() > 0 {
		out = append(out, th.pop())
	}
	return out
}
