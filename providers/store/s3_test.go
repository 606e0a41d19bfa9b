package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/store/s3test"
)

// newS3 starts a server with a bucket and returns a store on it, with small
// parts so that a few MiB make a multipart upload of several parts.
func newS3(t *testing.T) (*S3, *s3test.Server) {
	t.Helper()
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	return s3On(t, srv, "offsite", "backups", "prod/", nil), srv
}

func s3On(t *testing.T, srv *s3test.Server, name, bucket, prefix string, logger *slog.Logger) *S3 {
	t.Helper()
	s, err := NewS3(name, S3Options{
		Endpoint: srv.URL, Bucket: bucket, Prefix: prefix,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		PartSize: minS3PartSize, MaxRetries: 2, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payload returns n bytes that differ at every offset modulo a large prime,
// so a misplaced range shows.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func TestParseS3Endpoint(t *testing.T) {
	for name, c := range map[string]struct {
		endpoint string
		insecure bool
		host     string
		secure   bool
		err      string
	}{
		"empty is AWS":          {"", false, "s3.amazonaws.com", true, ""},
		"host and port":         {"minio:9000", false, "minio:9000", true, ""},
		"host and port, http":   {"minio:9000", true, "minio:9000", false, ""},
		"http URL":              {"http://127.0.0.1:7070", false, "127.0.0.1:7070", false, ""},
		"https URL":             {"https://s3.example.com", false, "s3.example.com", true, ""},
		"https URL, trailing /": {"https://s3.example.com/", false, "s3.example.com", true, ""},
		"https but insecure":    {"https://s3.example.com", true, "", false, "insecure = true"},
		"URL with path":         {"https://s3.example.com/bucket", false, "", false, "without a path"},
		"other scheme":          {"ftp://s3.example.com", false, "", false, `scheme "ftp"`},
		"path without scheme":   {"s3.example.com/x", false, "", false, "want host:port"},
	} {
		t.Run(name, func(t *testing.T) {
			host, secure, err := parseS3Endpoint(c.endpoint, c.insecure)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || host != c.host || secure != c.secure {
				t.Fatalf("got %q %v %v, want %q %v", host, secure, err, c.host, c.secure)
			}
		})
	}
}

func TestNewS3Checks(t *testing.T) {
	for name, c := range map[string]struct {
		opts S3Options
		err  string
	}{
		"no bucket":       {S3Options{Endpoint: "h:1"}, "empty bucket"},
		"small parts":     {S3Options{Bucket: "b", PartSize: 1 << 20}, "below S3's minimum"},
		"absolute prefix": {S3Options{Bucket: "b", Prefix: "/x"}, "starts with a slash"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewS3("offsite", c.opts)
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), `"offsite"`) {
				t.Fatalf("error %v, want one naming the store and containing %q", err, c.err)
			}
		})
	}
	s, err := NewS3("offsite", S3Options{Endpoint: "http://h:9000", Bucket: "b", Prefix: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "s3 http://h:9000/b/prod/"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestS3CreateCommitOpen(t *testing.T) {
	s, srv := newS3(t)
	ctx := context.Background()
	if as := list(t, s); len(as) != 0 {
		t.Fatalf("empty bucket lists %v", names(as))
	}
	ref := Ref{Kind: KindApplications, Name: "MAINFRAME"}
	name := "MAINFRAME_2026-11-25-20-30-00.zip"
	data := payload(2*minS3PartSize + 12345) // three parts
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	for chunk := range slices.Chunk(data, 1<<20+7) {
		if _, err := up.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	// Not visible before Commit: only as a leftover.
	if got := names(list(t, s)); !slices.Equal(got, []string{"applications/MAINFRAME/" + name + ".partial 0 partial"}) {
		t.Fatalf("before commit: %v", got)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatalf("second Commit: %v", err)
	}
	if err := up.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	as := list(t, s)
	if got := names(as); !slices.Equal(got, []string{fmt.Sprintf("applications/MAINFRAME/%s %d complete", name, len(data))}) {
		t.Fatalf("after commit: %v", got)
	}
	if want := time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC); !as[0].Time.Equal(want) || as[0].Store != "offsite" {
		t.Errorf("archive %+v: want time %s in store offsite", as[0], want)
	}
	// The object sits below the prefix.
	if _, err := srv.Client(t).StatObject(ctx, "backups", "prod/applications/MAINFRAME/"+name, minio.StatObjectOptions{}); err != nil {
		t.Errorf("object not at its key: %v", err)
	}

	obj, err := s.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Size() != int64(len(data)) {
		t.Fatalf("Size() = %d, want %d", obj.Size(), len(data))
	}
	for _, r := range []struct{ off, n int }{
		{0, 10}, {s3BlockSize - 3, 10}, {len(data) - 5, 5}, {12345, 2 * s3BlockSize}, {1, len(data) - 1},
	} {
		buf := make([]byte, r.n)
		n, err := obj.ReadAt(buf, int64(r.off))
		if err != nil || n != r.n || !bytes.Equal(buf, data[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v or wrong bytes", r.n, r.off, n, err)
		}
	}
	buf := make([]byte, 10)
	if n, err := obj.ReadAt(buf, int64(len(data)-4)); n != 4 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v, want 4, EOF", n, err)
	}
	all, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(all, data) {
		t.Errorf("Read: %d bytes, %v; equal %v", len(all), err, bytes.Equal(all, data))
	}

	// Never overwritten.
	if _, err := s.Create(ctx, ref, name); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create of an existing archive: %v, want fs.ErrExist", err)
	}
	if _, err := s.Open(ctx, ref, "MAINFRAME_2026-11-26-20-30-00.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing archive: %v, want fs.ErrNotExist", err)
	}
}

