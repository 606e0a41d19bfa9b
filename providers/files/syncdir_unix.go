//go:build unix

package files

import (
	"errors"
	"syscall"
)

// dirSyncSupported tells whether fsync of a folder exists: it does on Unix,
// where it makes the folder's entries durable.
const dirSyncSupported = true

// syncUnsupported reports whether a folder fsync failed only because the
// file system does not support it.
func syncUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
