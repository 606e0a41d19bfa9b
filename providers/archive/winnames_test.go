package archive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestWindowsNameProblems(t *testing.T) {
	ok := []string{
		"delivery/", "delivery/src/main.c", "CONTRIBUTING.md", "console/", "nul_handler.c", "COM10",
		"LPT0x", "auxiliary.txt", "con-fig", "a.b.c", "x/.hidden", "ünïcødé/ß.txt", "COM4a",
		"prn2.txt", "aux_/x", ".gitignore",
	}
	if got := WindowsNameProblems(ok); len(got) != 0 {
		t.Errorf("problems with names Windows holds: %+v", got)
	}
	bad := map[string]string{
		"CON":                  "CON is a reserved device name",
		"delivery/prn":         `"prn": PRN is a reserved device name`,
		"aux.c":                "AUX is a reserved device name",
		"src/NUL.txt":          "NUL is a reserved device name",
		"src/nul.tar.gz":       "NUL is a reserved device name",
		"CON .txt":             "CON is a reserved device name",
		"com1":                 "COM1 is a reserved device name",
		"Com9.log":             "COM9 is a reserved device name",
		"lpt1/":                "LPT1 is a reserved device name",
		"LPT9.txt":             "LPT9 is a reserved device name",
		"COM\u00b9":            "is a reserved device name",
		"lpt\u00b3.txt":        "is a reserved device name",
		"CONIN$":               "CONIN$ is a reserved device name",
		"conout$.x":            "CONOUT$ is a reserved device name",
		"aux/readme.md":        `"aux": AUX is a reserved device name`,
		"notes.":               "ends in a dot",
		"dir./file":            `"dir.": name ends in a dot`,
		"trailing ":            "ends in a space",
		"d /f":                 "ends in a space",
		"a<b":                  "character <",
		"a>b":                  "character >",
		"a:b":                  "character :",
		"stream.txt:Zone.Id":   "character :",
		`say "hi".txt`:         `character "`,
		"a|b":                  "character |",
		"why?":                 "character ?",
		"*.c":                  "character *",
		"tab\there":            "control character U+0009",
		"src/\x1bescape":       "control character U+001B",
		"deep/er/still/COM3.h": `"COM3.h": COM3 is a reserved device name`,
	}
	for name, want := range bad {
		got := WindowsNameProblems([]string{name})
		if len(got) != 1 || got[0].Name != name || !strings.Contains(got[0].Reason, want) {
			t.Errorf("WindowsNameProblems(%q) = %+v, want one with %q", name, got, want)
		}
	}
}

