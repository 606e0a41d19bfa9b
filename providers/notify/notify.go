package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kind is the service a Target sends to.
type Kind string

const (
	// Healthchecks pings a healthchecks.io check: URL/start on start, URL
	// on success, URL/fail on failure, with the JSON Summary as body.
	Healthchecks Kind = "healthchecks"
	// Webhook POSTs the JSON Summary with the target's headers.
	Webhook Kind = "webhook"
	// Ntfy POSTs Summary.Text to a topic URL, with Title, Priority and
	// Tags headers and the token as a bearer token.
	Ntfy Kind = "ntfy"
)

// Target is one place notifications go (a notify block).
type Target struct {
	// Name names the target in logs (notify.<Name>).
	Name string
	Kind Kind
	// URL, Headers' values and Token are credentials: never logged.
	URL     string
	Headers map[string]string
	Token   string
	// Host is the URL's host, logged with failures; "" when even the host
	// must not be shown.
	Host string
	// On lists the events the target is sent.
	On []Event
}

// Defaults of Options.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultAttempts = 3
	DefaultBackoff  = 500 * time.Millisecond
)

// Options tune a Notifier; zero values take the defaults.
type Options struct {
	// Timeout bounds one request.
	Timeout time.Duration
	// Attempts is how often a notification is tried: network errors,
	// 429 and 5xx answers are tried again, other answers are final.
	Attempts int
	// Backoff is the pause before the second attempt; it doubles after.
	Backoff time.Duration
	// Client sends the requests; nil means one honouring the proxy
	// environment variables.
	Client *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// Logger receives a warning for every notification not delivered.
	Logger *slog.Logger
}

// Notifier sends Summaries to its targets in the background. Notify never
// blocks; Close waits a bounded time for what is on its way.
type Notifier struct {
	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	workers []*worker
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// worker sends the notifications of one target, in order.
type worker struct {
	t     Target
	queue chan message
}

// message is one Summary, encoded when it was handed over.
type message struct {
	sum  Summary
	json []byte
}

// queueSize is how many notifications may wait per target; a run sends two.
const queueSize = 4

// New starts a Notifier: one goroutine per target, until Close.
func New(targets []Target, opts Options) *Notifier {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{opts: opts}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for _, t := range targets {
		w := &worker{t: t, queue: make(chan message, queueSize)}
		n.workers = append(n.workers, w)
		n.wg.Add(1)
		go n.run(w)
	}
	return n
}

// Notify hands s to every target whose On lists s.Event and returns at
// once. s may be changed afterwards. After Close it does nothing.
func (n *Notifier) Notify(s *Summary) {
	doc, err := json.Marshal(s)
	if err != nil {
		n.opts.Logger.Warn("notification not sent: cannot encode the summary", "err", err)
		return
	}
	m := message{sum: *s, json: doc}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	for _, w := range n.workers {
		if !slices.Contains(w.t.On, s.Event) {
			continue
		}
		select {
		case w.queue <- m:
		default:
			n.warn(w.t, s.Event, 0, errors.New("too many notifications waiting"))
		}
	}
}

// Close waits until every notification handed over was delivered or given
// up, but at most bound; then it stops what is still on its way (each
// logged as not delivered) and returns.
func (n *Notifier) Close(bound time.Duration) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	for _, w := range n.workers {
		close(w.queue)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		n.cancel()
		<-done
	}
	n.cancel()
}

// run delivers w's notifications until its queue is closed.
func (n *Notifier) run(w *worker) {
	defer n.wg.Done()
	for m := range w.queue {
		if n.ctx.Err() != nil {
			n.warn(w.t, m.sum.Event, 0, errGaveUp)
			continue
		}
		attempts, err := n.deliver(w.t, m)
		if err != nil {
			if n.ctx.Err() != nil {
				err = fmt.Errorf("%w (last attempt: %s)", errGaveUp, w.t.redact(err))
			}
			n.warn(w.t, m.sum.Event, attempts, err)
		}
	}
}

// errGaveUp is why notifications still on their way when Close's bound
// passed are not delivered.
var errGaveUp = errors.New("not delivered before planb stopped waiting")

