package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Defaults of the timeouts of S3Options.
const (
	// DefaultS3ConnectTimeout bounds opening a connection to the endpoint
	// (TCP and TLS handshake).
	DefaultS3ConnectTimeout = 10 * time.Second
	// DefaultS3ResponseTimeout bounds the wait for a response once a
	// request has been sent.
	DefaultS3ResponseTimeout = 30 * time.Second
	// DefaultS3IdleTimeout bounds a pause in the middle of a transfer:
	// no byte of a response body received, or no progress sending a
	// request body.
	DefaultS3IdleTimeout = 30 * time.Second
)

// ErrUnreachable is matched (errors.Is) by the errors of a store that could
// not be reached: an S3 endpoint that cannot be connected to (refused,
// unknown host, no route, connect timeout) or that stalls, and a local
// store's folder that cannot be read (see UnreachableError). It says
// nothing about the data in the store.
var ErrUnreachable = errors.New("endpoint unreachable")

// UnreachableError is the error of a store that could not be reached
// although it answered nothing wrong: an S3 request whose connection
// failed, or a local store whose folder could not be read. It matches
// ErrUnreachable. Its message names the endpoint as configured, never a
// host name the S3 client derived from it (a bucket's virtual host, an AWS
// dual-stack name).
type UnreachableError struct {
	// Endpoint is "scheme://host:port" of an S3 store, or the folder of a
	// local store.
	Endpoint string
	// Local is set for a local store's folder.
	Local bool
	// Cause is what failed, in a few words: "connection refused", "no
	// such host", "open /backups/applications: permission denied".
	Cause string
	// Err is the error the cause was taken from.
	Err error
}

func (e *UnreachableError) Error() string {
	if e.Local {
		return fmt.Sprintf("cannot read %s: %s", e.Endpoint, e.Cause)
	}
	return fmt.Sprintf("could not connect to %s: %s", e.Endpoint, e.Cause)
}

// Unwrap returns the underlying error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// UnreachableReason returns, for an error that matches ErrUnreachable, why
// the store could not be reached in a few words, naming the endpoint
// ("could not connect to http://10.0.0.5:9000: connection refused"), and
// "" for other errors.
func UnreachableReason(err error) string {
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return te.Error()
	}
	if errors.Is(err, ErrUnreachable) {
		return err.Error()
	}
	return ""
}

// dialCause says in a few words why a connection could not be opened,
// without the address dialled: that may be a host name the S3 client made
// up from the configured endpoint.
func dialCause(oe *net.OpError) string {
	var dns *net.DNSError
	if errors.As(oe, &dns) {
		if dns.IsNotFound {
			return "no such host"
		}
		return "host name lookup failed: " + dns.Err
	}
	var se *os.SyscallError
	if errors.As(oe, &se) {
		return se.Err.Error()
	}
	if oe.Err != nil {
		return oe.Err.Error()
	}
	return oe.Error()
}

// TimeoutError is the error of an S3 request that the endpoint did not
// answer in time. It matches ErrUnreachable.
type TimeoutError struct {
	// Endpoint is "scheme://host:port".
	Endpoint string
	// Phase is "connect", "response", "receive" or "send".
	Phase string
	// Limit is the timeout that passed; Setting names it in the
	// configuration.
	Limit   time.Duration
	Setting string
}

func (e *TimeoutError) Error() string {
	switch e.Phase {
	case "connect":
		return fmt.Sprintf("could not connect to %s within %s (%s)", e.Endpoint, e.Limit, e.Setting)
	case "response":
		return fmt.Sprintf("%s sent no response within %s of the request (%s)", e.Endpoint, e.Limit, e.Setting)
	case "receive":
		return fmt.Sprintf("%s stopped sending: no data for %s (%s)", e.Endpoint, e.Limit, e.Setting)
	default:
		return fmt.Sprintf("%s stopped receiving: nothing could be sent for %s (%s)", e.Endpoint, e.Limit, e.Setting)
	}
}

// Timeout reports true, as net.Error's do.
func (e *TimeoutError) Timeout() bool { return true }

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrUnreachable }

// s3Timeouts are the limits one S3 store's requests keep.
type s3Timeouts struct {
	connect, response, idle time.Duration
}

