// Package s3test starts a real S3-compatible server (versitygw with its
// posix backend) for tests, so that S3 stores are tested against the
// protocol as a server implements it, never against a mock.
//
// Every Start runs its own server on a free port of 127.0.0.1 with a data
// folder in the test's temporary directory; it is killed when the test ends.
// When the versitygw binary is absent the test is skipped with a message
// naming InstallCommand, or failed when PLANB_TEST_REQUIRE is set (see
// pgtest.Missing).
package s3test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// InstallCommand installs the server binary the tests need.
const InstallCommand = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 20 * time.Second

// Server is a running versitygw.
type Server struct {
	// Endpoint is "127.0.0.1:PORT"; URL is "http://" + Endpoint.
	Endpoint, URL string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Dir is the posix backend's folder: one sub-folder per bucket.
	Dir string

	bin string
	t   testing.TB
	// iamDir, when set, holds the server's users (StartWithUsers).
	iamDir string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Binary returns the path of the versitygw binary: from PATH, else from
// $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("versitygw not found in PATH or $(go env GOPATH)/bin")
}

// Start starts a server with fresh root credentials and no bucket, and stops
// it when the test ends. Without versitygw it calls pgtest.Missing: the
// test is skipped, or failed when PLANB_TEST_REQUIRE is set.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartWithUsers is Start for a server that keeps users besides the root
// (CreateUser), whose access bucket policies decide (SetBucketPolicy).
func StartWithUsers(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, users bool) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		pgtest.Missing(t, "S3 tests need versitygw (%v); install it with: %s", err, InstallCommand)
	}
	s := &Server{
		AccessKey: "planb" + strings.ToLower(rand.Text()[:8]),
		SecretKey: rand.Text(),
		Dir:       t.TempDir(),
		bin:       bin,
		t:         t,
	}
	if users {
		s.iamDir = t.TempDir()
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	s.Endpoint = "127.0.0.1:" + strconv.Itoa(port)
	s.URL = "http://" + s.Endpoint
	if err := s.start(); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// start runs the server process and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	args := []string{"--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Endpoint}
	if s.iamDir != "" {
		args = append(args, "--iam-dir", s.iamDir)
	}
	cmd := exec.Command(s.bin, append(args, "posix", s.Dir)...)
	log, err := os.Create(filepath.Join(s.t.TempDir(), "versitygw.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.Endpoint, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("versitygw exited at start (%v):\n%s", err, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			killGroup(cmd)
			<-exited
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("versitygw did not accept connections on %s within %s:\n%s", s.Endpoint, startTimeout, out)
		}
	}
	s.cmd = cmd
	go func() {
		<-exited
		s.mu.Lock()
		if s.cmd == cmd {
			s.cmd = nil
		}
		s.mu.Unlock()
	}()
	return nil
}

// Stop kills the server (SIGKILL, as a crash would); the data folder stays,
// so Restart brings the same buckets back. Calling it again does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	killGroup(cmd)
	// Wait until the port is free, so Restart can take it again.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.Endpoint, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts a stopped server again on the same port and data folder.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("s3test: restart: %v", err)
	}
}

// Client returns a client signed with the root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatalf("s3test: client: %v", err)
	}
	return c
}

// CreateBucket creates a bucket and returns its name.
func (s *Server) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("s3test: create bucket %q: %v", name, err)
	}
	return name
}

// CreateUser adds a user with the given credentials and role "user": it
// can use a bucket only as the bucket's policy allows. The server must have
// been started with StartWithUsers.
func (s *Server) CreateUser(t testing.TB, accessKey, secretKey string) {
	t.Helper()
	if s.iamDir == "" {
		t.Fatal("s3test: CreateUser needs a server started with StartWithUsers")
	}
	out, err := exec.Command(s.bin, "admin", "--access", s.AccessKey, "--secret", s.SecretKey, "--endpoint-url", s.URL,
		"create-user", "--access", accessKey, "--secret", secretKey, "--role", "user").CombinedOutput()
	if err != nil {
		t.Fatalf("s3test: create user %q: %v\n%s", accessKey, err, out)
	}
}

// SetBucketPolicy sets a bucket's policy (an IAM policy document in JSON).
func (s *Server) SetBucketPolicy(t testing.TB, bucket, policy string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).SetBucketPolicy(ctx, bucket, policy); err != nil {
		t.Fatalf("s3test: policy of bucket %q: %v", bucket, err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
