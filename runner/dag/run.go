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