// newS3Transport returns the transport of an S3 store: next (or, when nil,
// minio-go's default transport with the connect timeout set) wrapped so
// that every request keeps the response and idle timeouts.
//
// accepted is set when a response shows the endpoint accepted the
// credentials of a request (any success, or an object that does not exist).
func newS3Transport(next http.RoundTripper, endpoint string, secure bool, t s3Timeouts, accepted *atomic.Bool) (http.RoundTripper, error) {
	if next == nil {
		tr, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, err
		}
		tr.DialContext = (&net.Dialer{Timeout: t.connect, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = t.connect
		// The response timeout is kept by timeoutTransport, which knows
		// when a request's body has been sent.
		tr.ResponseHeaderTimeout = 0
		next = tr
	}
	return &timeoutTransport{next: next, endpoint: endpoint, t: t, accepted: accepted}, nil
}

// timeoutTransport keeps an S3 store's timeouts on every request: from the
// moment a request is written until the response's headers arrive
// (response), and between the reads of request and response bodies (idle).
// A request that timed out ends its operation (see withOperation): the
// endpoint had its chance, and retrying would multiply the wait.
type timeoutTransport struct {
	next     http.RoundTripper
	endpoint string
	t        s3Timeouts
	accepted *atomic.Bool
}

// operationKey carries an *operation in a request's context.
type operationKey struct{}

// operation is one store operation (a list, an open, one part of an
// upload): the requests minio-go makes for it, retries included.
type operation struct {
	// extra is added to the response timeout of its requests.
	extra time.Duration
	// cancel ends the operation's context.
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	timedOut error
}

// responseTimeout is the response timeout of the operation's requests.
func (o *operation) responseTimeout(base time.Duration) time.Duration {
	if o == nil {
		return base
	}
	return base + o.extra
}

// withOperation marks ctx as the context of one store operation: once one
// of its requests timed out, the operation's context is done, so that
// minio-go neither sends the other tries nor waits between them, and the
// error of the operation is the *TimeoutError. end releases the context;
// call it once the operation's requests and their bodies are done.
func withOperation(ctx context.Context) (opctx context.Context, end func()) {
	return startOperation(ctx, 0)
}

// s3CopyRate is the pace at which a server is expected to copy data it
// holds: a request that makes it copy n bytes (completing a multipart
// upload, a server-side copy) may take the response timeout plus one
// second per s3CopyRate bytes before it answers.
const s3CopyRate = 32 << 20

// withServerCopy is withOperation for a request that makes the server copy
// n bytes before it answers.
func withServerCopy(ctx context.Context, n int64) (opctx context.Context, end func()) {
	return startOperation(ctx, time.Duration(n/s3CopyRate)*time.Second)
}

func startOperation(ctx context.Context, extra time.Duration) (context.Context, func()) {
	inner, cancel := context.WithCancelCause(ctx)
	op := &operation{extra: extra, cancel: cancel}
	return &operationContext{Context: context.WithValue(inner, operationKey{}, op), op: op}, func() { cancel(nil) }
}

// operationContext is the context of an operation. Its Err is the
// operation's *TimeoutError (matching context.Canceled as well) once one
// of its requests timed out: minio-go returns ctx.Err() when its retries
// are cut short.
type operationContext struct {
	context.Context
	op *operation
}

func (c *operationContext) Err() error {
	err := c.Context.Err()
	if err != nil {
		var te *TimeoutError
		if errors.As(c.op.failed(), &te) {
			return &operationTimedOut{te}
		}
	}
	return err
}

// operationTimedOut is the Err of an operation's context once the
// operation timed out.
type operationTimedOut struct{ te *TimeoutError }

func (e *operationTimedOut) Error() string   { return e.te.Error() }
func (e *operationTimedOut) Unwrap() []error { return []error{e.te, context.Canceled} }

func (o *operation) failed() error {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.timedOut
}

// timeout records the operation's first timeout and ends its context.
func (o *operation) timeout(err error) {
	if o == nil {
		return
	}
	o.mu.Lock()
	first := o.timedOut == nil
	if first {
		o.timedOut = err
	}
	o.mu.Unlock()
	if first {
		o.cancel(err)
	}
}

// exchange is one request and its response: the timer that guards the
// phase it is in.
type exchange struct {
	tt     *timeoutTransport
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

// arm starts (or restarts) the timer of a phase; when it fires, the
// request is cancelled with a TimeoutError for that phase.
func (x *exchange) arm(phase string, limit time.Duration, setting string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done || limit <= 0 {
		return
	}
	if x.timer != nil {
		x.timer.Stop()
	}
	err := &TimeoutError{Endpoint: x.tt.endpoint, Phase: phase, Limit: limit, Setting: setting}
	x.timer = time.AfterFunc(limit, func() { x.cancel(err) })
}

// disarm stops the running timer.
func (x *exchange) disarm() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
}

// finish stops the timers for good and releases the request's context.
func (x *exchange) finish() {
	x.mu.Lock()
	x.done = true
	if x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
	x.mu.Unlock()
	x.cancel(nil)
}

func (tt *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	op, _ := req.Context().Value(operationKey{}).(*operation)
	if err := op.failed(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	x := &exchange{tt: tt, cancel: cancel}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				x.arm("response", op.responseTimeout(tt.t.response), "response_timeout")
			}
		},
		GotFirstResponseByte: x.disarm,
	})
	out := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = &sendBody{ReadCloser: req.Body, x: x}
	}
	resp, err := tt.next.RoundTrip(out)
	if err != nil {
		x.finish()
		err = tt.classify(ctx, err)
		var te *TimeoutError
		if errors.As(err, &te) {
			op.timeout(te)
		}
		return nil, err
	}
	x.disarm()
	if resp.StatusCode < 400 || resp.StatusCode == http.StatusNotFound {
		tt.accepted.Store(true)
	}
	resp.Body = &receiveBody{ReadCloser: resp.Body, x: x, ctx: ctx, op: op}
	return resp, nil
}

