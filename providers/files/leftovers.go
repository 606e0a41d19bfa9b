package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Markers in the names of the folders a restore creates beside its target:
// StagingMarker for the archive's tree while it is extracted, OldMarker for
// the previous contents once the new tree is swapped in (see SwapDir).
const (
	StagingMarker = ".planb-restore-"
	OldMarker     = ".planb-old-"
)

// StagingDir returns a new name beside dir for extracting its replacement.
func StagingDir(dir string) string {
	return fmt.Sprintf("%s%s%d", filepath.Clean(dir), StagingMarker, time.Now().UnixNano())
}

// FolderLeftover is a folder an interrupted restore left beside its target.
type FolderLeftover struct {
	Path string
	// Old is set for a previous copy of the target (dir.planb-old-…),
	// unset for a tree that was being extracted (dir.planb-restore-…).
	Old bool
}

// Leftovers lists the folders interrupted restores of dir left beside it,
// sorted by name. A missing parent folder has none.
func Leftovers(dir string) ([]FolderLeftover, error) {
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for leftovers of %s: %w", dir, err)
	}
	var out []FolderLeftover
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, base)
		if !ok || !e.IsDir() {
			continue
		}
		switch {
		case strings.HasPrefix(rest, StagingMarker):
			out = append(out, FolderLeftover{Path: filepath.Join(parent, name)})
		case strings.HasPrefix(rest, OldMarker):
			out = append(out, FolderLeftover{Path: filepath.Join(parent, name), Old: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
