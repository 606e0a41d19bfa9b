package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// received is one request a test server got.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// receiver is a test server that records requests and answers with the
// codes of answer in turn (200 once they run out).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer []int
}

func newReceiver(t *testing.T, answer ...int) *receiver {
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Method, req.URL.RequestURI(), req.Header.Clone(), body})
		code := http.StatusOK
		if len(r.answer) > 0 {
			code, r.answer = r.answer[0], r.answer[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// logBuffer collects log lines; slog's handlers serialise their writes.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// run sends the start and end of an apply that ended with exit code, and
// waits at most bound.
func run(targets []Target, opts Options, code int, bound time.Duration) *Summary {
	n := New(targets, opts)
	s := NewSummary("apply", "node-a", "1.2.3", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	s.Text = "planb apply started on node-a"
	n.Notify(s)
	s.Finish(s.Started.Add(3*time.Second), code)
	s.Text = fmt.Sprintf("planb apply on node-a ended with exit code %d", code)
	if code != 0 {
		s.AddFailure(Failure{Step: "application.shop/dump", Label: "dump schema shop_mngt", Resource: "application.shop", Store: "node", Error: `schema "shop_mngt" does not exist`})
	}
	n.Notify(s)
	n.Close(bound)
	return s
}

func TestHealthchecksPings(t *testing.T) {
	all := []Event{EventStart, EventSuccess, EventFailure}
	for name, tc := range map[string]struct {
		code int
		want []string
	}{
		"success":     {0, []string{"/ping/uuid-1/start", "/ping/uuid-1"}},
		"failure":     {1, []string{"/ping/uuid-1/start", "/ping/uuid-1/fail"}},
		"interrupted": {130, []string{"/ping/uuid-1/start", "/ping/uuid-1/fail"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newReceiver(t)
			run([]Target{{Name: "hc", Kind: Healthchecks, URL: r.srv.URL + "/ping/uuid-1", On: all}}, Options{UserAgent: "planb/1.2.3"}, tc.code, 5*time.Second)
			got := r.requests()
			var paths []string
			for _, g := range got {
				paths = append(paths, g.method+" "+g.path)
			}
			if want := "POST " + tc.want[0] + " POST " + tc.want[1]; strings.Join(paths, " ") != want {
				t.Fatalf("pings %q, want %s", paths, want)
			}
			var doc map[string]any
			if err := json.Unmarshal(got[1].body, &doc); err != nil {
				t.Fatalf("end ping body is not JSON: %v\n%s", err, got[1].body)
			}
			if doc["version"] != 1.0 || doc["command"] != "apply" || doc["exit_code"] != float64(tc.code) {
				t.Errorf("end ping body: %s", got[1].body)
			}
			if got[0].header.Get("User-Agent") != "planb/1.2.3" || got[0].header.Get("Content-Type") != "application/json" {
				t.Errorf("headers: %v", got[0].header)
			}
		})
	}
}

// A healthchecks URL with a query keeps it: /start goes into the path.
func TestHealthchecksURLWithQuery(t *testing.T) {
	r := newReceiver(t)
	run([]Target{{Name: "hc", Kind: Healthchecks, URL: r.srv.URL + "/key/slug?create=1", On: []Event{EventStart, EventFailure}}}, Options{}, 1, 5*time.Second)
	got := r.requests()
	if len(got) != 2 || got[0].path != "/key/slug/start?create=1" || got[1].path != "/key/slug/fail?create=1" {
		t.Fatalf("pings: %+v", got)
	}
}

func TestWebhookPostsJSONWithHeaders(t *testing.T) {
	r := newReceiver(t)
	run([]Target{{
		Name: "chat", Kind: Webhook, URL: r.srv.URL + "/hooks/abc?key=k",
		Headers: map[string]string{"Authorization": "Bearer tok-1", "X-Team": "dba"},
		On:      []Event{EventFailure},
	}}, Options{}, 1, 5*time.Second)
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want the failure only: %+v", len(got), got)
	}
	g := got[0]
	if g.path != "/hooks/abc?key=k" || g.header.Get("Authorization") != "Bearer tok-1" || g.header.Get("X-Team") != "dba" {
		t.Errorf("request: %s %v", g.path, g.header)
	}
	var s Summary
	if err := json.Unmarshal(g.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != 1 || s.Event != EventFailure || s.Result != ResultFailed || *s.ExitCode != 1 || len(s.Failures) != 1 ||
		s.Failures[0].Label != "dump schema shop_mngt" || s.DurationSeconds != 3 || s.Node != "node-a" {
		t.Errorf("summary: %s", g.body)
	}
}

func TestNtfyPostsTextWithToken(t *testing.T) {
	r := newReceiver(t)
	s := run([]Target{{Name: "phone", Kind: Ntfy, URL: r.srv.URL + "/planb", Token: "tk_abc", On: []Event{EventFailure}}}, Options{}, 1, 5*time.Second)
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	h := got[0].header
	if string(got[0].body) != s.Text || h.Get("Authorization") != "Bearer tk_abc" || h.Get("Title") != "planb apply failed on node-a" ||
		h.Get("Priority") != "high" || h.Get("Tags") != "rotating_light" {
		t.Errorf("ntfy request: %q %v", got[0].body, h)
	}
}

// Network errors, 429 and 5xx answers are tried again; other answers are
// final. A notification not delivered is a warning naming the target and
// its host, never its URL's path or query, its headers or its token.
func TestRetriesAndWarnings(t *testing.T) {
	for name, tc := range map[string]struct {
		answers  []int
		requests int
		warning  string
	}{
		"recovers":    {[]int{503, 429}, 3, ""},
		"gives up":    {[]int{500, 502, 503, 504}, 3, "attempts=3"},
		"not retried": {[]int{404}, 1, "the server answered 404 Not Found"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newReceiver(t, tc.answers...)
			logger, logs := logBuffer()
			target := Target{Name: "chat", Kind: Webhook, URL: r.srv.URL + "/hooks/secret-path?key=secret-key", Host: "127.0.0.1",
				Headers: map[string]string{"X-Key": "secret-header"}, On: []Event{EventFailure}}
			n := New([]Target{target}, Options{Backoff: 10 * time.Millisecond, Logger: logger})
			s := NewSummary("verify", "", "1", time.Now())
			s.Finish(time.Now(), 1)
			n.Notify(s)
			n.Close(5 * time.Second)
			if got := len(r.requests()); got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
			text := logs.String()
			if tc.warning == "" && text != "" {
				t.Errorf("unexpected log: %s", text)
			}
			if tc.warning != "" && (!strings.Contains(text, tc.warning) || !strings.Contains(text, "notify=notify.chat") || !strings.Contains(text, "host=127.0.0.1")) {
				t.Errorf("log lacks %q, the target or its host: %s", tc.warning, text)
			}
			assertNoSecrets(t, text)
		})
	}
}

func assertNoSecrets(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{"secret-path", "secret-key", "secret-header", "secret-token"} {
		if strings.Contains(text, s) {
			t.Errorf("log shows %q: %s", s, text)
		}
	}
}

// A closed port and a server that never answers make warnings, and Close
// returns within its bound.
func TestUnreachableAndSlowTargets(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)

	logger, logs := logBuffer()
	all := []Event{EventStart, EventSuccess, EventFailure}
	targets := []Target{
		{Name: "closed", Kind: Healthchecks, URL: closed + "/secret-path", Host: "127.0.0.1", On: all},
		{Name: "hang", Kind: Ntfy, URL: hang.URL + "/secret-path", Token: "secret-token", On: all},
	}
	const bound = 700 * time.Millisecond
	start := time.Now()
	run(targets, Options{Timeout: 300 * time.Millisecond, Backoff: 10 * time.Millisecond, Logger: logger}, 0, bound)
	if d := time.Since(start); d > bound+time.Second {
		t.Errorf("Close took %s, bound %s", d, bound)
	}
	text := logs.String()
	for _, want := range []string{
		"notify=notify.closed host=127.0.0.1 event=start attempts=3",
		"connection refused",
		"notify=notify.hang event=start",
		"no answer within 300ms",
		"notify=notify.hang event=success",
		"not delivered before planb stopped waiting",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	// The hanging target's URL is sensitive: not even its host is shown.
	if strings.Contains(text, strings.TrimPrefix(hang.URL, "http://")) {
		t.Errorf("log shows the sensitive host:\n%s", text)
	}
	assertNoSecrets(t, text)
}

func TestRedact(t *testing.T) {
	target := Target{URL: "https://user:pw-secret@hooks.example/secret-path?key=secret-key", Token: "secret-token",
		Headers: map[string]string{"A": "secret-header"}}
	err := fmt.Errorf("wrapped: %w", &urlErr{})
	got := target.redact(errors.Join(err, errors.New("dial tcp: lookup hooks.example: secret-path secret-key secret-token secret-header pw-secret")))
	for _, s := range []string{"secret", "hooks.example"} {
		if strings.Contains(got, s) {
			t.Errorf("redact left %q: %s", s, got)
		}
	}
}

// urlErr is an error that quotes a URL, as net/http's do.
type urlErr struct{}

func (*urlErr) Error() string {
	return `Post "https://user:pw-secret@hooks.example/secret-path?key=secret-key": refused`
}

func TestSummaryDocument(t *testing.T) {
	s := NewSummary("apply", "node-a", "1", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	doc, _ := json.Marshal(s)
	// Every key is present on start; what does not apply is null.
	for _, want := range []string{`"version":1`, `"event":"start"`, `"result":"running"`, `"finished":null`, `"exit_code":null`,
		`"steps":{}`, `"resources":[]`, `"failures":[]`, `"failures_omitted":0`, `"archives":null`, `"error":""`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("start document lacks %s: %s", want, doc)
		}
	}
	if s.Title() != "planb apply started on node-a" {
		t.Errorf("title %q", s.Title())
	}
	for range MaxFailures + 3 {
		s.AddFailure(Failure{Error: strings.Repeat("é", MaxErrorBytes)})
	}
	if len(s.Failures) != MaxFailures || s.FailuresOmitted != 3 {
		t.Errorf("%d failures listed, %d omitted", len(s.Failures), s.FailuresOmitted)
	}
	if e := s.Failures[0].Error; len(e) > MaxErrorBytes || !strings.HasSuffix(e, "…") || !strings.HasPrefix(e, "éé") || strings.ContainsRune(e, '\uFFFD') {
		t.Errorf("error not cut on a rune boundary: %d bytes", len(e))
	}
	s.Finish(s.Started.Add(90*time.Second), 130)
	if s.Event != EventFailure || s.Result != ResultInterrupted || s.DurationSeconds != 90 || s.Title() != "planb apply was interrupted on node-a" {
		t.Errorf("interrupted: %+v", s)
	}
}
