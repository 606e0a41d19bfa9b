package archive

import (
	"fmt"
	"runtime"
	"strings"
	"unicode"
)

// onWindows is true when planb runs on Windows: Extract, and the checks of
// SafetyOptions.ForThisSystem, then refuse the names Windows cannot hold.
const onWindows = runtime.GOOS == "windows"

// NameProblem is an entry name a system cannot hold, and why.
type NameProblem struct {
	Name   string
	Reason string
}

// WindowsNameProblems returns, in the order of names, the entry names
// (slash-separated, a directory's ending in "/") that Windows cannot
// create as they are, each with its reason:
//
//   - an element that is a reserved device name — CON, PRN, AUX, NUL,
//     COM1 to COM9, LPT1 to LPT9 (also with ¹, ² or ³), CONIN$, CONOUT$ —
//     alone or before an extension (NUL.txt, nul.tar.gz, "CON .txt");
//   - an element ending in a dot or a space, which Windows strips;
//   - one of the characters < > : " | ? * or a control character;
//   - a name that differs from an earlier one only in letter case, which
//     Windows takes for the same file.
//
// It looks at the names only, the same way on every system: a restore on
// Windows refuses such entries before it writes anything, and a backup
// made elsewhere warns about them.
func WindowsNameProblems(names []string) []NameProblem {
	var problems []NameProblem
	seen := make(map[string]string, len(names))
	for _, name := range names {
		base := strings.TrimSuffix(name, "/")
		if reason := windowsPathProblem(base); reason != "" {
			problems = append(problems, NameProblem{Name: name, Reason: reason})
			continue
		}
		key := foldCase(base)
		if first, ok := seen[key]; ok {
			if strings.TrimSuffix(first, "/") != base {
				problems = append(problems, NameProblem{Name: name, Reason: fmt.Sprintf("differs from %q only in letter case", first)})
			}
			continue
		}
		seen[key] = name
	}
	return problems
}

// windowsPathProblem returns why Windows cannot hold the slash-separated
// path p, or "".
func windowsPathProblem(p string) string {
	for _, elem := range strings.Split(p, "/") {
		if reason := windowsElementProblem(elem); reason != "" {
			if elem != p {
				return fmt.Sprintf("%q: %s", elem, reason)
			}
			return reason
		}
	}
	return ""
}

// windowsElementProblem returns why Windows cannot hold a file or
// directory named elem, or "".
func windowsElementProblem(elem string) string {
	for _, r := range elem {
		switch {
		case r < 0x20:
			return fmt.Sprintf("control character %U in the name", r)
		case strings.ContainsRune(`<>:"|?*`, r):
			return fmt.Sprintf("character %c in the name", r)
		}
	}
	switch {
	case strings.HasSuffix(elem, "."):
		return "name ends in a dot"
	case strings.HasSuffix(elem, " "):
		return "name ends in a space"
	}
	device, _, _ := strings.Cut(elem, ".")
	device = strings.TrimRight(device, " ")
	if reservedDeviceName(device) {
		return fmt.Sprintf("%s is a reserved device name", strings.ToUpper(device))
	}
	return ""
}

// reservedDeviceName reports whether s names a DOS device, in any letter
// case.
func reservedDeviceName(s string) bool {
	u := strings.ToUpper(s)
	switch u {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	rest, ok := strings.CutPrefix(u, "COM")
	if !ok {
		rest, ok = strings.CutPrefix(u, "LPT")
	}
	return ok && deviceNumber(rest)
}

// deviceNumber reports whether s numbers a COM or LPT device: 1 to 9, or
// the superscripts ¹ ² ³ Windows takes for 1 2 3.
func deviceNumber(s string) bool {
	switch s {
	case "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
		return true
	}
	return false
}

// foldCase maps a name to the form two names Windows takes for the same
// file share: every letter upper-cased, as NTFS compares names.
func foldCase(s string) string { return strings.Map(unicode.ToUpper, s) }
