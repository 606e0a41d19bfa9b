package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SwapDir puts newDir in the place of dir with two renames: dir becomes
// dir.planb-old-<UTC time>, then newDir becomes dir. If dir does not exist,
// newDir simply takes its place. Both must be on the same filesystem
// (extract beside the target, not in /tmp).
//
// commit removes the old copy; call it when everything else succeeded.
// rollback undoes the swap: the new content goes back to newDir and the old
// copy back to dir. Exactly one of them may be called, once; a second call
// is an error. When SwapDir itself fails, nothing was changed.
func SwapDir(dir, newDir string) (commit func() error, rollback func() error, err error) {
	dir, newDir = filepath.Clean(dir), filepath.Clean(newDir)
	if dir == newDir {
		return nil, nil, fmt.Errorf("swap %s: new directory is the directory itself", dir)
	}
	if fi, err := os.Stat(newDir); err != nil {
		return nil, nil, fmt.Errorf("swap %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("swap %s: %s is not a directory", dir, newDir)
	}

	old := ""
	switch fi, err := os.Lstat(dir); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("swap %s: %w", dir, err)
	case !fi.IsDir():
		return nil, nil, fmt.Errorf("swap %s: not a directory", dir)
	default:
		old, err = oldName(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("swap %s: %w", dir, err)
		}
		if err := os.Rename(dir, old); err != nil {
			return nil, nil, fmt.Errorf("swap %s: move current aside: %w", dir, explainRename(err))
		}
	}
	if err := os.Rename(newDir, dir); err != nil {
		err = fmt.Errorf("swap %s: move new into place: %w", dir, explainRename(err))
		if old != "" {
			if rerr := os.Rename(old, dir); rerr != nil {
				return nil, nil, errors.Join(err, fmt.Errorf("restore %s from %s: %w", dir, old, rerr))
			}
		}
		return nil, nil, err
	}
	_ = SyncDir(filepath.Dir(dir)) // the swap happened; durability is best effort

	var mu sync.Mutex
	done := ""
	once := func(what string, f func() error) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if done != "" {
				return fmt.Errorf("swap %s: %s after %s", dir, what, done)
			}
			if err := f(); err != nil {
				return err
			}
			done = what
			return nil
		}
	}
	commit = once("commit", func() error {
		if old == "" {
			return nil
		}
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("swap %s: remove old copy %s: %w", dir, old, err)
		}
		return nil
	})
	rollback = once("rollback", func() error {
		if err := os.Rename(dir, newDir); err != nil {
			return fmt.Errorf("swap %s: roll back: move new content back to %s: %w", dir, newDir, err)
		}
		if old != "" {
			if err := os.Rename(old, dir); err != nil {
				return fmt.Errorf("swap %s: roll back: restore old copy %s: %w", dir, old, err)
			}
		}
		_ = SyncDir(filepath.Dir(dir)) // the swap happened; durability is best effort
		return nil
	})
	return commit, rollback, nil
}

// oldName returns a free name beside dir for its old copy.
func oldName(dir string) (string, error) {
	base := dir + OldMarker + time.Now().UTC().Format("20060102T150405Z")
	name := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", err
		}
		if i > 1000 {
			return "", fmt.Errorf("no free name for the old copy: %s exists", base)
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

func explainRename(err error) error {
	if crossDevice(err) {
		return fmt.Errorf("%w (both directories must be on the same filesystem)", err)
	}
	return err
}
