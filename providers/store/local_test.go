package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// TestMain lets the test binary act as a helper process for tests that need
// a separate process: PLANB_STORE_HELPER selects what it does.
func TestMain(m *testing.M) {
	switch os.Getenv("PLANB_STORE_HELPER") {
	case "":
		os.Exit(m.Run())
	case "lock":
		os.Exit(helperLock())
	case "write":
		os.Exit(helperWrite())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(2)
	}
}

// helperLock tries the lock of applications/X once, prints "won" or
// "locked", and holds a won lock until stdin is closed.
func helperLock() int {
	s, err := NewLocal("node", os.Getenv("PLANB_STORE_ROOT"), nil)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	lk, err := s.Lock(context.Background(), Ref{Kind: KindApplications, Name: "X"}, 0)
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("locked")
		return 0
	case err != nil:
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("won")
	io.Copy(io.Discard, os.Stdin)
	if err := lk.Unlock(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// helperWrite starts an archive, writes to it, says "written" and waits to
// be killed.
func helperWrite() int {
	s, err := NewLocal("node", os.Getenv("PLANB_STORE_ROOT"), nil)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	up, err := s.Create(context.Background(), Ref{Kind: KindApplications, Name: "X"}, "X_2026-11-25-20-30-00.zip")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if _, err := up.Write(bytes.Repeat([]byte("data"), 1000)); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("written")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// helper starts the test binary as a helper process.
func helper(t *testing.T, mode, root string) (*exec.Cmd, io.WriteCloser, *bytes.Buffer, func() string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PLANB_STORE_HELPER="+mode, "PLANB_STORE_ROOT="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	readLine := func() string {
		var line []byte
		b := make([]byte, 1)
		for {
			if _, err := stdout.Read(b); err != nil || b[0] == '\n' {
				return string(line)
			}
			line = append(line, b[0])
		}
	}
	return cmd, stdin, &stderr, readLine
}

func newLocal(t *testing.T) *Local {
	t.Helper()
	s, err := NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// put writes a complete archive through Create and Commit.
func put(t *testing.T, s Store, ref Ref, name, content string) {
	t.Helper()
	ctx := context.Background()
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	if _, err := io.WriteString(up, content); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// names renders a listing as "kind/name/file size partial?".
func names(as []Archive) []string {
	var out []string
	for _, a := range as {
		s := fmt.Sprintf("%s %d %s", a.Key(), a.Size, a.Status())
		out = append(out, s)
	}
	return out
}

func list(t *testing.T, s Store) []Archive {
	t.Helper()
	as, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func TestNewLocal(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, "x")
	if _, err := NewLocal("node", file, nil); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("NewLocal on a file: %v", err)
	}
	if _, err := NewLocal("node", "", nil); err == nil {
		t.Error("NewLocal with an empty path succeeded")
	}
	s, err := NewLocal("node", filepath.Join(dir, "missing", "."), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "node" || s.String() != "local "+filepath.Join(dir, "missing") {
		t.Errorf("Name %q, String %q", s.Name(), s.String())
	}
}

func TestLocalListMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "backups")
	s, err := NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if as := list(t, s); len(as) != 0 {
		t.Errorf("List of a missing root = %v", as)
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List created the root: %v", err)
	}
}

func TestLocalList(t *testing.T) {
	s := newLocal(t)
	root := s.Root()
	files := map[string]string{
		"applications/MAINFRAME/MAINFRAME_2026-11-25-20-30-00.zip":         "newest",
		"applications/MAINFRAME/MAINFRAME_2026-11-24-20-30-00.zip":         "old",
		"applications/MAINFRAME/MAINFRAME_2026-11-26-20-30-00.zip.partial": "interrupted",
		"applications/MAINFRAME/MAINFRAME_2026-11-24-20-30-00.zip.partial": "same time",
		"applications/MAINFRAME/OTHER_2026-11-25-20-30-00.zip":             "foreign resource",
		"applications/MAINFRAME/notes.txt":                                 "foreign",
		"applications/MAINFRAME/MAINFRAME_2026-11-25-20-30-00.zip.tmp":     "foreign",
		"applications/MAINFRAME/MAINFRAME_2026-02-30-20-30-00.zip":         "bad date",
		"applications/my_app/my_app_2026-11-25-20-30-00.zip":               "underscore",
		"applications/Ünïcødé/Ünïcødé_2026-11-25-20-30-00.zip":             "non-ASCII",
		"applications/Ünïcødé/Ünïcødé_2026-11-25-20-30-00.tar.zst":         "tar",
		"measurement/health/health_2026-11-20-00-00-00.zip":                "m",
		"persistence/node/node_2026-11-20-00-00-00.zip":                    "p",
		"unknown/x/x_2026-11-20-00-00-00.zip":                              "unknown kind",
		"locks/applications/MAINFRAME.lock":                                "{}",
		"stray_2026-11-20-00-00-00.zip":                                    "at root",
		"applications/stray_2026-11-20-00-00-00.zip":                       "at kind level",
	}
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), c)
	}
	// A directory named like an archive and a dangling link are ignored; a
	// link to an archive counts.
	if err := os.MkdirAll(filepath.Join(root, "applications/MAINFRAME/MAINFRAME_2026-11-01-00-00-00.zip"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing", filepath.Join(root, "applications/MAINFRAME/MAINFRAME_2026-11-02-00-00-00.zip")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "persistence/node/node_2026-11-20-00-00-00.zip"),
		filepath.Join(root, "persistence/node/node_2026-11-21-00-00-00.zip")); err != nil {
		t.Fatal(err)
	}

	as := list(t, s)
	want := []string{
		"applications/MAINFRAME/MAINFRAME_2026-11-24-20-30-00.zip 3 complete",
		"applications/MAINFRAME/MAINFRAME_2026-11-24-20-30-00.zip.partial 9 partial",
		"applications/MAINFRAME/MAINFRAME_2026-11-25-20-30-00.zip 6 complete",
		"applications/MAINFRAME/MAINFRAME_2026-11-26-20-30-00.zip.partial 11 partial",
		"applications/my_app/my_app_2026-11-25-20-30-00.zip 10 complete",
		"applications/Ünïcødé/Ünïcødé_2026-11-25-20-30-00.tar.zst 3 complete",
		"applications/Ünïcødé/Ünïcødé_2026-11-25-20-30-00.zip 9 complete",
		"measurement/health/health_2026-11-20-00-00-00.zip 1 complete",
		"persistence/node/node_2026-11-20-00-00-00.zip 1 complete",
		"persistence/node/node_2026-11-21-00-00-00.zip 1 complete",
	}
	if got := names(as); !slices.Equal(got, want) {
		t.Fatalf("List:\ngot\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	a := as[2]
	if a.Store != "node" || a.Ref != (Ref{Kind: KindApplications, Name: "MAINFRAME"}) || a.Partial ||
		!a.Time.Equal(time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)) || a.ModTime.IsZero() {
		t.Errorf("archive = %+v", a)
	}

	one, err := s.ListResource(context.Background(), Ref{Kind: KindApplications, Name: "MAINFRAME"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(one); !slices.Equal(got, want[:4]) {
		t.Errorf("ListResource:\ngot\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want[:4], "\n\t"))
	}
	if none, err := s.ListResource(context.Background(), Ref{Kind: KindApplications, Name: "NOPE"}); err != nil || len(none) != 0 {
		t.Errorf("ListResource of a missing folder: %v, %v", none, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
}

func TestLocalCreateCommit(t *testing.T) {
	s := newLocal(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "MAINFRAME"}
	name := catalog.ArchiveName(ref.Name, time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC))
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("0123456789", 10000)
	if _, err := io.WriteString(up, content); err != nil {
		t.Fatal(err)
	}

	if got := names(list(t, s)); !slices.Equal(got, []string{"applications/MAINFRAME/" + name + ".partial 100000 partial"}) {
		t.Errorf("before Commit: %v", got)
	}
	if _, err := s.Open(ctx, ref, name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open before Commit: %v", err)
	}

	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(list(t, s)); !slices.Equal(got, []string{"applications/MAINFRAME/" + name + " 100000 complete"}) {
		t.Errorf("after Commit: %v", got)
	}
	if err := up.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if _, err := up.Write([]byte("x")); err == nil {
		t.Error("Write after Commit succeeded")
	}

	for p, want := range map[string]fs.FileMode{
		filepath.Join(s.Root(), "applications"):                 0o700,
		filepath.Join(s.Root(), "applications", "MAINFRAME"):    0o700,
		filepath.Join(s.Root(), "applications/MAINFRAME", name): 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	obj, err := s.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Size() != int64(len(content)) {
		t.Errorf("Size = %d", obj.Size())
	}
	buf := make([]byte, 10)
	if _, err := obj.ReadAt(buf, 99990); err != nil || string(buf) != "0123456789" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	all, err := io.ReadAll(obj)
	if err != nil || string(all) != content {
		t.Errorf("Read: %d bytes, %v", len(all), err)
	}
}

func TestLocalCreateAbort(t *testing.T) {
	s := newLocal(t)
	ref := Ref{Kind: KindMeasurement, Name: "health"}
	up, err := s.Create(context.Background(), ref, "health_2026-11-25-20-30-00.zip")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, "data")
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(s.Root(), "measurement", "health"))
	if err != nil || len(entries) != 0 {
		t.Errorf("after Abort: %v, %v", entries, err)
	}
	if err := up.Commit(context.Background()); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if err := up.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
}

func TestLocalUncommittedLeavesPartial(t *testing.T) {
	s := newLocal(t)
	ref := Ref{Kind: KindApplications, Name: "X"}
	up, err := s.Create(context.Background(), ref, "X_2026-11-25-20-30-00.zip")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, "data")
	// No Commit, no Abort: what a crash leaves behind.
	s2, err := NewLocal("node", s.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	as := list(t, s2)
	if got := names(as); !slices.Equal(got, []string{"applications/X/X_2026-11-25-20-30-00.zip.partial 4 partial"}) {
		t.Fatalf("List = %v", got)
	}
	// The leftover blocks a new write of the same name until it is deleted.
	if _, err := s2.Create(context.Background(), ref, "X_2026-11-25-20-30-00.zip"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a leftover: %v", err)
	}
	if err := s2.Delete(context.Background(), ref, as[0].Name); err != nil {
		t.Fatal(err)
	}
	if as := list(t, s2); len(as) != 0 {
		t.Errorf("after Delete: %v", names(as))
	}
}

func TestLocalKilledWriterLeavesPartial(t *testing.T) {
	s := newLocal(t)
	cmd, _, stderr, readLine := helper(t, "write", s.Root())
	if line := readLine(); line != "written" {
		t.Fatalf("helper said %q; stderr: %s", line, stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); cmd.ProcessState == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the writer did not die of SIGKILL: %v", err)
	}
	as := list(t, s)
	if len(as) != 1 || !as[0].Partial || as[0].Name != "X_2026-11-25-20-30-00.zip.partial" {
		t.Errorf("after a killed write: %v", names(as))
	}
}

func TestLocalCommitRefusesOverwrite(t *testing.T) {
	s := newLocal(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	name := "X_2026-11-25-20-30-00.zip"
	up, err := s.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, "second")
	// Another writer completes the same archive first.
	writeFile(t, filepath.Join(s.Root(), "applications/X", name), "first")
	err = up.Commit(ctx)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Commit over an existing archive: %v", err)
	}
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := names(list(t, s)); !slices.Equal(got, []string{"applications/X/" + name + " 5 complete"}) {
		t.Errorf("after refused Commit: %v", got)
	}
	if _, err := s.Create(ctx, ref, name); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create of an existing archive: %v", err)
	}
}

func TestLocalNameChecks(t *testing.T) {
	s := newLocal(t)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	bad := map[string]struct {
		ref  Ref
		name string
	}{
		"other resource": {ref, "Y_2026-11-25-20-30-00.zip"},
		"partial name":   {ref, "X_2026-11-25-20-30-00.zip.partial"},
		"traversal":      {ref, "../X_2026-11-25-20-30-00.zip"},
		"not an archive": {ref, "manifest.json"},
		"bad ref":        {Ref{Kind: KindApplications, Name: ".."}, ".._2026-11-25-20-30-00.zip"},
		"bad kind":       {Ref{Kind: "locks", Name: "X"}, "X_2026-11-25-20-30-00.zip"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(ctx, tc.ref, tc.name); err == nil {
				t.Error("Create succeeded")
			}
			if _, err := s.Open(ctx, tc.ref, tc.name); err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open: %v", err)
			}
		})
	}
	if err := s.Delete(ctx, ref, "notes.txt"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete of a foreign file: %v", err)
	}
	if err := s.Delete(ctx, ref, "X_2026-11-25-20-30-00.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Delete of a missing archive: %v", err)
	}
	if entries, _ := os.ReadDir(s.Root()); len(entries) != 0 {
		t.Errorf("rejected calls left %v", entries)
	}
}

