package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// graph --target limits the plan made now, and is refused with a saved
// plan, whose targets were fixed when it was made.
func TestGraphTarget(t *testing.T) {
	data := t.TempDir()
	writeTree(t, data, map[string]string{"a/db": "a", "b/db": "b"})
	dir := writeConfig(t, map[string]string{"main.hcl": `
store "node" {
  local { path = "` + t.TempDir() + `" }
}

persistence "a" {
  path = "` + filepath.Join(data, "a") + `"
}

persistence "b" {
  path = "` + filepath.Join(data, "b") + `"
}
`})
	code, out, errs := planbRun(t, "", "--chdir", dir, "graph", "--target", "persistence.a")
	if code != 0 {
		t.Fatalf("graph --target: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "persistence.a") || strings.Contains(out, "persistence.b") {
		t.Errorf("graph --target persistence.a does not show a alone:\n%s", out)
	}
	saved := filepath.Join(t.TempDir(), "all.plan")
	if code, out, errs := planbRun(t, "", "--chdir", dir, "plan", "--out", saved); code != 0 {
		t.Fatalf("plan --out: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = planbRun(t, "", "--chdir", dir, "graph", saved, "--target", "persistence.a")
	if code != exitError || !strings.Contains(errs, "--target cannot be combined with a saved plan") {
		t.Errorf("graph PLAN-FILE --target: exit %d\n%s", code, errs)
	}
}
