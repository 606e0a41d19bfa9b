//go:build unix

package files

import (
	"errors"
	"syscall"
)

// crossDevice reports whether a rename failed because its two names are
// on different file systems.
func crossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