// classify turns the error of a request that timed out into a
// TimeoutError, and that of a connection that could not be opened into an
// UnreachableError naming the configured endpoint; other errors are
// returned as they are.
func (tt *timeoutTransport) classify(ctx context.Context, err error) error {
	var te *TimeoutError
	if cause := context.Cause(ctx); errors.As(cause, &te) {
		return te
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" && oe.Timeout() {
		return &TimeoutError{Endpoint: tt.endpoint, Phase: "connect", Limit: tt.t.connect, Setting: "connect_timeout"}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && strings.Contains(err.Error(), "TLS handshake") {
		return &TimeoutError{Endpoint: tt.endpoint, Phase: "connect", Limit: tt.t.connect, Setting: "connect_timeout"}
	}
	if oe != nil && oe.Op == "dial" {
		return &UnreachableError{Endpoint: tt.endpoint, Cause: dialCause(oe), Err: err}
	}
	return err
}

// sendBody is a request body: the time between two of its reads (the
// transport writing what it read) and after the last one until the
// request is written is bounded by the idle timeout.
type sendBody struct {
	io.ReadCloser
	x *exchange
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.x.disarm()
	n, err := b.ReadCloser.Read(p)
	b.x.arm("send", b.x.tt.t.idle, "idle_timeout")
	return n, err
}

// receiveBody is a response body: each read waits at most the idle
// timeout for data.
type receiveBody struct {
	io.ReadCloser
	x   *exchange
	ctx context.Context
	op  *operation
}

func (b *receiveBody) Read(p []byte) (int, error) {
	b.x.arm("receive", b.x.tt.t.idle, "idle_timeout")
	n, err := b.ReadCloser.Read(p)
	b.x.disarm()
	if err != nil && err != io.EOF {
		var te *TimeoutError
		if cause := context.Cause(b.ctx); errors.As(cause, &te) {
			b.op.timeout(te)
			return n, te
		}
	}
	return n, err
}

func (b *receiveBody) Close() error {
	err := b.ReadCloser.Close()
	b.x.finish()
	return err
}

// NoCredentialsError is the error of an S3 store for which no credentials
// were found: none in the configuration, the environment or the shared
// files. Requests are never sent anonymously.
type NoCredentialsError struct {
	// Looked lists where credentials were looked for, and what was found
	// there.
	Looked []string
}

func (e *NoCredentialsError) Error() string {
	return "no S3 credentials found: " + strings.Join(e.Looked, "; ")
}

// requiredCredentials provides the credentials of the environment and the
// shared credentials file, in that order, and fails with a
// NoCredentialsError, saying where it looked, when neither has any.
type requiredCredentials struct {
	env  credentials.EnvAWS
	file credentials.FileAWSCredentials
	curr credentials.Provider
}

func (c *requiredCredentials) RetrieveWithCredContext(cc *credentials.CredContext) (credentials.Value, error) {
	var looked []string
	v, err := c.env.RetrieveWithCredContext(cc)
	if err == nil && v.AccessKeyID != "" && v.SecretAccessKey != "" {
		c.curr = &c.env
		return v, nil
	}
	looked = append(looked, "access_key and secret_key are not set in the store block", envCredentials())
	v, err = c.file.RetrieveWithCredContext(cc)
	if err == nil && v.AccessKeyID != "" && v.SecretAccessKey != "" {
		c.curr = &c.file
		return v, nil
	}
	looked = append(looked, fileCredentials(err))
	c.curr = nil
	return credentials.Value{}, &NoCredentialsError{Looked: looked}
}

func (c *requiredCredentials) Retrieve() (credentials.Value, error) {
	return c.RetrieveWithCredContext(nil)
}

func (c *requiredCredentials) IsExpired() bool {
	if c.curr == nil {
		return true
	}
	return c.curr.IsExpired()
}

// envCredentials says what the environment holds of the AWS credentials.
func envCredentials() string {
	id := os.Getenv("AWS_ACCESS_KEY_ID") + os.Getenv("AWS_ACCESS_KEY")
	secret := os.Getenv("AWS_SECRET_ACCESS_KEY") + os.Getenv("AWS_SECRET_KEY")
	switch {
	case id == "" && secret == "":
		return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
	case id == "":
		return "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
	case secret == "":
		return "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
	}
	return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY hold no usable credentials"
}

// fileCredentials says what the shared credentials and config files hold
// for the profile in use.
func fileCredentials(err error) string {
	profile := os.Getenv("AWS_PROFILE")
	if profile == "" {
		profile = "default"
	}
	home, _ := os.UserHomeDir()
	files := []string{}
	for _, f := range []struct{ env, def string }{
		{"AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials")},
		{"AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config")},
	} {
		path := os.Getenv(f.env)
		if path == "" {
			path = f.def
		}
		state := "exists"
		if _, serr := os.Stat(path); serr != nil {
			state = "does not exist"
		}
		files = append(files, fmt.Sprintf("%s (%s, %s)", path, f.env, state))
	}
	s := fmt.Sprintf("the shared files %s have no access key for profile %q (AWS_PROFILE)", strings.Join(files, " and "), profile)
	if err != nil {
		s += ": " + err.Error()
	}
	return s
}
