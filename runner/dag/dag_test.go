package dag

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func ok(context.Context, *Progress) error { return nil }

// mustGraph builds a graph from steps, failing the test on any error.
func mustGraph(t *testing.T, steps ...Step) *Graph {
	t.Helper()
	g := NewGraph()
	for _, s := range steps {
		if s.Run == nil {
			s.Run = ok
		}
		if err := g.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func ids(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.ID)
	}
	return out
}

// statuses maps step ID to status and, for skipped steps, the cause.
func statuses(r *Result) map[string]string {
	out := map[string]string{}
	for _, s := range r.Steps {
		v := string(s.Status)
		if s.SkippedBecause != "" {
			v += " by " + s.SkippedBecause
		}
		out[s.Step.ID] = v
	}
	return out
}

func TestAddErrors(t *testing.T) {
	tests := map[string]struct {
		step Step
		want string
	}{
		"duplicate": {Step{ID: "a", Run: ok}, `add step "a": duplicate ID`},
		"empty ID":  {Step{Run: ok}, "add step: empty ID"},
		"no Run":    {Step{ID: "b"}, `add step "b": no Run function`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := mustGraph(t, Step{ID: "a"})
			err := g.Add(tc.step)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Add: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		steps []Step
		want  string
	}{
		"valid diamond": {
			steps: []Step{{ID: "a"}, {ID: "b", Deps: []string{"a"}}, {ID: "c", Deps: []string{"a"}}, {ID: "d", Deps: []string{"b", "c"}}},
		},
		"unknown dependency": {
			steps: []Step{{ID: "a", Deps: []string{"nope"}}},
			want:  `step "a" depends on unknown step "nope"`,
		},
		"self loop": {
			steps: []Step{{ID: "a", Deps: []string{"a"}}},
			want:  `dependency cycle: "a" -> "a"`,
		},
		"cycle of three behind a valid step": {
			steps: []Step{{ID: "root"}, {ID: "x", Deps: []string{"root", "z"}}, {ID: "y", Deps: []string{"x"}}, {ID: "z", Deps: []string{"y"}}},
			want:  `dependency cycle: "x" -> "y" -> "z" -> "x"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mustGraph(t, tc.steps...).Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStepsTopologicalStable(t *testing.T) {
	g := mustGraph(t,
		Step{ID: "archive", Deps: []string{"dump2", "dump1"}},
		Step{ID: "dump1", Deps: []string{"lock"}},
		Step{ID: "lock"},
		Step{ID: "dump2", Deps: []string{"lock"}},
		Step{ID: "other"},
	)
	want := []string{"lock", "dump1", "dump2", "archive", "other"}
	for range 5 {
		if got := ids(g.Steps()); !slices.Equal(got, want) {
			t.Fatalf("Steps = %v, want %v", got, want)
		}
	}
}

func TestRunDiamond(t *testing.T) {
	var mu sync.Mutex
	var order []string
	record := func(id string) func(context.Context, *Progress) error {
		return func(context.Context, *Progress) error {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			order = append(order, id)
			mu.Unlock()
			return nil
		}
	}
	g := mustGraph(t,
		Step{ID: "d", Deps: []string{"b", "c"}, Run: record("d")},
		Step{ID: "b", Deps: []string{"a"}, Run: record("b")},
		Step{ID: "c", Deps: []string{"a"}, Run: record("c")},
		Step{ID: "a", Run: record("a")},
	)
	r := Run(context.Background(), g, Options{Parallelism: 4})
	if !r.OK() {
		t.Fatalf("run failed: %v", statuses(r))
	}
	if len(order) != 4 || order[0] != "a" || order[3] != "d" {
		t.Errorf("execution order %v: want a first and d last", order)
	}
	if got := ids(stepsOf(r)); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("result order %v, want graph order", got)
	}
	for _, s := range r.Steps {
		if s.Start.IsZero() || s.Duration < 5*time.Millisecond {
			t.Errorf("step %s: start %v duration %v", s.Step.ID, s.Start, s.Duration)
		}
	}
}

func stepsOf(r *Result) []Step {
	var out []Step
	for _, s := range r.Steps {
		out = append(out, s.Step)
	}
	return out
}

func TestRunParallelismBound(t *testing.T) {
	for _, parallelism := range []int{1, 3} {
		t.Run(string(rune('0'+parallelism)), func(t *testing.T) {
			var running, peak atomic.Int32
			work := func(context.Context, *Progress) error {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
				running.Add(-1)
				return nil
			}
			g := NewGraph()
			for i := range 12 {
				if err := g.Add(Step{ID: string(rune('a' + i)), Run: work}); err != nil {
					t.Fatal(err)
				}
			}
			r := Run(context.Background(), g, Options{Parallelism: parallelism})
			if !r.OK() {
				t.Fatal("run failed")
			}
			if got := int(peak.Load()); got != parallelism {
				t.Errorf("at most %d steps ran at once, want exactly %d", got, parallelism)
			}
		})
	}
}

func TestRunFailureSkipsDependentsTransitively(t *testing.T) {
	boom := errors.New("pg_dump: connection refused")
	var cleanupSawFinished atomic.Bool
	var dumpDone atomic.Bool
	g := mustGraph(t,
		Step{ID: "lock"},
		Step{ID: "dump", Deps: []string{"lock"}, Run: func(context.Context, *Progress) error {
			time.Sleep(10 * time.Millisecond)
			dumpDone.Store(true)
			return boom
		}},
		Step{ID: "archive", Deps: []string{"dump"}},
		Step{ID: "upload", Deps: []string{"archive"}},
		Step{ID: "unlock", Deps: []string{"lock", "upload"}, Always: true, Run: func(context.Context, *Progress) error {
			cleanupSawFinished.Store(dumpDone.Load())
			return nil
		}},
		Step{ID: "prune", Deps: []string{"unlock"}},
		Step{ID: "independent"},
		Step{ID: "independent-child", Deps: []string{"independent"}},
	)
	r := Run(context.Background(), g, Options{Parallelism: 2})
	want := map[string]string{
		"lock":              "ok",
		"dump":              "failed",
		"archive":           "skipped by dump",
		"upload":            "skipped by dump",
		"unlock":            "ok",
		"prune":             "skipped by dump",
		"independent":       "ok",
		"independent-child": "ok",
	}
	got := statuses(r)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %s, want %s", id, got[id], w)
		}
	}
	if !cleanupSawFinished.Load() {
		t.Error("Always step ran before its failed ancestor finished")
	}
	if r.OK() {
		t.Error("OK() with a failed step")
	}
	failed := r.Failed()
	if len(failed) != 1 || failed[0].Step.ID != "dump" || !errors.Is(failed[0].Err, boom) {
		t.Errorf("Failed() = %+v, want only dump with its error", failed)
	}
}

func TestRunCancellation(t *testing.T) {
	baseline := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started sync.WaitGroup
	started.Add(2)
	blocking := func(ctx context.Context, _ *Progress) error {
		started.Done()
		<-ctx.Done()
		return ctx.Err()
	}
	var cleanupCtxErr atomic.Value
	g := mustGraph(t,
		Step{ID: "dump1", Run: blocking},
		Step{ID: "dump2", Run: blocking},
		Step{ID: "archive", Deps: []string{"dump1", "dump2"}},
		Step{ID: "waiting"}, // would start third, after a dump finished
		Step{ID: "unlock", Deps: []string{"archive"}, Always: true, Run: func(ctx context.Context, _ *Progress) error {
			cleanupCtxErr.Store(errString(ctx.Err()))
			return nil
		}},
	)
	go func() {
		started.Wait()
		cancel()
	}()
	done := make(chan *Result)
	go func() { done <- Run(ctx, g, Options{Parallelism: 2}) }()
	var r *Result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	want := map[string]string{"dump1": "canceled", "dump2": "canceled", "archive": "canceled", "waiting": "canceled", "unlock": "ok"}
	if got := statuses(r); !equalMaps(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if got := cleanupCtxErr.Load(); got != "" {
		t.Errorf("Always step after cancellation saw ctx error %q, want a live context", got)
	}
	if !r.Canceled() || r.OK() || len(r.Failed()) != 0 {
		t.Errorf("Canceled=%v OK=%v Failed=%d: want canceled, not ok, no failures", r.Canceled(), r.OK(), len(r.Failed()))
	}
	for _, s := range r.Steps {
		if s.Status == StatusCanceled && !errors.Is(s.Err, context.Canceled) {
			t.Errorf("%s: error %v, want context.Canceled", s.Step.ID, s.Err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Errorf("%d goroutines after Run, %d before", n, baseline)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRunCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Bool
	g := mustGraph(t, Step{ID: "a", Run: func(context.Context, *Progress) error { ran.Store(true); return nil }})
	r := Run(ctx, g, Options{})
	if ran.Load() || r.Steps[0].Status != StatusCanceled {
		t.Errorf("ran=%v status=%s, want not run and canceled", ran.Load(), r.Steps[0].Status)
	}
}

func TestRunPanicFailsStep(t *testing.T) {
	g := mustGraph(t,
		Step{ID: "a", Run: func(context.Context, *Progress) error { panic("kaboom") }},
		Step{ID: "b", Deps: []string{"a"}},
	)
	r := Run(context.Background(), g, Options{})
	if got := statuses(r); got["a"] != "failed" || got["b"] != "skipped by a" {
		t.Errorf("statuses %v", got)
	}
	if err := r.Steps[0].Err; err == nil || !strings.HasPrefix(err.Error(), "panic: kaboom") {
		t.Errorf("error %v, want the panic value", err)
	}
}

func TestRunInvalidGraph(t *testing.T) {
	var ran atomic.Bool
	g := mustGraph(t,
		Step{ID: "a", Deps: []string{"b"}, Run: func(context.Context, *Progress) error { ran.Store(true); return nil }},
		Step{ID: "b", Deps: []string{"a"}},
	)
	r := Run(context.Background(), g, Options{})
	if ran.Load() || r.OK() || r.Err == nil || !strings.Contains(r.Err.Error(), "dependency cycle") {
		t.Errorf("ran=%v OK=%v Err=%v: want nothing run and the cycle reported", ran.Load(), r.OK(), r.Err)
	}
}

func TestRunProgressBytes(t *testing.T) {
	g := mustGraph(t, Step{ID: "copy", Run: func(_ context.Context, p *Progress) error {
		p.SetTotal(11)
		w := p.Writer(&bytes.Buffer{})
		if _, err := w.Write([]byte("hello ")); err != nil {
			return err
		}
		_, err := p.Reader(strings.NewReader("world")).Read(make([]byte, 16))
		return err
	}})
	rec := &recordingEvents{}
	r := Run(context.Background(), g, Options{Events: rec})
	if r.Steps[0].Bytes != 11 {
		t.Errorf("Bytes = %d, want 11", r.Steps[0].Bytes)
	}
	last := rec.progress[len(rec.progress)-1]
	if last != [2]int64{11, 11} {
		t.Errorf("last progress event %v, want done 11 of 11", last)
	}
	if !slices.Equal(rec.calls, []string{"started copy", "finished copy ok", "run finished"}) {
		t.Errorf("event calls %v", rec.calls)
	}
}

type recordingEvents struct {
	mu       sync.Mutex
	calls    []string
	progress [][2]int64
}

func (r *recordingEvents) StepStarted(s Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "started "+s.ID)
}

func (r *recordingEvents) StepProgress(_ Step, done, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, [2]int64{done, total})
}

func (r *recordingEvents) StepFinished(res StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "finished "+res.Step.ID+" "+string(res.Status))
}

func (r *recordingEvents) RunFinished(*Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "run finished")
}

func (r *recordingEvents) Close() {}

func TestNilProgress(t *testing.T) {
	var p *Progress
	p.SetTotal(3)
	p.Add(3)
	var buf bytes.Buffer
	if w := p.Writer(&buf); w != &buf {
		t.Error("nil Progress wraps the writer")
	}
	if p.Done() != 0 || p.Total() != -1 || p.Logger() == nil {
		t.Error("nil Progress reports values")
	}
}

// TestGroupIsCarriedUnread checks that a step's Group reaches Events and
// the results as the builder set it, whatever its type.
func TestGroupIsCarriedUnread(t *testing.T) {
	type target struct{ resource, store string }
	g := mustGraph(t,
		Step{ID: "a", Group: target{"app.A", "node"}},
		Step{ID: "b", Deps: []string{"a"}, Run: func(context.Context, *Progress) error { return errors.New("boom") }},
	)
	var mu sync.Mutex
	started := map[string]any{}
	ev := &groupEvents{started: func(s Step) { mu.Lock(); started[s.ID] = s.Group; mu.Unlock() }}
	r := Run(context.Background(), g, Options{Events: ev})
	if started["a"] != (target{"app.A", "node"}) || started["b"] != nil {
		t.Errorf("groups seen by Events: %v", started)
	}
	if r.Steps[0].Step.Group != (target{"app.A", "node"}) || r.Steps[1].Step.Group != nil {
		t.Errorf("groups in the result: %v, %v", r.Steps[0].Step.Group, r.Steps[1].Step.Group)
	}
}

type groupEvents struct{ started func(Step) }

func (e *groupEvents) StepStarted(s Step)              { e.started(s) }
func (e *groupEvents) StepProgress(Step, int64, int64) {}
func (e *groupEvents) StepFinished(StepResult)         {}
func (e *groupEvents) Close()                          {}
