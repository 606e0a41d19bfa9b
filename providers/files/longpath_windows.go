package files

import "path/filepath"

// LongPath returns p in the form Win32 calls made outside the os package
// accept at any length: made absolute and, when it is 248 characters or
// longer, with the extended-length prefix \\?\ (see extendedLengthPath).
// The os package does this by itself; LongPath is for the calls it does
// not make, such as MoveFileEx.
func LongPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return extendedLengthPath(p)
}
