package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNestingTooDeep checks that absurdly nested input is a diagnostic with
// its position, not a stack overflow, in every command that parses HCL.
func TestNestingTooDeep(t *testing.T) {
	const depth = 60_000
	src := "locals {\n  x = " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n}\n"
	dir := writeConfig(t, map[string]string{"deep.hcl": src})
	want := "deeper than 1000 levels"

	code, _, errs := planbRun(t, src, "fmt", "-")
	if code != exitError || !strings.Contains(errs, "Nesting too deep") || !strings.Contains(errs, "<stdin> line 2") || !strings.Contains(errs, want) {
		t.Errorf("fmt -: exit %d\n%.2000s", code, errs)
	}
	code, _, errs = planbRun(t, "", "fmt", dir)
	if code != exitError || !strings.Contains(errs, "deep.hcl line 2") || !strings.Contains(errs, want) {
		t.Errorf("fmt: exit %d\n%.2000s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "deep.hcl")); string(b) != src {
		t.Errorf("fmt changed the file")
	}
	code, out, _ := planbRun(t, "", "--chdir", dir, "validate", "--json")
	if code != exitError || !strings.Contains(out, `"summary": "Nesting too deep"`) || !strings.Contains(out, want) {
		t.Errorf("validate --json: exit %d\n%.2000s", code, out)
	}
}
