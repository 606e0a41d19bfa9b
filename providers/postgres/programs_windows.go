package postgres

import (
	"os"
	"strings"
)

// exeSuffix ends the file names of programs.
const exeSuffix = ".exe"

// installRoots are the program files folders of this system, where
// PostgreSQL's and CAST Storage Service's installers put their programs:
// %ProgramFiles% (and %ProgramW6432% when it differs, for a 32-bit
// planb), then %ProgramFiles(x86)%.
func installRoots() []string {
	var roots []string
	for _, v := range []string{"ProgramFiles", "ProgramW6432", "ProgramFiles(x86)"} {
		if dir := os.Getenv(v); dir != "" && !containsFold(roots, dir) {
			roots = append(roots, dir)
		}
	}
	if len(roots) == 0 {
		roots = []string{`C:\Program Files`}
	}
	return roots
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
