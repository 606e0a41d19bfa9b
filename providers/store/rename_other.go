//go:build unix && !linux

package store

// renameNoReplace renames oldpath to newpath, failing with an error that
// matches fs.ErrExist when newpath exists.
func renameNoReplace(oldpath, newpath string) error { return linkNoReplace(oldpath, newpath) }
