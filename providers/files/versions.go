package files

import (
	"fmt"
	"os"
	"slices"
)

// VersionFolders returns the names of the top-level folders of a delivery
// folder, sorted: in CAST AIP each is one delivered version. It reads one
// directory listing and nothing below it; symbolic links and files are
// not versions. A missing dir is an error wrapping fs.ErrNotExist.
func VersionFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list the versions of %s: %w", dir, err)
	}
	names := []string{}
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}
