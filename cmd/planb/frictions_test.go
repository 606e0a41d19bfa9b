package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A files-only configuration with one store and one application.
const frictionsHCL = `store "node" {
  local { path = %q }
}

persistence "files" {
  path   = %q
  every  = "24h"
  stores = [store.node]
}
`

func TestFrictions(t *testing.T) {
	backups, data := t.TempDir(), t.TempDir()
	dir := writeConfig(t, map[string]string{"main.hcl": fmt.Sprintf(frictionsHCL, backups, data)})

	t.Run("list --json with no archives", func(t *testing.T) {
		code, out, errs := planbRun(t, "", "--chdir", dir, "list", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if string(doc["archives"]) != "[]" {
			t.Errorf(`"archives" = %s, want []`, doc["archives"])
		}
	})

	t.Run("--now relative", func(t *testing.T) {
		code, out, errs := planbRun(t, "", "--chdir", dir, "plan", "--json", "--now", "-7d")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var p struct{ Now time.Time }
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(p.Now) - 7*24*time.Hour; d < -time.Minute || d > time.Minute {
			t.Errorf("--now -7d planned as of %s, want 7 days ago", p.Now)
		}
		code, _, errs = planbRun(t, "", "--chdir", dir, "plan", "--now", "+x")
		if code != 1 || !strings.Contains(errs, "+25h or -7d") {
			t.Errorf("--now +x: exit %d, %s", code, errs)
		}
	})

	t.Run("show without a plan file", func(t *testing.T) {
		code, _, errs := planbRun(t, "", "show")
		if code != 1 || !strings.Contains(errs, "planb show PLAN-FILE, where PLAN-FILE was written by planb plan --out") {
			t.Errorf("show: exit %d, %s", code, errs)
		}
	})

	t.Run("fmt --diff removes before it adds", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "x.hcl")
		if err := os.WriteFile(file, []byte("retention \"r\" {\n  keep_last=3\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, out, _ := planbRun(t, "", "fmt", "--diff", "--check", file)
		minus, plus := strings.Index(out, "\n-  keep_last=3"), strings.Index(out, "\n+  keep_last = 3")
		if minus < 0 || plus < 0 || minus > plus {
			t.Errorf("fmt --diff:\n%s", out)
		}
	})
}

// Read-only commands need no database secrets: plan, list and graph run
// with a sensitive password variable that has no value; the apply step that
// connects fails naming the variable, and the variable's absence is no
// error for non-sensitive variables only.
func TestSecretsOnlyWhereNeeded(t *testing.T) {
	backups := t.TempDir()
	dir := writeConfig(t, map[string]string{"main.hcl": fmt.Sprintf(`variable "pw" {
  type      = string
  sensitive = true
}

database "css" {
  host     = "127.0.0.1"
  password = var.pw
}

store "node" {
  local { path = %q }
}

measurement "health" {
  database = database.css
  schema   = "aip_measure"
  every    = "24h"
  stores   = [store.node]
}
`, backups)})
	for _, args := range [][]string{{"plan"}, {"list"}, {"graph"}, {"validate"}} {
		code, out, errs := planbRun(t, "", append([]string{"--chdir", dir}, args...)...)
		if code != 0 {
			t.Errorf("planb %s without the password: exit %d\n%s%s", args[0], code, out, errs)
		}
	}
	code, out, errs := planbRun(t, "", "--chdir", dir, "apply", "--auto-approve")
	if code != 1 || !strings.Contains(out+errs, `the password of database.css comes from the sensitive variable "pw", which has no value`) {
		t.Errorf("apply without the password: exit %d\n%s%s", code, out, errs)
	}
}
