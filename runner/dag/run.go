package dag

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"
)

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
	opts = opts.withDefaults()
	if err := g.Validate(); err != nil {
		res := &Result{Err: fmt.Errorf("invalid step graph: %w", err)}
		for _, s := range g.steps {
			res.Steps = append(res.Steps, StepResult{Step: s, Status: StatusSkipped})
		}
		res.Duration = time.Since(start)
		return finishRun(opts.Events, res)
	}
	order := g.order()
	s := newScheduler(g, order, opts)
	s.run(ctx)
	res := &Result{Duration: time.Since(start)}
	for _, i := range order {
		res.Steps = append(res.Steps, s.results[i])
	}
	return finishRun(opts.Events, res)
}

// withDefaults returns opts with its zero fields set to what they mean.
func (opts Options) withDefaults() Options {
	if opts.Events == nil {
		opts.Events = nopEvents{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism()
	}
	if opts.CleanupTimeout <= 0 {
		opts.CleanupTimeout = time.Minute
	}
	return opts
}

// finishRun reports the end of the run to events that want it and returns
// res.
func finishRun(events Events, res *Result) *Result {
	if rf, ok := events.(RunFinisher); ok {
		rf.RunFinished(res)
	}
	return res
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

	parallelism    int
	cleanupTimeout time.Duration
	running        int // steps launched and not finished
	remaining      int // steps not finished
}

// newScheduler prepares the run of g: steps become ready in order, the
// graph's topological order.
func newScheduler(g *Graph, order []int, opts Options) *scheduler {
	rank := make([]int, len(g.steps)) // position in order, for stable launching
	for pos, i := range order {
		rank[i] = pos
	}
	s := &scheduler{
		g:              g,
		events:         opts.Events,
		logger:         opts.Logger,
		results:        make([]StepResult, len(g.steps)),
		pending:        make([]int, len(g.steps)),
		taint:          make([]string, len(g.steps)),
		dependents:     g.dependents(),
		ready:          &indexHeap{less: func(a, b int) bool { return rank[a] < rank[b] }},
		done:           make(chan stepDone),
		parallelism:    opts.Parallelism,
		cleanupTimeout: opts.CleanupTimeout,
		remaining:      len(g.steps),
	}
	for i, st := range g.steps {
		s.pending[i] = len(st.Deps)
		if s.pending[i] == 0 {
			s.ready.push(i)
		}
	}
	return s
}

// run settles, launches and collects steps until every step finished.
func (s *scheduler) run(ctx context.Context) {
	for s.remaining > 0 {
		canceled := ctx.Err() != nil
		s.settle(ctx, canceled)
		s.launchReady(ctx, canceled)
		if s.remaining == 0 {
			return
		}
		if s.running == 0 {
			// Unreachable for a valid graph: every unfinished step that is
			// not running waits for an unfinished dependency.
			panic("dag: steps left but none running or ready")
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
		s.running--
		s.remaining--
		s.finish(d.index, d.result)
	}
}

// settle finishes what can be decided without running anything: skipped
// dependents of a failure and, after cancellation, every ready step that is
// not Always. Settling may make more steps ready, hence the loop.
func (s *scheduler) settle(ctx context.Context, canceled bool) {
	for {
		settle := s.ready.removeIf(func(i int) bool {
			return !s.g.steps[i].Always && (canceled || s.taint[i] != "")
		})
		if len(settle) == 0 {
			return
		}
		for _, i := range settle {
			if canceled {
				s.finish(i, StepResult{Step: s.g.steps[i], Status: StatusCanceled, Err: context.Cause(ctx)})
			} else {
				s.finish(i, StepResult{Step: s.g.steps[i], Status: StatusSkipped, SkippedBecause: s.taint[i]})
			}
			s.remaining--
		}
	}
}

// launchReady starts ready steps up to the parallelism; after cancellation
// (only Always steps are left ready then) each gets a context of its own
// that expires after the cleanup timeout.
func (s *scheduler) launchReady(ctx context.Context, canceled bool) {
	for s.running < s.parallelism && s.ready.len() > 0 {
		i := s.ready.pop()
		stepCtx, cancel := ctx, context.CancelFunc(func() {})
		if canceled {
			stepCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.cleanupTimeout)
		}
		s.launch(stepCtx, cancel, i)
		s.running++
	}
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
