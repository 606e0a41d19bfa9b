package dag

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ProgressInterval is the minimum time between two StepProgress events of
// one step; the last value is always delivered when the step ends.
const ProgressInterval = 100 * time.Millisecond

// Progress is handed to a running step to report how far it is. Its methods
// are safe for concurrent use, and on a nil *Progress they do nothing (the
// counting Reader and Writer return their argument), so step functions can
// be called directly in tests.
type Progress struct {
	step   Step
	events Events
	logger *slog.Logger

	done  atomic.Int64
	total atomic.Int64

	mu       sync.Mutex
	lastEmit time.Time
	now      func() time.Time
}

func newProgress(s Step, events Events, logger *slog.Logger) *Progress {
	p := &Progress{step: s, events: events, logger: logger, now: time.Now}
	p.total.Store(-1)
	return p
}

// SetTotal sets the number of bytes the step expects to process; call it
// when known. A negative total means unknown.
func (p *Progress) SetTotal(total int64) {
	if p == nil {
		return
	}
	p.total.Store(total)
	p.emit(true)
}

// Add counts n more bytes done.
func (p *Progress) Add(n int64) {
	if p == nil || n == 0 {
		return
	}
	p.done.Add(n)
	p.emit(false)
}

// Done returns the bytes counted so far.
func (p *Progress) Done() int64 {
	if p == nil {
		return 0
	}
	return p.done.Load()
}

// Total returns the expected total, or -1 when unknown.
func (p *Progress) Total() int64 {
	if p == nil {
		return -1
	}
	return p.total.Load()
}

// Logger returns a logger whose records carry the step ID. It never returns
// nil.
func (p *Progress) Logger() *slog.Logger {
	if p == nil || p.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.logger
}

// Writer returns a writer that passes everything to w and counts the bytes
// written.
func (p *Progress) Writer(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return &countingWriter{w: w, p: p}
}

// Reader returns a reader that reads from r and counts the bytes read.
func (p *Progress) Reader(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return &countingReader{r: r, p: p}
}

// emit reports the current values to the events, at most once per
// ProgressInterval unless force is set.
func (p *Progress) emit(force bool) {
	if p.events == nil {
		return
	}
	p.mu.Lock()
	now := p.now()
	if !force && now.Sub(p.lastEmit) < ProgressInterval {
		p.mu.Unlock()
		return
	}
	p.lastEmit = now
	p.mu.Unlock()
	p.events.StepProgress(p.step, p.done.Load(), p.total.Load())
}

// flush delivers the final values when any were counted.
func (p *Progress) flush() {
	if p.done.Load() > 0 || p.total.Load() >= 0 {
		p.emit(true)
	}
}

type countingWriter struct {
	w io.Writer
	p *Progress
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.Add(int64(n))
	return n, err
}

type countingReader struct {
	r io.Reader
	p *Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	return n, err
}