func TestWindowsNameProblemsCase(t *testing.T) {
	names := []string{"src/", "src/Main.java", "SRC/", "src/main.java", "src/MAIN.JAVA", "README", "readme/", "café", "CAFÉ", "x", "x"}
	got := WindowsNameProblems(names)
	want := []NameProblem{
		{"SRC/", `differs from "src/" only in letter case`},
		{"src/main.java", `differs from "src/Main.java" only in letter case`},
		{"src/MAIN.JAVA", `differs from "src/Main.java" only in letter case`},
		{"readme/", `differs from "README" only in letter case`},
		{"CAFÉ", `differs from "café" only in letter case`},
	}
	if len(got) != len(want) {
		t.Fatalf("WindowsNameProblems = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// On every system, a restore with SafetyOptions.Windows (set by Extract on Windows)
// refuses an archive holding names Windows cannot hold, naming each, before it writes
// anything.
func TestCheckSafeWindows(t *testing.T) {
	r := handMade(t,
		rawEntry{name: "delivery/", mode: fs.ModeDir | 0o755},
		rawEntry{name: "delivery/src/aux.c", data: "x"},
		rawEntry{name: "delivery/src/Makefile", data: "x"},
		rawEntry{name: "delivery/src/makefile", data: "x"},
		rawEntry{name: "delivery/notes.", data: "x"},
		rawEntry{name: "delivery/a:b", data: "x"},
		rawEntry{name: "delivery/ok.txt", data: "x"},
		rawEntry{name: "options/NUL.xml", data: "x"},
	)
	if err := r.CheckSafe(SafetyOptions{}); err != nil {
		t.Fatalf("CheckSafe without Windows: %v", err)
	}
	err := r.CheckSafe(SafetyOptions{Windows: true, Prefixes: []string{"delivery/"}})
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("CheckSafe with Windows: %v", err)
	}
	for _, want := range []string{
		`entry "delivery/src/aux.c": Windows cannot hold it: "aux.c": AUX is a reserved device name`,
		`entry "delivery/src/makefile": Windows cannot hold it: differs from "delivery/src/Makefile" only in letter case`,
		`entry "delivery/notes.": Windows cannot hold it: "notes.": name ends in a dot`,
		`entry "delivery/a:b": Windows cannot hold it: "a:b": character : in the name`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	for _, not := range []string{"ok.txt", "options/NUL.xml", `"delivery/src/Makefile": `} {
		if strings.Contains(err.Error(), not) {
			t.Errorf("error names %s:\n%v", not, err)
		}
	}

	target := filepath.Join(t.TempDir(), "target")
	if _, err := r.Extract(context.Background(), "delivery/", target, SafetyOptions{Windows: true}); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "aux.c") {
		t.Fatalf("Extract with Windows: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Extract refused but created the target: %v", err)
	}
	if got := (SafetyOptions{}).ForThisSystem().Windows; got != (runtime.GOOS == "windows") {
		t.Errorf("ForThisSystem().Windows = %v on %s", got, runtime.GOOS)
	}
}

// Past 20 problems, the error says how many more there are.
func TestCheckSafeCountsTheRest(t *testing.T) {
	var entries []rawEntry
	for i := range 25 {
		entries = append(entries, rawEntry{name: "d/" + strings.Repeat("x", i+1) + ".", data: "x"})
	}
	err := handMade(t, entries...).CheckSafe(SafetyOptions{Windows: true})
	if err == nil || !strings.Contains(err.Error(), "and 5 more unsafe entries") || strings.Count(err.Error(), "name ends in a dot") != 20 {
		t.Fatalf("CheckSafe: %v", err)
	}
}

// Whatever the system, entries whose names hold Windows path syntax — backslashes, drive
// letters, UNC prefixes — are refused.
func TestReaderRefusesWindowsPaths(t *testing.T) {
	for name, want := range map[string]string{
		`a\b.txt`:                 "backslash",
		`..\..\evil`:              "backslash",
		`C:\evil`:                 "backslash",
		"C:/evil":                 "drive letter",
		"c:evil":                  "drive letter",
		`\\server\share\evil`:     "backslash",
		"//server/share/evil":     "absolute path",
		`\\?\C:\evil`:             "backslash",
		"//?/C:/evil":             "absolute path",
		"/evil":                   "absolute path",
		"delivery/C:/evil":        "character :",
		"delivery/x/../../../etc": `".." in path`,
	} {
		r := handMade(t, rawEntry{name: name, data: "x"})
		opts := SafetyOptions{}
		if strings.HasPrefix(name, "delivery/C:") {
			opts.Windows = true // a colon inside a name is for Windows to refuse
		}
		if err := r.CheckSafe(opts); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSafe of %q: %v, want %q", name, err, want)
		}
	}
}

// AddTree names entries with "/" on every system, and lists the names a restore on
// Windows would refuse without leaving them out.
func TestAddTreeNamesForWindows(t *testing.T) {
	dir := t.TempDir()
	files := []string{"src/main/App.java", "docs/notes.txt"}
	var want []NameProblem
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" { // case-sensitive file names
		files = append(files, "docs/Notes.txt")
		want = append(want, NameProblem{"docs/notes.txt", `differs from "docs/Notes.txt" only in letter case`})
	}
	if runtime.GOOS != "windows" {
		files = append(files, "src/aux.c")
		want = append(want, NameProblem{"src/aux.c", `"aux.c": AUX is a reserved device name`})
	}
	for _, p := range files {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, filepath.FromSlash(p))), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte("x"), 0o644))
	}
	out := filepath.Join(t.TempDir(), "a.zip")
	f, err := os.Create(out)
	must(t, err)
	w := NewWriter(f, WriterOptions{})
	stats, err := w.AddTree(context.Background(), "delivery", dir, TreeOptions{})
	must(t, err)
	must(t, w.Close(nil))
	must(t, f.Close())

	if len(stats.NotForWindows) != len(want) {
		t.Fatalf("NotForWindows = %+v, want %+v", stats.NotForWindows, want)
	}
	for i := range want {
		if stats.NotForWindows[i] != want[i] {
			t.Errorf("NotForWindows[%d] = %+v, want %+v", i, stats.NotForWindows[i], want[i])
		}
	}

	data, err := os.ReadFile(out)
	must(t, err)
	r, err := Open(strings.NewReader(string(data)), int64(len(data)))
	must(t, err)
	var names []string
	for _, e := range r.Entries() {
		names = append(names, e.Name)
	}
	for _, want := range []string{"delivery/", "delivery/src/", "delivery/src/main/", "delivery/src/main/App.java", "delivery/docs/notes.txt"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("entry %s missing from %q", want, names)
		}
	}
	for _, n := range names {
		if strings.Contains(n, `\`) {
			t.Errorf("entry %q holds a backslash", n)
		}
	}
}
