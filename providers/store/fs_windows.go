package store

import (
	"errors"
	"os"
	"time"

	"github.com/planb-backup/planb/providers/files"
	"golang.org/x/sys/windows"
)

// renameNoReplace renames oldpath to newpath, failing with an error that
// matches fs.ErrExist when newpath exists: MoveFileEx without
// MOVEFILE_REPLACE_EXISTING, one atomic step on NTFS and ReFS, written
// through to the disk before it returns.
func renameNoReplace(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(files.LongPath(oldpath))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(files.LongPath(newpath))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// flock takes an exclusive lock on the first byte of f (LockFileEx),
// waiting for it; it is released by funlock, or when f is closed or the
// process dies.
func flock(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}

func funlock(f *os.File) error {
	var ol windows.Overlapped
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// removeFile removes path. Windows refuses to remove or replace a file
// another process has open, as another planb reading a lock record does for
// a moment: removeFile and replaceFile try again for up to a second.
func removeFile(path string) error { return retryShared(func() error { return os.Remove(path) }) }

// replaceFile renames oldpath to newpath, replacing newpath.
func replaceFile(oldpath, newpath string) error {
	return retryShared(func() error { return os.Rename(oldpath, newpath) })
}

func retryShared(op func() error) error {
	deadline := time.Now().Add(time.Second)
	delay := time.Millisecond
	for {
		err := op()
		if err == nil || !(errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED)) ||
			time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}
