//go:build !windows

package postgres

// exeSuffix ends the file names of programs: nothing.
const exeSuffix = ""

// installRoots are the folders searched besides PATH: none. PostgreSQL's
// packages put their client programs in PATH.
func installRoots() []string { return nil }
