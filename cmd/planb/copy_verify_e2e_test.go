package main

import (
	"bytes"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/store/s3test"
)

// copyEstate is a folder backed up into three stores: "a" and "b" in two
// buckets of one S3 server with the same credentials (copies between them
// are made by the server), and "c" a local store (copies to it are
// streamed). Retention keeps one archive.
type copyEstate struct {
	s3     *s3test.Server
	local  string // root of store c
	all    string // configuration: the folder into a, b and c
	onlyA  string // configuration: the folder into a only
	keep2A string // configuration: into a only, keeping two archives
}

func newCopyEstate(t *testing.T) *copyEstate {
	t.Helper()
	return newCopyEstateOn(t, s3test.Start(t))
}

func newCopyEstateOn(t *testing.T, srv *s3test.Server) *copyEstate {
	t.Helper()
	srv.CreateBucket(t, "one")
	srv.CreateBucket(t, "two")
	e := &copyEstate{s3: srv, local: t.TempDir()}
	folder := t.TempDir()
	// Incompressible content: most of the archive is this entry's data.
	data := make([]byte, 256<<10)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(folder, "data.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	stores := `store "a" {
  s3 {
    endpoint   = "` + srv.URL + `"
    bucket     = "one"
    prefix     = "a/"
    access_key = "` + srv.AccessKey + `"
    secret_key = "` + srv.SecretKey + `"
  }
}
store "b" {
  s3 {
    endpoint   = "` + srv.URL + `"
    bucket     = "two"
    prefix     = "b/"
    access_key = "` + srv.AccessKey + `"
    secret_key = "` + srv.SecretKey + `"
  }
}
store "c" {
  local { path = "` + e.local + `" }
}
`
	resource := func(stores string, keep int) string {
		return `persistence "files" {
  path      = "` + folder + `"
  every     = "24h"
  stores    = [` + stores + `]
  retention {
    keep_last = ` + string(rune('0'+keep)) + `
  }
}
`
	}
	e.all = writeConfig(t, map[string]string{"stores.hcl": stores, "main.hcl": resource("store.a, store.b, store.c", 1)})
	e.onlyA = writeConfig(t, map[string]string{"stores.hcl": stores, "main.hcl": resource("store.a", 1)})
	e.keep2A = writeConfig(t, map[string]string{"stores.hcl": stores, "main.hcl": resource("store.a", 2)})
	return e
}

// path returns the file of an archive of store a or b in the server's
// backend folder, or of store c.
func (e *copyEstate) path(storeName, archive string) string {
	switch storeName {
	case "a":
		return filepath.Join(e.s3.Dir, "one", "a", "persistence", "files", archive)
	case "b":
		return filepath.Join(e.s3.Dir, "two", "b", "persistence", "files", archive)
	}
	return filepath.Join(e.local, "persistence", "files", archive)
}

// archives lists the archives of a store.
func (e *copyEstate) archives(t *testing.T, storeName string) []string {
	t.Helper()
	m, err := filepath.Glob(e.path(storeName, "files_*.zip"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m {
		out = append(out, filepath.Base(p))
	}
	slices.Sort(out)
	return out
}

// flip flips one byte in the middle of an archive of a store, in place:
// the object keeps its size.
func (e *copyEstate) flip(t *testing.T, storeName, archive string) {
	t.Helper()
	p := e.path(storeName, archive)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x5a
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data[len(data)/2:len(data)/2+1], int64(len(data)/2)); err != nil {
		t.Fatal(err)
	}
}

func (e *copyEstate) apply(t *testing.T, dir, now string, want int) (string, string) {
	t.Helper()
	code, out, errs := planbRun(t, "", "--chdir", dir, "apply", "--auto-approve", "--now", now)
	if code != want {
		t.Fatalf("apply --now %s: exit %d, want %d\n%s%s", now, code, want, out, errs)
	}
	return out, errs
}

const (
	t0 = "files_2026-11-24-08-00-00.zip"
	t1 = "files_2026-11-25-08-00-00.zip"
)

// TestDamagedSourceIsNeverCopied: a byte flipped in an archive of an S3
// store stops its copy to another S3 store of the same server (a
// server-side copy) and to a local store (streamed), each naming the
// damaged archive; the prunes that waited for the copies do not run, so
// the older archives those stores hold survive.
func TestDamagedSourceIsNeverCopied(t *testing.T) {
	e := newCopyEstate(t)
	e.apply(t, e.all, "2026-11-24T08:00:00Z", 0)
	for _, s := range []string{"a", "b", "c"} {
		if got := e.archives(t, s); !slices.Equal(got, []string{t0}) {
			t.Fatalf("store %s after the first apply: %v", s, got)
		}
	}
	e.apply(t, e.onlyA, "2026-11-25T08:00:00Z", 0)
	if got := e.archives(t, "a"); !slices.Equal(got, []string{t1}) {
		t.Fatalf("store a after the second apply: %v, want only %s", got, t1)
	}
	e.flip(t, "a", t1)

	out, errs := e.apply(t, e.all, "2026-11-25T09:00:00Z", exitError)
	for _, s := range []string{"b", "c"} {
		if got := e.archives(t, s); !slices.Equal(got, []string{t0}) {
			t.Errorf("store %s after copying a damaged archive: %v, want only the good %s", s, got, t0)
		}
	}
	if got := e.archives(t, "a"); !slices.Equal(got, []string{t1}) {
		t.Errorf("store a: %v, want %s left alone", got, t1)
	}
	damaged := "archive persistence/files/" + t1 + " in store.a is damaged"
	if n := strings.Count(out+errs, damaged); n < 2 {
		t.Errorf("the output names the damaged archive %d time(s), want once per copy (2):\n%s%s", n, out, errs)
	}
	if strings.Contains(out+errs, "could not be read") {
		t.Errorf("a damaged archive is reported as unreadable:\n%s%s", out, errs)
	}

	// The copies recorded the damage: the next plan shows the archive,
	// does not count it and backs the folder up anew.
	code, out, errs := planbRun(t, "", "--chdir", e.all, "plan", "--now", "2026-11-25T10:00:00Z")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"+ backup persistence.files into store.a",
		"no backup yet (" + t1 + " is damaged)",
		"Damaged archives",
		"store.a " + t1 + ": verify: entry files/data.bin",
		"(found by copy to store.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	t2 := "files_2026-11-25-10-00-00.zip"
	e.apply(t, e.all, "2026-11-25T10:00:00Z", 0)
	for s, want := range map[string][]string{"a": {t1, t2}, "b": {t2}, "c": {t2}} {
		if got := e.archives(t, s); !slices.Equal(got, want) {
			t.Errorf("store %s after the new backup: %v, want %v (the damaged archive is left for the operator)", s, got, want)
		}
	}
}

// TestPruneKeepsTheLastSoundArchive: when the only archive a prune keeps
// fails its check, the prune deletes nothing.
func TestPruneKeepsTheLastSoundArchive(t *testing.T) {
	e := newCopyEstate(t)
	e.apply(t, e.keep2A, "2026-11-24T08:00:00Z", 0)
	e.apply(t, e.keep2A, "2026-11-25T08:00:00Z", 0)
	if got := e.archives(t, "a"); !slices.Equal(got, []string{t0, t1}) {
		t.Fatalf("store a: %v, want %s and %s", got, t0, t1)
	}
	e.flip(t, "a", t1)
	out, errs := e.apply(t, e.onlyA, "2026-11-25T09:00:00Z", exitError)
	if got := e.archives(t, "a"); !slices.Equal(got, []string{t0, t1}) {
		t.Errorf("store a after the prune: %v, want both archives kept", got)
	}
	want := "refusing to prune persistence/files in store.a: none of the 1 archive(s) it keeps verifies, so nothing was deleted (" + t1
	if !strings.Contains(out+errs, want) {
		t.Errorf("output lacks %q:\n%s%s", want, out, errs)
	}
}

// TestVerifyTellsUnreadableFromDamaged: an archive the store cannot
// deliver (here: the key may list bucket "one" but not read its objects) is
// UNREADABLE with exit code 4, never FAILED; a damaged one is FAILED with
// exit code 1, which wins over unreadable ones.
func TestVerifyTellsUnreadableFromDamaged(t *testing.T) {
	srv := s3test.StartWithUsers(t)
	e := newCopyEstateOn(t, srv)
	e.apply(t, e.all, "2026-11-24T08:00:00Z", 0)

	srv.CreateUser(t, "lister", "lister-secret-123")
	for bucket, actions := range map[string]string{
		"one": `"s3:ListBucket", "s3:ListBucketMultipartUploads"`,
		"two": `"s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetObject"`,
	} {
		srv.SetBucketPolicy(t, bucket, `{"Version": "2012-10-17", "Statement": [{
		"Effect": "Allow", "Principal": {"AWS": ["lister"]}, "Action": [`+actions+`],
		"Resource": ["arn:aws:s3:::`+bucket+`", "arn:aws:s3:::`+bucket+`/*"]}]}`)
	}
	lister := writeConfig(t, map[string]string{"main.hcl": strings.ReplaceAll(strings.ReplaceAll(
		string(mustRead(t, filepath.Join(e.all, "stores.hcl"))), srv.AccessKey, "lister"), srv.SecretKey, "lister-secret-123") +
		string(mustRead(t, filepath.Join(e.all, "main.hcl")))})
	verify := func(dir string, want int, lines ...string) {
		t.Helper()
		code, out, errs := planbRun(t, "", "--chdir", dir, "verify")
		if code != want {
			t.Fatalf("verify: exit %d, want %d\n%s%s", code, want, out, errs)
		}
		for _, l := range lines {
			if !strings.Contains(out, l) {
				t.Errorf("verify: output lacks %q:\n%s", l, out)
			}
		}
	}
	verify(lister, exitUnreadable,
		"UNREADABLE store.a persistence/files/"+t0+": access denied",
		"ok      store.b persistence/files/"+t0,
		"ok      store.c persistence/files/"+t0,
		"3 archive(s) verified, 0 failed (damaged), 1 unreadable or unchecked.")
	verify(e.all, 0, "3 archive(s) verified, 0 failed (damaged), 0 unreadable or unchecked.")

	e.flip(t, "b", t0)
	verify(lister, exitError,
		"UNREADABLE store.a persistence/files/"+t0,
		"FAILED  store.b persistence/files/"+t0+": verify: entry files/data.bin",
		"ok      store.c persistence/files/"+t0,
		"3 archive(s) verified, 1 failed (damaged), 1 unreadable or unchecked.")
	verify(e.all, exitError, "ok      store.a persistence/files/"+t0, "FAILED  store.b persistence/files/"+t0)

	// verify recorded the damage for plans; once the archive verifies
	// again, the mark is gone.
	planOut := func() string {
		t.Helper()
		code, out, errs := planbRun(t, "", "--chdir", e.all, "plan", "--now", "2026-11-24T09:00:00Z")
		if code != 0 {
			t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
		}
		return out
	}
	if out := planOut(); !strings.Contains(out, "store.b "+t0+": verify: entry files/data.bin") || !strings.Contains(out, "(found by verify at ") {
		t.Errorf("the plan does not show the archive verify found damaged:\n%s", out)
	}
	e.flip(t, "b", t0)
	verify(e.all, 0, "3 archive(s) verified, 0 failed (damaged), 0 unreadable or unchecked.")
	if out := planOut(); strings.Contains(out, "Damaged archives") {
		t.Errorf("the plan shows a damaged archive after it verified again:\n%s", out)
	}
}

// blackhole forwards TCP connections to target for a number of HTTP
// requests; from the next one on nothing more passes in either direction,
// on new connections as on open ones, as when a network path stalls.
type blackhole struct {
	net.Listener
	requests atomic.Int64
	allowed  int64
}

func newBlackhole(t *testing.T, target string, allowed int64) *blackhole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{Listener: l, allowed: allowed}
	done := make(chan struct{})
	closedOff := func() bool { return b.requests.Load() > b.allowed }
	pipe := func(dst, src net.Conn, fromClient bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if fromClient && n > 0 {
				b.requests.Add(int64(bytes.Count(buf[:n], []byte(" HTTP/1.1\r\n"))))
			}
			if closedOff() {
				<-done
				return
			}
			if n > 0 {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() {
				<-done
				c.Close()
				s.Close()
			}()
			go pipe(s, c, true)
			go pipe(c, s, false)
		}
	}()
	t.Cleanup(func() {
		close(done)
		l.Close()
	})
	return b
}

// TestVerifyOfAStalledStore: a store whose endpoint stops answering after
// the listing has its archives reported UNREADABLE (exit 4), the first
// within the response timeout and the others without being tried.
func TestVerifyOfAStalledStore(t *testing.T) {
	e := newCopyEstate(t)
	e.apply(t, e.keep2A, "2026-11-24T08:00:00Z", 0)
	e.apply(t, e.keep2A, "2026-11-25T08:00:00Z", 0)
	// Store a's listing takes two requests (objects, incomplete uploads).
	bh := newBlackhole(t, e.s3.Endpoint, 2)
	endpoint := "http://" + bh.Addr().String()
	stores := string(mustRead(t, filepath.Join(e.keep2A, "stores.hcl")))
	stores = strings.Replace(stores, `endpoint   = "`+e.s3.URL+`"
    bucket     = "one"`, `endpoint   = "`+endpoint+`"
    bucket     = "one"
    response_timeout = "1s"`, 1)
	if !strings.Contains(stores, endpoint) {
		t.Fatalf("store a not redirected:\n%s", stores)
	}
	dir := writeConfig(t, map[string]string{"stores.hcl": stores, "main.hcl": string(mustRead(t, filepath.Join(e.keep2A, "main.hcl")))})
	start := time.Now()
	code, out, errs := planbRun(t, "", "--chdir", dir, "verify", "persistence.files")
	took := time.Since(start)
	if code != exitUnreadable {
		t.Fatalf("verify: exit %d, want %d\n%s%s", code, exitUnreadable, out, errs)
	}
	for _, want := range []string{
		"UNREADABLE store.a persistence/files/" + t0 + ": " + endpoint + " sent no response within 1s",
		"UNREADABLE store.a persistence/files/" + t1 + ": not tried: ",
		"2 archive(s) verified, 0 failed (damaged), 2 unreadable or unchecked.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify: output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("verify reports sound archives of a stalled store as FAILED:\n%s", out)
	}
	if took > 5*time.Second {
		t.Errorf("verify took %s, want about one response timeout (1s)", took)
	}
}