// deliver sends m to t, trying again after network errors and 429 or 5xx
// answers. It returns the number of attempts made.
func (n *Notifier) deliver(t Target, m message) (int, error) {
	backoff := n.opts.Backoff
	var prev error
	for attempt := 1; ; attempt++ {
		err := n.post(t, m)
		if err == nil {
			return attempt, nil
		}
		if n.ctx.Err() != nil && prev != nil {
			// Stopped by Close: the attempt before says more.
			return attempt, prev
		}
		if !retryable(err) || attempt >= n.opts.Attempts || n.ctx.Err() != nil {
			return attempt, err
		}
		prev = err
		select {
		case <-n.ctx.Done():
			return attempt, err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// statusError is an answer outside 2xx.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("the server answered %d %s", e.code, http.StatusText(e.code))
}

// retryable reports whether an attempt that failed with err is worth
// repeating: a network error or timeout, or a 429 or 5xx answer.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code == http.StatusTooManyRequests || se.code >= 500
	}
	return true
}

// post makes one attempt within the request timeout.
func (n *Notifier) post(t Target, m message) error {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.Timeout)
	defer cancel()
	req, err := t.request(ctx, m)
	if err != nil {
		return err
	}
	if n.opts.UserAgent != "" {
		req.Header.Set("User-Agent", n.opts.UserAgent)
	}
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && n.ctx.Err() == nil {
			return fmt.Errorf("no answer within %s", n.opts.Timeout)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

// request builds the HTTP request of m for t's kind.
func (t Target) request(ctx context.Context, m message) (*http.Request, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, errors.New("the URL does not parse")
	}
	body, contentType := m.json, "application/json"
	switch t.Kind {
	case Healthchecks:
		switch m.sum.Event {
		case EventStart:
			u = u.JoinPath("start")
		case EventFailure:
			u = u.JoinPath("fail")
		}
	case Ntfy:
		body, contentType = []byte(m.sum.Text), "text/plain; charset=utf-8"
	case Webhook:
	default:
		return nil, fmt.Errorf("unknown kind %q", t.Kind)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("the request cannot be made from the URL")
	}
	req.Header.Set("Content-Type", contentType)
	switch t.Kind {
	case Webhook:
		for k, v := range t.Headers {
			req.Header.Set(k, v)
		}
	case Ntfy:
		req.Header.Set("Title", m.sum.Title())
		req.Header.Set("Priority", ntfyPriority[m.sum.Event])
		req.Header.Set("Tags", ntfyTags[m.sum.Event])
		if t.Token != "" {
			req.Header.Set("Authorization", "Bearer "+t.Token)
		}
	}
	return req, nil
}

// ntfy's priority and tags (shown as emoji) per event.
var (
	ntfyPriority = map[Event]string{EventStart: "default", EventSuccess: "default", EventFailure: "high"}
	ntfyTags     = map[Event]string{EventStart: "arrow_forward", EventSuccess: "white_check_mark", EventFailure: "rotating_light"}
)

// warn logs a notification that was not delivered: the target's name and
// host, never its URL, headers or token.
func (n *Notifier) warn(t Target, ev Event, attempts int, err error) {
	args := []any{"notify", "notify." + t.Name}
	if t.Host != "" {
		args = append(args, "host", t.Host)
	}
	args = append(args, "event", string(ev))
	if attempts > 0 {
		args = append(args, "attempts", attempts)
	}
	args = append(args, "err", t.redact(err))
	n.opts.Logger.Warn("notification not delivered", args...)
}

// redact is err's message without the request's URL (net/http quotes it)
// and without any of t's credentials.
func (t Target) redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	secrets := []string{t.URL, t.Token}
	if u, perr := url.Parse(t.URL); perr == nil {
		secrets = append(secrets, u.EscapedPath(), u.Path, u.RawQuery, u.User.String(), u.User.Username())
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		secrets = append(secrets, strings.Split(u.Path, "/")...)
		for _, vs := range u.Query() {
			secrets = append(secrets, vs...)
		}
		if t.Host == "" {
			secrets = append(secrets, u.Host, u.Hostname())
		}
	}
	for _, v := range t.Headers {
		secrets = append(secrets, v)
	}
	// Longest first, so that a part of a longer secret leaves no tail.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(strings.TrimLeft(s, "/")) >= 3 {
			msg = strings.ReplaceAll(msg, s, "(sensitive)")
		}
	}
	return msg
}