func TestS3CommitRefusesOverwrite(t *testing.T) {
	s, srv := newS3(t)
	ctx := context.Background()
	ref := Ref{Kind: KindMeasurement, Name: "health"}
	name := "health_2026-11-25-20-30-00.zip"
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	io.WriteString(up, "new")
	// Another writer completes the same archive first.
	if _, err := srv.Client(t).PutObject(ctx, "backups", "prod/measurement/health/"+name, strings.NewReader("old"), 3, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Commit over an existing archive: %v, want fs.ErrExist", err)
	}
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if got, _ := io.ReadAll(obj); string(got) != "old" {
		t.Errorf("the existing archive was replaced: %q", got)
	}
	if got := names(list(t, s)); len(got) != 1 {
		t.Errorf("after the refused commit: %v, want only the existing archive", got)
	}
}

func TestS3AbortLeavesNothing(t *testing.T) {
	s, _ := newS3(t)
	ctx := context.Background()
	ref := Ref{Kind: KindPersistence, Name: "node"}
	name := "node_2026-11-25-20-30-00.zip"
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(payload(minS3PartSize + 1)); err != nil {
		t.Fatal(err)
	}
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if _, err := up.Write([]byte("x")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("after Abort: %v", names(got))
	}
}

func TestS3CancelledUploadAborts(t *testing.T) {
	s, _ := newS3(t)
	ctx, cancel := context.WithCancel(context.Background())
	up, err := s.Create(ctx, Ref{Kind: KindPersistence, Name: "node"}, "node_2026-11-25-20-30-00.zip")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, "some")
	cancel()
	if _, err := up.Write([]byte("more")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel: %v", err)
	}
	if err := up.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit after cancel: %v", err)
	}
	// Abort still reaches the server: an interrupted run leaves nothing.
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("after an interrupted upload: %v", names(got))
	}
}

