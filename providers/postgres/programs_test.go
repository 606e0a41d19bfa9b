package postgres

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBinDirsUnder(t *testing.T) {
	programFiles, x86, empty := t.TempDir(), t.TempDir(), t.TempDir()
	mk := func(root string, elem ...string) string {
		dir := filepath.Join(append([]string{root}, elem...)...)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	pg96 := mk(programFiles, "PostgreSQL", "9.6", "bin")
	pg16 := mk(programFiles, "PostgreSQL", "16", "bin")
	pg15 := mk(programFiles, "PostgreSQL", "15", "bin")
	pg15x86 := mk(x86, "PostgreSQL", "15", "bin")
	css3 := mk(programFiles, "CAST", "CastStorageService3", "bin")
	css4 := mk(programFiles, "CAST", "CastStorageService4", "bin")
	css := mk(x86, "CAST", "CastStorageService", "bin")
	mk(programFiles, "PostgreSQL", "17")                                                              // no bin folder
	mk(programFiles, "CAST", "AIP Console", "bin")                                                    // not CAST Storage Service
	mk(programFiles, "PostgreSQL", "16", "pgAdmin 4", "bin")                                          // not PostgreSQL's bin
	if err := os.WriteFile(filepath.Join(programFiles, "PostgreSQL", "18"), nil, 0o644); err != nil { // a file
		t.Fatal(err)
	}

	got := binDirsUnder([]string{programFiles, x86, empty})
	want := []string{pg16, pg15, pg15x86, pg96, css4, css3, css}
	if !slices.Equal(got, want) {
		t.Errorf("binDirsUnder:\n got %q\nwant %q", got, want)
	}
	if got := binDirsUnder(nil); len(got) != 0 {
		t.Errorf("binDirsUnder(nil) = %q", got)
	}
}

func TestInstallVersion(t *testing.T) {
	for dir, want := range map[string][]int{
		"PostgreSQL/16/bin":              {16},
		"PostgreSQL/9.6/bin":             {9, 6},
		"PostgreSQL/16.2/bin":            {16, 2},
		"PostgreSQL/15-beta/bin":         {15},
		"CAST/CastStorageService4/bin":   {4},
		"CAST/CastStorageService4.1/bin": {4, 1},
		"CAST/CastStorageService/bin":    nil,
	} {
		if got := installVersion(filepath.FromSlash(dir)); !slices.Equal(got, want) {
			t.Errorf("installVersion(%s) = %v, want %v", dir, got, want)
		}
	}
}

func TestFindProgram(t *testing.T) {
	binDir := t.TempDir()
	exe := filepath.Join(binDir, "pg_dump"+exeSuffix)
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findProgram(binDir, "pg_dump"); err != nil || got != exe {
		t.Errorf("findProgram in bin_dir = %q, %v; want %s", got, err, exe)
	}
	if _, err := findProgram(binDir, "pg_restore"); err == nil || !strings.Contains(err.Error(), "pg_restore"+exeSuffix+" not found in bin_dir "+binDir) {
		t.Errorf("findProgram of a program bin_dir lacks: %v", err)
	}

	// Without bin_dir: PATH.
	t.Setenv("PATH", binDir)
	if got, err := findProgram("", "pg_dump"); err != nil || got != exe {
		t.Errorf("findProgram in PATH = %q, %v; want %s", got, err, exe)
	}
	_, err := findProgram("", "pg_restore")
	if err == nil || !strings.Contains(err.Error(), "pg_restore"+exeSuffix+" not found in PATH") || !strings.Contains(err.Error(), "set bin_dir") {
		t.Errorf("findProgram of a program PATH lacks: %v", err)
	}
}
