package dag

// Events receives what happens during Run. StepStarted and StepFinished are
// called from Run's goroutine, StepProgress from the step's goroutine, so
// implementations must be safe for concurrent use. Close ends the output
// (stops progress bars); Run never calls it, its creator does.
type Events interface {
	StepStarted(s Step)
	// StepProgress reports bytes done and the expected total (-1 when
	// unknown). Run throttles it to a few calls per second per step.
	StepProgress(s Step, done, total int64)
	StepFinished(r StepResult)
	Close()
}

// RunFinisher is implemented by Events that report the end of the whole
// run; Run calls RunFinished once, after the last StepFinished.
type RunFinisher interface {
	RunFinished(r *Result)
}

type nopEvents struct{}

func (nopEvents) StepStarted(Step)                {}
func (nopEvents) StepProgress(Step, int64, int64) {}
func (nopEvents) StepFinished(StepResult)         {}
func (nopEvents) Close()                          {}
