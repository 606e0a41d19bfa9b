//go:build !windows

package files

// LongPath returns p: only Windows limits the length of a path below what
// its file systems hold.
func LongPath(p string) string { return p }