func TestLocalDelete(t *testing.T) {
	s := newLocal(t)
	ctx := context.Background()
	ref := Ref{Kind: KindPersistence, Name: "node"}
	put(t, s, ref, "node_2026-11-24-00-00-00.zip", "a")
	put(t, s, ref, "node_2026-11-25-00-00-00.zip", "b")
	if err := s.Delete(ctx, ref, "node_2026-11-24-00-00-00.zip"); err != nil {
		t.Fatal(err)
	}
	if got := names(list(t, s)); !slices.Equal(got, []string{"persistence/node/node_2026-11-25-00-00-00.zip 1 complete"}) {
		t.Errorf("after Delete: %v", got)
	}
}

func TestLocalCancelledUpload(t *testing.T) {
	s := newLocal(t)
	ctx, cancel := context.WithCancel(context.Background())
	up, err := s.Create(ctx, Ref{Kind: KindApplications, Name: "X"}, "X_2026-11-25-20-30-00.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	cancel()
	if _, err := up.Write([]byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel: %v", err)
	}
	if err := up.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit after cancel: %v", err)
	}
}

func TestCopy(t *testing.T) {
	src, dst := newLocal(t), newLocal(t)
	dst.name = "offsite"
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "MAINFRAME"}
	name := "MAINFRAME_2026-11-25-20-30-00.zip"
	content := strings.Repeat("archive bytes ", 300000) // several copy buffers
	put(t, src, ref, name, content)

	if err := Copy(ctx, src, ref, name, dst); err != nil {
		t.Fatal(err)
	}
	as := list(t, dst)
	if len(as) != 1 || as[0].Store != "offsite" || as[0].Partial || as[0].Size != int64(len(content)) {
		t.Fatalf("destination lists %v", names(as))
	}
	got, err := os.ReadFile(filepath.Join(dst.Root(), "applications/MAINFRAME", name))
	if err != nil || string(got) != content {
		t.Errorf("copied content differs (%d bytes, %v)", len(got), err)
	}

	if err := Copy(ctx, src, ref, name, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Copy: %v", err)
	}
	missing := "MAINFRAME_2026-11-26-20-30-00.zip"
	err = Copy(ctx, src, ref, missing, dst)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `copy applications/MAINFRAME/`+missing+` from store "node"`) {
		t.Errorf("Copy of a missing archive: %v", err)
	}
	if got := names(list(t, dst)); len(got) != 1 {
		t.Errorf("failed copies left %v", got)
	}
}

// failingStore serves objects whose reads fail after half the data.
type failingStore struct{ *Local }

type failingObject struct{ Object }

func (o failingObject) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.Size()/2 {
		return 0, errors.New("disk on fire")
	}
	return o.Object.ReadAt(p, off)
}

func (s failingStore) Open(ctx context.Context, ref Ref, name string) (Object, error) {
	o, err := s.Local.Open(ctx, ref, name)
	if err != nil {
		return nil, err
	}
	return failingObject{o}, nil
}

func TestCopyFailureLeavesNothing(t *testing.T) {
	src, dst := newLocal(t), newLocal(t)
	ref := Ref{Kind: KindApplications, Name: "X"}
	name := "X_2026-11-25-20-30-00.zip"
	put(t, src, ref, name, strings.Repeat("x", 4<<20))
	err := Copy(context.Background(), failingStore{src}, ref, name, dst)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Copy: %v", err)
	}
	if got := names(list(t, dst)); len(got) != 0 {
		t.Errorf("failed Copy left %v", got)
	}
}
