//go:build unix

package store

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// linkNoReplace renames oldpath to newpath unless newpath exists, by linking
// the new name and removing the old one: link(2) fails atomically with
// EEXIST. File systems without hard links fall back to a check and a rename,
// which the resource lock makes safe in practice.
func linkNoReplace(oldpath, newpath string) error {
	err := os.Link(oldpath, newpath)
	if err == nil {
		return os.Remove(oldpath)
	}
	if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, serr := os.Lstat(newpath); serr == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EEXIST}
	}
	return os.Rename(oldpath, newpath)
}

// flock takes an exclusive advisory lock on f, released by funlock or when
// the process dies.
func flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

func funlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// removeFile removes path.
func removeFile(path string) error { return os.Remove(path) }

// replaceFile renames oldpath to newpath, replacing newpath.
func replaceFile(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
