package dag

import "time"

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
