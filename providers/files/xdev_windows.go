package files

import (
	"errors"

	"golang.org/x/sys/windows"
)

// crossDevice reports whether a rename failed because its two names are
// on different volumes.
func crossDevice(err error) bool { return errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) }
