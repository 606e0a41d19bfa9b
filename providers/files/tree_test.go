package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestTreeStats(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"v1/src/a.cob": "12345",
		"v1/src/b.cob": "678",
		"v2/readme":    "",
	})
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "v2/link")); err != nil {
		t.Fatal(err)
	}
	files, dirs, bytes, err := TreeStats(root)
	if err != nil {
		t.Fatal(err)
	}
	// Dirs: v1, v1/src, v2, empty. Files: a, b, readme, link (not followed).
	if files != 4 || dirs != 4 || bytes != 8 {
		t.Errorf("TreeStats = %d files, %d dirs, %d bytes; want 4, 4, 8", files, dirs, bytes)
	}

	_, _, _, err = TreeStats(filepath.Join(root, "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v, want fs.ErrNotExist", err)
	}
}
