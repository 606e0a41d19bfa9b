//go:build !unix && !windows

package files

// crossDevice reports whether a rename failed because its two names are
// on different file systems: never known here.
func crossDevice(error) bool { return false }