func TestS3IncompleteUploadIsPartial(t *testing.T) {
	s, _ := newS3(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	put(t, s, ref, "shop_2026-11-24-20-30-00.zip", "yesterday")
	// A writer that dies without Commit or Abort: its upload stays.
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(payload(minS3PartSize + 10)); err != nil {
		t.Fatal(err)
	}
	up.(*s3Upload).mu.Lock()
	up.(*s3Upload).wait()
	up.(*s3Upload).mu.Unlock()

	as := list(t, s)
	want := []string{
		"applications/shop/shop_2026-11-24-20-30-00.zip 9 complete",
		"applications/shop/" + name + ".partial 0 partial",
	}
	if got := names(as); !slices.Equal(got, want) {
		t.Fatalf("listing %v, want %v", got, want)
	}
	if a := as[1]; !a.Partial || a.Name != name+".partial" || a.Time.IsZero() || a.ModTime.IsZero() {
		t.Errorf("partial archive %+v", a)
	}
	put(t, s, Ref{Kind: KindApplications, Name: "shopping"}, "shopping_2026-11-24-20-30-00.zip", "another folder")
	one, err := s.ListResource(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(one); !slices.Equal(got, want) {
		t.Fatalf("ListResource %v, want %v", got, want)
	}
	s.Delete(ctx, Ref{Kind: KindApplications, Name: "shopping"}, "shopping_2026-11-24-20-30-00.zip")
	if _, err := s.Create(ctx, ref, name); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "delete "+name+".partial first") {
		t.Errorf("Create over a leftover: %v, want fs.ErrExist naming the leftover", err)
	}
	if err := s.Delete(ctx, ref, name+".partial"); err != nil {
		t.Fatal(err)
	}
	if got := names(list(t, s)); !slices.Equal(got, want[:1]) {
		t.Fatalf("after deleting the leftover: %v", got)
	}
	if err := s.Delete(ctx, ref, name+".partial"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Delete of the leftover: %v, want fs.ErrNotExist", err)
	}
	// The dead writer's upload is gone: its Commit fails.
	if err := up.Commit(ctx); err == nil {
		t.Error("Commit of an aborted multipart upload succeeded")
	}
	put(t, s, ref, name, "today")
}

func TestS3ListIgnoresForeignKeys(t *testing.T) {
	s, srv := newS3(t)
	ctx := context.Background()
	c := srv.Client(t)
	for _, key := range []string{
		"prod/applications/shop/notes.txt",
		"prod/applications/shop/other_2026-11-25-20-30-00.zip",
		"prod/applications/shop/deeper/shop_2026-11-25-20-30-00.zip",
		"prod/unknown/shop/shop_2026-11-25-20-30-00.zip",
		"prod/locks/applications/shop.lock",
		"staging/applications/shop/shop_2026-11-25-20-30-00.zip",
		"prod/applications/shop/shop_2026-11-25-20-30-00.zip.partial",
		"prod/applications/shop/shop_2026-11-25-20-30-00.zip",
		"prod/measurement/health/health_2026-11-25-20-30-00.tar.zst",
	} {
		if _, err := c.PutObject(ctx, "backups", key, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"applications/shop/shop_2026-11-25-20-30-00.zip 1 complete",
		"applications/shop/shop_2026-11-25-20-30-00.zip.partial 1 partial",
		"measurement/health/health_2026-11-25-20-30-00.tar.zst 1 complete",
	}
	if got := names(list(t, s)); !slices.Equal(got, want) {
		t.Fatalf("listing %v, want %v", got, want)
	}
	// A leftover object named .partial is deleted like a leftover upload.
	if err := s.Delete(ctx, Ref{Kind: KindApplications, Name: "shop"}, "shop_2026-11-25-20-30-00.zip.partial"); err != nil {
		t.Fatal(err)
	}
	staging := s3On(t, srv, "staging", "backups", "staging", nil)
	if got := names(list(t, staging)); len(got) != 1 {
		t.Errorf("prefix staging lists %v", got)
	}
}

func TestS3Delete(t *testing.T) {
	s, _ := newS3(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	put(t, s, ref, name, "archive")
	if err := s.Delete(ctx, ref, name); err != nil {
		t.Fatal(err)
	}
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("after Delete: %v", names(got))
	}
	if err := s.Delete(ctx, ref, name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete of a missing archive: %v, want fs.ErrNotExist", err)
	}
}

func TestS3NameChecks(t *testing.T) {
	s, err := NewS3("offsite", S3Options{Endpoint: "127.0.0.1:1", Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, c := range map[string]struct {
		ref  Ref
		file string
	}{
		"other resource": {Ref{Kind: KindApplications, Name: "shop"}, "legacy_2026-11-25-20-30-00.zip"},
		"not an archive": {Ref{Kind: KindApplications, Name: "shop"}, "notes.txt"},
		"unknown kind":   {Ref{Kind: "secrets", Name: "shop"}, "shop_2026-11-25-20-30-00.zip"},
		"slash in name":  {Ref{Kind: KindApplications, Name: "a/b"}, "a/b_2026-11-25-20-30-00.zip"},
	} {
		t.Run(name, func(t *testing.T) {
			// No server listens on port 1: these fail before any request.
			if _, err := s.Create(ctx, c.ref, c.file); err == nil || strings.Contains(err.Error(), "connection refused") {
				t.Errorf("Create: %v", err)
			}
			if _, err := s.Open(ctx, c.ref, c.file); err == nil || strings.Contains(err.Error(), "connection refused") {
				t.Errorf("Open: %v", err)
			}
			if err := s.Delete(ctx, c.ref, c.file); err == nil || strings.Contains(err.Error(), "connection refused") {
				t.Errorf("Delete: %v", err)
			}
		})
	}
}

func TestS3Copy(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "one")
	srv.CreateBucket(t, "two")
	one := s3On(t, srv, "one", "one", "", nil)
	two := s3On(t, srv, "two", "two", "site-b/", nil)
	local := newLocal(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := string(payload(minS3PartSize + 4321))
	put(t, local, ref, name, data)

	read := func(s Store) string {
		t.Helper()
		obj, err := s.Open(ctx, ref, name)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := Copy(ctx, local, ref, name, one); err != nil {
		t.Fatalf("local to s3: %v", err)
	}
	if read(one) != data {
		t.Fatal("local to s3: contents differ")
	}
	// Same endpoint and credentials: the server copies.
	done, err := two.CopyFrom(ctx, one, ref, name)
	if err != nil || !done {
		t.Fatalf("server-side copy: done %v, %v", done, err)
	}
	if read(two) != data {
		t.Fatal("s3 to s3: contents differ")
	}
	if err := Copy(ctx, one, ref, name, two); !errors.Is(err, fs.ErrExist) {
		t.Errorf("server-side copy onto an existing archive: %v, want fs.ErrExist", err)
	}
	if done, err := one.CopyFrom(ctx, local, ref, name); done || err != nil {
		t.Errorf("CopyFrom a local store: done %v, %v; want not done", done, err)
	}
	back := newLocal(t)
	if err := Copy(ctx, two, ref, name, back); err != nil {
		t.Fatalf("s3 to local: %v", err)
	}
	if read(back) != data {
		t.Fatal("s3 to local: contents differ")
	}
	if err := Copy(ctx, one, ref, "shop_2026-11-26-20-30-00.zip", two); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("copy of a missing archive: %v, want fs.ErrNotExist", err)
	}
}

func TestS3Errors(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	ctx := context.Background()
	for name, c := range map[string]struct {
		opts S3Options
		want string
	}{
		"wrong secret key": {
			S3Options{Endpoint: srv.URL, Bucket: "backups", AccessKey: srv.AccessKey, SecretKey: "wrong", MaxRetries: 1},
			`store "offsite": list: ` + srv.URL + ` refused the credentials (SignatureDoesNotMatch`,
		},
		"unknown access key": {
			S3Options{Endpoint: srv.URL, Bucket: "backups", AccessKey: "nobody", SecretKey: "wrong", MaxRetries: 1},
			`store "offsite": list: ` + srv.URL + ` refused the credentials (`,
		},
		"missing bucket": {
			S3Options{Endpoint: srv.URL, Bucket: "nope", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, MaxRetries: 1},
			`store "offsite": list: bucket "nope" does not exist at ` + srv.URL,
		},
		"nothing listening": {
			S3Options{Endpoint: "127.0.0.1:1", Insecure: true, Bucket: "backups", AccessKey: "planb", SecretKey: "secret", MaxRetries: 1},
			`store "offsite": list: `,
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := NewS3("offsite", c.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.List(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("List: %v\nwant an error containing %s", err, c.want)
			}
			if strings.Contains(err.Error(), srv.SecretKey) {
				t.Errorf("the secret key appears in %v", err)
			}
		})
	}
}

func TestS3CredentialsFromEnvironment(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	ctx := context.Background()
	t.Run("environment", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		s, err := NewS3("env", S3Options{Endpoint: srv.URL, Bucket: "backups"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("shared credentials file", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		file := filepath.Join(t.TempDir(), "credentials")
		writeFile(t, file, "[default]\naws_access_key_id = x\naws_secret_access_key = y\n\n[backup]\naws_access_key_id = "+
			srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
		t.Setenv("AWS_PROFILE", "backup")
		s, err := NewS3("file", S3Options{Endpoint: srv.URL, Bucket: "backups"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestS3ServerKilledDuringUpload(t *testing.T) {
	s, srv := newS3(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(payload(minS3PartSize + 1)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, werr := up.Write(payload(2 * minS3PartSize))
	cerr := up.Commit(ctx)
	err = errors.Join(werr, cerr)
	if err == nil {
		t.Fatal("the upload succeeded with the server down")
	}
	if !strings.Contains(err.Error(), `store "offsite"`) || !strings.Contains(err.Error(), "applications/shop/"+name) {
		t.Errorf("the error names neither store nor archive: %v", err)
	}
	if aerr := up.Abort(); aerr == nil {
		t.Error("Abort with the server down reported success")
	}
	srv.Restart(t)
	for _, a := range list(t, s) {
		if !a.Partial {
			t.Errorf("after the crash %s looks complete", a.Key())
		}
	}
}

// rangeCounter counts ranged GETs and their bytes, and fails the first
// failRanges of them as a broken connection would.
type rangeCounter struct {
	mu         sync.Mutex
	gets       int
	bytes      int64
	failRanges int
}

func (c *rangeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	ranged := req.Method == http.MethodGet && req.Header.Get("Range") != ""
	if ranged {
		c.mu.Lock()
		fail := c.failRanges > 0
		c.failRanges--
		c.mu.Unlock()
		if fail {
			return nil, errors.New("connection reset by peer")
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && ranged {
		c.mu.Lock()
		c.gets++
		c.bytes += resp.ContentLength
		c.mu.Unlock()
	}
	return resp, err
}

func (c *rangeCounter) counts() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets, c.bytes
}

func TestS3ReadsAreRangedAndRetried(t *testing.T) {
	s, srv := newS3(t)
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	data := payload(10 << 20)
	put(t, s, ref, name, string(data))
	counter := &rangeCounter{}
	reader, err := NewS3("offsite", S3Options{Endpoint: srv.URL, Bucket: "backups", Prefix: "prod/",
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, MaxRetries: 1, Transport: counter})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open := func() Object {
		t.Helper()
		obj, err := reader.Open(ctx, ref, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { obj.Close() })
		return obj
	}

	// A ZIP reader's first reads (the end, then the start) fetch a block
	// each, not the archive.
	obj := open()
	buf := make([]byte, 100)
	for _, off := range []int64{int64(len(data)) - 100, 0, 30} {
		if _, err := obj.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+100]) {
			t.Fatalf("ReadAt(100 at %d): %v", off, err)
		}
	}
	if gets, n := counter.counts(); gets != 2 || n != 2*s3BlockSize {
		t.Errorf("reading at both ends: %d GETs of %d bytes, want 2 of one block each", gets, n)
	}

	// Reading sequentially in small pieces reads ahead: few requests, each
	// byte once.
	counter.gets, counter.bytes = 0, 0
	var out bytes.Buffer
	if _, err := io.CopyBuffer(&out, io.NewSectionReader(open(), 0, int64(len(data))), make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("sequential read: contents differ")
	}
	if gets, n := counter.counts(); gets > 12 || n != int64(len(data)) {
		t.Errorf("sequential read of 10 MiB: %d GETs of %d bytes, want at most 12 reading each byte once", gets, n)
	}

	// A failed range is tried again.
	counter.failRanges = 1
	if _, err := open().ReadAt(buf, 5<<20); err != nil || !bytes.Equal(buf, data[5<<20:5<<20+100]) {
		t.Fatalf("ReadAt after one failure: %v", err)
	}
	// Twice is an error naming the store and the archive; a later read
	// tries again.
	counter.failRanges = 2
	obj = open()
	_, err = obj.ReadAt(buf, 7<<20)
	if err == nil || !strings.Contains(err.Error(), `store "offsite": read applications/shop/`+name) {
		t.Fatalf("ReadAt after two failures: %v", err)
	}
	if _, err := obj.ReadAt(buf, 7<<20); err != nil || !bytes.Equal(buf, data[7<<20:7<<20+100]) {
		t.Fatalf("ReadAt after a failed one: %v", err)
	}
}

func TestS3ReadOfReplacedArchiveFails(t *testing.T) {
	s, srv := newS3(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	put(t, s, ref, name, "first version")
	obj, err := s.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if _, err := srv.Client(t).PutObject(ctx, "backups", "prod/applications/shop/"+name, strings.NewReader("second version"), 14, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := obj.ReadAt(make([]byte, 5), 0); err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("ReadAt of a replaced archive: %v", err)
	}
}
