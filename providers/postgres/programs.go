package postgres

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// findProgram returns the path of the PostgreSQL client program name
// ("pg_dump"): in binDir when it is set; else in PATH; else in the folders
// where PostgreSQL installers put it on this system (installBinDirs: on
// Windows, PostgreSQL's and CAST Storage Service's, newest version first).
func findProgram(binDir, name string) (string, error) {
	file := name + exeSuffix
	if binDir != "" {
		p := filepath.Join(binDir, file)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s not found in bin_dir %s", file, binDir)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	roots := installRoots()
	for _, dir := range binDirsUnder(roots) {
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if len(roots) == 0 {
		return "", fmt.Errorf("%s not found in PATH (install the PostgreSQL client or set bin_dir)", file)
	}
	return "", fmt.Errorf("%s not found in PATH nor in %s (install the PostgreSQL client or set bin_dir)",
		file, strings.Join(installPatterns(roots), ", "))
}

// installLayouts are where PostgreSQL client programs are installed under
// a program files folder of Windows: <root>\PostgreSQL\<version>\bin by the
// PostgreSQL installer, <root>\CAST\CastStorageService<version>\bin by
// CAST Storage Service; in the order they are searched.
var installLayouts = [][]string{
	{"PostgreSQL", "*", "bin"},
	{"CAST", "CastStorageService*", "bin"},
}

// installPatterns are the glob patterns of installLayouts under each of
// roots, in the order they are searched.
func installPatterns(roots []string) []string {
	var patterns []string
	for _, layout := range installLayouts {
		for _, root := range roots {
			patterns = append(patterns, filepath.Join(append([]string{root}, layout...)...))
		}
	}
	return patterns
}

// binDirsUnder returns the existing folders of installPatterns(roots) in
// the order they are searched: PostgreSQL's before CAST Storage
// Service's, each newest version first (a newer pg_dump dumps older
// servers, not the other way round), and of one version the first root's
// first.
func binDirsUnder(roots []string) []string {
	var dirs []string
	for _, layout := range installLayouts {
		var found []string
		for _, root := range roots {
			matches, _ := filepath.Glob(filepath.Join(append([]string{root}, layout...)...))
			for _, m := range matches {
				if fi, err := os.Stat(m); err == nil && fi.IsDir() {
					found = append(found, m)
				}
			}
		}
		slices.SortStableFunc(found, func(a, b string) int {
			return slices.Compare(installVersion(b), installVersion(a))
		})
		dirs = append(dirs, found...)
	}
	return dirs
}

// installVersion is the version a bin folder's parent names: "16" and
// "9.6" of PostgreSQL\16 and PostgreSQL\9.6, "4" of CastStorageService4;
// nil when it names none.
func installVersion(binDir string) []int {
	name := filepath.Base(filepath.Dir(binDir))
	start := strings.IndexFunc(name, unicode.IsDigit)
	if start < 0 {
		return nil
	}
	var v []int
	for _, part := range strings.Split(name[start:], ".") {
		digits := part
		if end := strings.IndexFunc(part, func(r rune) bool { return !unicode.IsDigit(r) }); end >= 0 {
			digits = part[:end]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			break
		}
		v = append(v, n)
		if len(digits) < len(part) {
			break
		}
	}
	return v
}
