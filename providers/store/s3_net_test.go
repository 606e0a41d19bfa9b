package store

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/store/s3test"
)

// silentListener accepts connections on 127.0.0.1 and never answers; it
// counts the connections it accepted.
type silentListener struct {
	net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func newSilentListener(t *testing.T) *silentListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := &silentListener{Listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			sl.accepted.Add(1)
			sl.mu.Lock()
			sl.conns = append(sl.conns, c)
			sl.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		sl.mu.Lock()
		defer sl.mu.Unlock()
		for _, c := range sl.conns {
			c.Close()
		}
	})
	return sl
}

func TestS3StallingEndpointFailsWithinTimeout(t *testing.T) {
	sl := newSilentListener(t)
	endpoint := "http://" + sl.Addr().String()
	s, err := NewS3("offsite", S3Options{
		Endpoint: endpoint, Bucket: "backups", AccessKey: "planb", SecretKey: "secret",
		ResponseTimeout: 2 * time.Second, // four tries, as by default
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	for name, op := range map[string]func() error{
		"list": func() error { _, err := s.List(ctx); return err },
		"open": func() error { _, err := s.Open(ctx, ref, "shop_2026-11-25-20-30-00.zip"); return err },
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := op()
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error from an endpoint that never answers")
			}
			want := `store "offsite": ` + name
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), endpoint+" sent no response within 2s of the request (response_timeout)") {
				t.Errorf("error %q\nwant it to start with %q and name the endpoint and the timeout", err, want)
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Errorf("error %v does not match ErrUnreachable", err)
			}
			var te *TimeoutError
			if !errors.As(err, &te) || te.Phase != "response" {
				t.Errorf("error %v: want a *TimeoutError of phase response", err)
			}
			// One timeout, not one per try, and no backoff before
			// further tries (up to 0.2+0.4+0.8+1 s in minio-go).
			if took > 3*time.Second {
				t.Errorf("failed after %s, want one timeout (2s)", took)
			}
		})
	}
}

// stallProxy forwards TCP connections to a server; once stalled, each
// answer of the server is forwarded only up to a budget of bytes, and the
// rest is held back.
type stallProxy struct {
	net.Listener
	target  string
	stalled atomic.Bool
	budget  int64
}

func newStallProxy(t *testing.T, target string, budget int64) *stallProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{Listener: l, target: target, budget: budget}
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		l.Close()
		wg.Wait()
	})
	return p
}

func (p *stallProxy) serve(c net.Conn, done chan struct{}) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(s, c)
	go func() {
		<-done
		c.Close()
		s.Close()
	}()
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if p.stalled.Load() {
				n = int(min(int64(n), max(p.budget-sent, 0)))
				sent += int64(n)
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		if p.stalled.Load() && sent >= p.budget {
			<-done
			return
		}
	}
}

func TestS3StalledTransferFailsWithinIdleTimeout(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	proxy := newStallProxy(t, srv.Endpoint, 4096)
	s, err := NewS3("offsite", S3Options{
		Endpoint: "http://" + proxy.Addr().String(), Bucket: "backups", Prefix: "prod/",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PartSize: minS3PartSize,
		IdleTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := payload(1 << 20)
	put(t, s, ref, name, string(data))
	obj, err := s.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()

	proxy.stalled.Store(true)
	start := time.Now()
	_, err = obj.ReadAt(make([]byte, 1000), 500000)
	took := time.Since(start)
	want := "stopped sending: no data for 1s (idle_timeout)"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), proxy.Addr().String()) {
		t.Fatalf("read through a stalled connection: %v\nwant an error naming the endpoint and containing %q", err, want)
	}
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v does not match ErrUnreachable", err)
	}
	if took > 3*time.Second {
		t.Errorf("failed after %s, want about the idle timeout (1s)", took)
	}
}

func TestS3NoCredentials(t *testing.T) {
	sl := newSilentListener(t)
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_PROFILE", "backup")
	s, err := NewS3("offsite", S3Options{Endpoint: "http://" + sl.Addr().String(), Bucket: "backups", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background())
	if err == nil {
		t.Fatal("List without credentials succeeded")
	}
	for _, want := range []string{
		`store "offsite": list: no S3 credentials found`,
		"access_key and secret_key are not set in the store block",
		"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
		filepath.Join(dir, "credentials") + " (AWS_SHARED_CREDENTIALS_FILE, does not exist)",
		filepath.Join(dir, "config") + " (AWS_CONFIG_FILE, does not exist)",
		`profile "backup"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	var nc *NoCredentialsError
	if !errors.As(err, &nc) {
		t.Errorf("error %v is not a *NoCredentialsError", err)
	}
	if n := sl.accepted.Load(); n != 0 {
		t.Errorf("%d connection(s) made without credentials, want none: no anonymous requests", n)
	}
}

func TestS3AccessDeniedNamesTheRequest(t *testing.T) {
	srv := s3test.StartWithUsers(t)
	srv.CreateBucket(t, "backups")
	srv.CreateUser(t, "reader", "reader-secret-123")
	srv.SetBucketPolicy(t, "backups", `{"Version": "2012-10-17", "Statement": [{
		"Effect": "Allow", "Principal": {"AWS": ["reader"]},
		"Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetObject"],
		"Resource": ["arn:aws:s3:::backups", "arn:aws:s3:::backups/*"]}]}`)
	s, err := NewS3("offsite", S3Options{Endpoint: srv.URL, Bucket: "backups", Prefix: "prod/",
		AccessKey: "reader", SecretKey: "reader-secret-123", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.List(ctx); err != nil {
		t.Fatalf("List with a policy that allows it: %v", err)
	}
	ref := Ref{Kind: KindApplications, Name: "shop"}
	_, err = s.Create(ctx, ref, "shop_2026-11-25-20-30-00.zip")
	if err == nil {
		t.Fatal("Create with a policy that denies PutObject succeeded")
	}
	// The first request Create sends records the writer, before the upload
	// begins (see Cleanable).
	for _, want := range []string{
		`store "offsite": write record prod/records/applications/shop/shop_2026-11-25-20-30-00.zip.partial.json: access denied: `,
		srv.URL + " refused PutObject on backups/prod/records/applications/shop/shop_2026-11-25-20-30-00.zip.partial.json",
		"the credentials (access key reader) were accepted for other requests",
		"must allow s3:PutObject",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "check the access key and secret key") || strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("error %q blames the credentials", err)
	}
	var ad *AccessDeniedError
	if !errors.As(err, &ad) || ad.Request != "PutObject" {
		t.Errorf("error %v: want an *AccessDeniedError for PutObject", err)
	}
}

func TestS3ServerCopyGetsMoreTime(t *testing.T) {
	op := func(ctx context.Context, end func()) *operation {
		defer end()
		o, _ := ctx.Value(operationKey{}).(*operation)
		return o
	}
	base := 30 * time.Second
	if got := op(withOperation(context.Background())).responseTimeout(base); got != base {
		t.Errorf("an ordinary request waits %s, want %s", got, base)
	}
	if got := op(withServerCopy(context.Background(), 10<<30)).responseTimeout(base); got != base+320*time.Second {
		t.Errorf("completing a 10 GiB upload waits %s, want %s", got, base+320*time.Second)
	}
	if got := (*operation)(nil).responseTimeout(base); got != base {
		t.Errorf("a request outside an operation waits %s, want %s", got, base)
	}
}
