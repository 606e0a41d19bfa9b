package store

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// closedPort returns "127.0.0.1:port" of a port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestS3RefusedConnectionNamesTheEndpoint(t *testing.T) {
	endpoint := "http://" + closedPort(t)
	s, err := NewS3("offsite", S3Options{Endpoint: endpoint, Bucket: "backups", AccessKey: "planb", SecretKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background())
	if err == nil {
		t.Fatal("listing a closed port succeeded")
	}
	want := `store "offsite": list: could not connect to ` + endpoint + ": connection refused"
	if err.Error() != want {
		t.Errorf("error\n%q\nwant\n%q", err, want)
	}
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v does not match ErrUnreachable", err)
	}
	if got := UnreachableReason(err); got != "could not connect to "+endpoint+": connection refused" {
		t.Errorf("UnreachableReason = %q", got)
	}
}

// An AWS endpoint is reached through host names minio-go derives from it
// (the bucket's virtual host on the dual-stack name); the error names the
// endpoint as configured.
func TestS3RefusedConnectionToAWSNamesTheConfiguredEndpoint(t *testing.T) {
	closed := closedPort(t)
	var dialled []string
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return (&net.Dialer{}).DialContext(ctx, "tcp", closed)
		},
	}
	s, err := NewS3("offsite", S3Options{
		Endpoint: "s3.eu-central-1.amazonaws.com", Region: "eu-central-1", Bucket: "aip-backups",
		AccessKey: "planb", SecretKey: "secret", Transport: transport, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background())
	if err == nil {
		t.Fatal("listing through a closed port succeeded")
	}
	if len(dialled) == 0 || !strings.Contains(dialled[0], "dualstack") {
		t.Fatalf("dialled %v, want the dual-stack name this test is about", dialled)
	}
	want := `store "offsite": list: could not connect to https://s3.eu-central-1.amazonaws.com: connection refused`
	if err.Error() != want {
		t.Errorf("error\n%q\nwant\n%q", err, want)
	}
}

func TestS3UnknownHostIsUnreachable(t *testing.T) {
	s, err := NewS3("offsite", S3Options{
		Endpoint: "http://planb-no-such-host.invalid:9000", Bucket: "backups", AccessKey: "planb", SecretKey: "secret",
		MaxRetries: 1, ConnectTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v does not match ErrUnreachable", err)
	}
	if !strings.HasPrefix(err.Error(), `store "offsite": list: could not connect to http://planb-no-such-host.invalid:9000: `) {
		t.Errorf("error %q does not name the endpoint", err)
	}
}

func TestLocalUnreadableFolderIsUnreachable(t *testing.T) {
	root := t.TempDir()
	// A kind folder that is a file cannot be read as a folder, whoever
	// runs the test (root reads folders without permissions).
	if err := os.WriteFile(filepath.Join(root, KindApplications), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v does not match ErrUnreachable", err)
	}
	want := `store "node": list: cannot read ` + root + ": "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "not a directory") || strings.Count(err.Error(), root) != 1 {
		t.Errorf("error %q, want it to start with %q and say why", err, want)
	}
	// A root that does not exist yet is an empty store, not an
	// unreachable one: the first backup creates it.
	missing, err := NewLocal("node", filepath.Join(root, "new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := missing.List(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("missing root: %v, %v; want an empty listing", list, err)
	}
}
