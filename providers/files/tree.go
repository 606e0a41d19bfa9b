package files

import (
	"fmt"
	"io/fs"
	"path/filepath"
)

// TreeStats walks dir without following symbolic links and returns the
// number of files (everything that is not a directory, links included), of
// directories below dir (dir itself not counted) and the total size of the
// regular files. A missing dir is an error wrapping fs.ErrNotExist.
func TreeStats(dir string) (files, dirs int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir {
				dirs++
			}
			return nil
		}
		files++
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			bytes += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("tree stats %s: %w", dir, err)
	}
	return files, dirs, bytes, nil
}
