package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSwapDirCommit(t *testing.T) {
	root := t.TempDir()
	dir, newDir := filepath.Join(root, "MAINFRAME"), filepath.Join(root, ".MAINFRAME.restore")
	writeTree(t, dir, map[string]string{"v1/a.cob": "old"})
	writeTree(t, newDir, map[string]string{"v2/b.cob": "new"})

	commit, rollback, err := SwapDir(dir, newDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "v2/b.cob")); got != "new" {
		t.Errorf("dir holds %q, want new content", got)
	}
	names := entries(t, root)
	if len(names) != 2 || !strings.HasPrefix(names[1], "MAINFRAME.planb-old-") {
		t.Fatalf("after swap root holds %v, want MAINFRAME and its old copy", names)
	}
	if got := readFile(t, filepath.Join(root, names[1], "v1/a.cob")); got != "old" {
		t.Errorf("old copy holds %q", got)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, root); len(names) != 1 || names[0] != "MAINFRAME" {
		t.Errorf("after commit root holds %v, want only MAINFRAME", names)
	}
	if err := rollback(); err == nil || !strings.Contains(err.Error(), "rollback after commit") {
		t.Errorf("rollback after commit: %v, want error", err)
	}
}

func TestSwapDirRollback(t *testing.T) {
	root := t.TempDir()
	dir, newDir := filepath.Join(root, "MAINFRAME"), filepath.Join(root, "new")
	writeTree(t, dir, map[string]string{"v1/a.cob": "old"})
	writeTree(t, newDir, map[string]string{"v2/b.cob": "new"})

	commit, rollback, err := SwapDir(dir, newDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := rollback(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "v1/a.cob")); got != "old" {
		t.Errorf("dir holds %q after rollback, want old content", got)
	}
	if got := readFile(t, filepath.Join(newDir, "v2/b.cob")); got != "new" {
		t.Errorf("newDir holds %q after rollback, want new content", got)
	}
	if names := entries(t, root); len(names) != 2 {
		t.Errorf("after rollback root holds %v, want MAINFRAME and new", names)
	}
	if err := commit(); err == nil {
		t.Error("commit after rollback succeeded")
	}
}

func TestSwapDirWithoutExistingDir(t *testing.T) {
	root := t.TempDir()
	dir, newDir := filepath.Join(root, "APP"), filepath.Join(root, "new")
	writeTree(t, newDir, map[string]string{"f": "x"})
	commit, rollback, err := SwapDir(dir, newDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != "x" {
		t.Errorf("dir holds %q", got)
	}
	if err := rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir exists after rollback: %v", err)
	}
	if got := readFile(t, filepath.Join(newDir, "f")); got != "x" {
		t.Errorf("newDir holds %q after rollback", got)
	}
	_ = commit
}

func TestSwapDirErrors(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"dir/f": "old", "file": "x"})
	tests := map[string]struct {
		dir, newDir, want string
	}{
		"missing new dir":  {"dir", "missing", "no such file"},
		"new is a file":    {"dir", "file", "is not a directory"},
		"same directory":   {"dir", "dir/", "directory itself"},
		"target is a file": {"file", "dir", "not a directory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := SwapDir(filepath.Join(root, tc.dir), filepath.Join(root, tc.newDir))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if got := readFile(t, filepath.Join(root, "dir/f")); got != "old" {
				t.Errorf("a failed swap changed dir: %q", got)
			}
		})
	}
}
