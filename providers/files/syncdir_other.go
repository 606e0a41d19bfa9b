//go:build !unix && !windows

package files

import "errors"

// dirSyncSupported is true: the platform is asked, and a file system that
// cannot fsync a folder says so.
const dirSyncSupported = true

// syncUnsupported reports whether a folder fsync failed only because the
// platform does not support it.
func syncUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
