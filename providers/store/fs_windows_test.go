package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// winTempDir is a temporary folder removed after the test as far as it can
// be: some Windows emulations cannot remove what t.TempDir makes.
func winTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "planb-store-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Remove(filepath.Join(dir, e.Name()))
		}
		os.Remove(dir)
	})
	return dir
}

func TestRenameNoReplaceWindows(t *testing.T) {
	dir := winTempDir(t)
	a, b := filepath.Join(dir, "a.partial"), filepath.Join(dir, "a.zip")
	writeFile(t, a, "new")
	writeFile(t, b, "old")
	if err := renameNoReplace(a, b); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("rename over an existing file: %v", err)
	}
	if data, _ := os.ReadFile(b); string(data) != "old" {
		t.Fatalf("the existing file now holds %q", data)
	}
	os.Remove(b)
	if err := renameNoReplace(a, b); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(b); string(data) != "new" {
		t.Fatalf("renamed file holds %q", data)
	}
}

// A lock record another process reads at that moment is removed or
// replaced once the reader is done.
func TestRemoveReplaceWhileReadWindows(t *testing.T) {
	dir := winTempDir(t)
	p, tmp := filepath.Join(dir, "x.lock"), filepath.Join(dir, "x.lock.tmp")
	writeFile(t, p, "first")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { f.Close() })
	if err := removeFile(p); err != nil {
		t.Fatalf("remove while read: %v", err)
	}

	writeFile(t, p, "first")
	writeFile(t, tmp, "second")
	f, err = os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { f.Close() })
	if err := replaceFile(tmp, p); err != nil {
		t.Fatalf("replace while read: %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "second" {
		t.Fatalf("replaced file holds %q", data)
	}
}

func TestFlockWindows(t *testing.T) {
	p := filepath.Join(winTempDir(t), "x.lock.takeover")
	open := func() *os.File {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f1, f2 := open(), open()
	defer f1.Close()
	defer f2.Close()
	if err := flock(f1); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- flock(f2) }()
	select {
	case err := <-got:
		t.Fatalf("second lock taken while the first is held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := funlock(f1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second lock not taken after the first was released")
	}
	funlock(f2)
}
