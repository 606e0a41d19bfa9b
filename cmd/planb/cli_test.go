package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

// planbRun runs planb in-process and returns its exit code and output.
func planbRun(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidateExamples(t *testing.T) {
	for _, ex := range []string{"quickstart", "cast-aip", "fleet", "windows"} {
		t.Run(ex, func(t *testing.T) {
			dir := filepath.Join("..", "..", "examples", ex)
			if _, err := os.Stat(dir); err != nil {
				pgtest.Missing(t, "example %s absent", ex)
			}
			code, out, errs := planbRun(t, "", "--chdir", dir, "validate")
			if code != 0 || !strings.Contains(out, "The configuration is valid.") {
				t.Fatalf("validate %s: exit %d\n%s%s", ex, code, out, errs)
			}
			code, out, _ = planbRun(t, "", "fmt", "--check", "--recursive", dir)
			if code != 0 {
				t.Errorf("fmt --check %s: exit %d, files would change:\n%s", ex, code, out)
			}
		})
	}
}

func TestValidateJSONAndExitCodes(t *testing.T) {
	dir := writeConfig(t, map[string]string{"main.hcl": `store "s" {
  local { path = "/tmp/x" }
}

application "A" {
  database = database.nope
  schemas  = { management = "a_mngt" }
  stores   = [store.s]
}
`})
	code, out, _ := planbRun(t, "", "--chdir", dir, "validate", "--json")
	if code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Valid         bool   `json:"valid"`
		ErrorCount    int    `json:"error_count"`
		Diagnostics   []struct {
			Severity, Summary string
			Range             struct {
				Filename string
				Start    struct{ Line, Column int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("validate --json is not one JSON document: %v\n%s", err, out)
	}
	if doc.FormatVersion != "1.0" || doc.Valid || doc.ErrorCount != 1 || len(doc.Diagnostics) != 1 {
		t.Fatalf("document: %+v", doc)
	}
	d := doc.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Reference to undeclared database" ||
		filepath.Base(d.Range.Filename) != "main.hcl" || d.Range.Start.Line != 6 || d.Range.Start.Column != 14 {
		t.Errorf("diagnostic: %+v", d)
	}

	// The human form names the file and line and shows the source.
	code, _, errs := planbRun(t, "", "--chdir", dir, "validate")
	if code != exitError || !strings.Contains(errs, "main.hcl line 6") || !strings.Contains(errs, "database.nope") {
		t.Errorf("validate: exit %d\n%s", code, errs)
	}
}

func TestFmt(t *testing.T) {
	messy := "store \"s\" {\nlocal {\npath=\"/x\"\n}\n}\n"
	dir := writeConfig(t, map[string]string{"a.hcl": messy, "b.hcl": "locals {\n  a = 1\n}\n"})
	code, out, _ := planbRun(t, "", "fmt", "--check", "--diff", dir)
	if code != exitFmtChanges {
		t.Fatalf("fmt --check: exit %d, want 3", code)
	}
	if !strings.Contains(out, filepath.Join(dir, "a.hcl")) || strings.Contains(out, "b.hcl") || !strings.Contains(out, "+  local {") {
		t.Errorf("fmt --check --diff output:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.hcl")); string(b) != messy {
		t.Errorf("--check wrote the file")
	}
	if code, _, _ := planbRun(t, "", "fmt", dir); code != 0 {
		t.Fatalf("fmt: exit %d", code)
	}
	if code, _, _ := planbRun(t, "", "fmt", "--check", dir); code != 0 {
		t.Errorf("fmt --check after fmt: exit %d", code)
	}
	// A file with a syntax error is not touched.
	broken := "store \"s\" {\n  local {\n"
	os.WriteFile(filepath.Join(dir, "c.hcl"), []byte(broken), 0o644)
	code, _, errs := planbRun(t, "", "fmt", dir)
	if code != exitError || !strings.Contains(errs, "c.hcl") {
		t.Errorf("fmt of a broken file: exit %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "c.hcl")); string(b) != broken {
		t.Errorf("fmt changed a file with syntax errors")
	}
	code, out, _ = planbRun(t, messy, "fmt", "-")
	if code != 0 || !strings.Contains(out, "  local {\n    path = \"/x\"") {
		t.Errorf("fmt -: exit %d\n%s", code, out)
	}
}

func TestCLIBasics(t *testing.T) {
	code, out, _ := planbRun(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "planb ") {
		t.Errorf("version: %d %q", code, out)
	}
	code, _, errs := planbRun(t, "", "no-such-command")
	if code != exitError || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	code, _, errs = planbRun(t, "", "plan", "--now", "yesterday")
	if code != exitError || !strings.Contains(errs, "--now \"yesterday\": want an RFC 3339 time") {
		t.Errorf("bad --now: %d %q", code, errs)
	}
	code, out, _ = planbRun(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "planb") {
		t.Errorf("completion bash: %d", code)
	}
	for _, cmd := range []string{"validate", "fmt", "plan", "apply", "list", "verify", "show", "graph"} {
		code, out, _ := planbRun(t, "", cmd, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
	}
}

// filesConfig writes the smallest configuration apply can run without a
// database: one folder backed up into one local store. It returns the
// configuration directory and the store's root.
func filesConfig(t *testing.T) (dir, root string) {
	t.Helper()
	root = t.TempDir()
	dir = writeConfig(t, map[string]string{"main.hcl": `store "s" {
  local { path = "` + root + `" }
}

persistence "files" {
  path = "` + t.TempDir() + `"
}
`})
	return dir, root
}

func TestApplyAsksForConfirmation(t *testing.T) {
	dir, root := filesConfig(t)
	code, out, errs := planbRun(t, "no\n", "--chdir", dir, "apply")
	if code != exitError || !strings.Contains(out, "Only 'yes' will be accepted") || !strings.Contains(errs, "apply cancelled") {
		t.Fatalf("apply answered no: exit %d\n%s%s", code, out, errs)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "persistence", "files", "*")); len(m) > 0 {
		t.Fatalf("apply answered no wrote %v", m)
	}
	code, out, errs = planbRun(t, "yes\n", "--chdir", dir, "apply")
	if code != 0 {
		t.Fatalf("apply answered yes: exit %d\n%s%s", code, out, errs)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "persistence", "files", "*.zip")); len(m) != 1 {
		t.Fatalf("apply answered yes wrote %v", m)
	}
}

func TestApplyJSONStartsWithThePlan(t *testing.T) {
	dir, _ := filesConfig(t)
	code, out, errs := planbRun(t, "", "--chdir", dir, "apply", "--auto-approve", "--json")
	if code != 0 {
		t.Fatalf("apply --json: exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first struct {
		Type string
		Plan struct {
			FormatVersion string `json:"format_version"`
			Actions       []struct{ Type, Resource string }
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("first line is not JSON: %v\n%s", err, lines[0])
	}
	if first.Type != "plan" || first.Plan.FormatVersion != "1.0" || len(first.Plan.Actions) != 1 || first.Plan.Actions[0].Resource != "persistence.files" {
		t.Errorf("first line: %+v", first)
	}
	var last struct{ Type, Status string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "summary" || last.Status != "ok" {
		t.Errorf("last line: %q (%v)", lines[len(lines)-1], err)
	}
}

// The CI example's validation loop passes on the repository's own
// examples, var files included, and fails on a broken configuration.
func TestCIExampleValidatesExamples(t *testing.T) {
	script := filepath.Join("..", "..", "examples", "ci", "validate-all.sh")
	if _, err := exec.LookPath("bash"); err != nil {
		pgtest.Missing(t, "bash is not installed")
	}
	run := func(root string) (int, string) {
		cmd := exec.Command("bash", script, root)
		cmd.Env = append(os.Environ(), "PLANB="+planbBin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	code, out := run(filepath.Join("..", "..", "examples"))
	if code != 0 || !strings.Contains(out, "node-a.vars.hcl") {
		t.Fatalf("validate-all.sh examples: exit %d\n%s", code, out)
	}
	broken := writeConfig(t, map[string]string{"main.hcl": "database \"x\" {\n  port = 1\n}\n"})
	if code, out := run(broken); code != 1 || !strings.Contains(out, "Missing required argument") {
		t.Fatalf("validate-all.sh on a broken configuration: exit %d\n%s", code, out)
	}
}
