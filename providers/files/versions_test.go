package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestVersionFolders(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"v2", "v1/src", "V10"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "v1"), filepath.Join(dir, "latest")); err != nil {
		t.Fatal(err)
	}
	got, err := VersionFolders(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"V10", "v1", "v2"}; !slices.Equal(got, want) {
		t.Errorf("VersionFolders = %v, want %v", got, want)
	}
	if _, err := VersionFolders(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v, want fs.ErrNotExist", err)
	}
}
