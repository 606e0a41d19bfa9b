package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
	"github.com/planb-backup/planb/providers/store/s3test"
)

// unshareMissing skips (or, with PLANB_TEST_REQUIRE, fails) when this
// process cannot start a child in a PID namespace of its own.
func unshareMissing(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		pgtest.Missing(t, "unshare is not installed (util-linux): runs in PID namespaces of their own cannot be started")
	}
	if out, err := exec.Command("unshare", "-p", "-f", "--mount-proc", "true").CombinedOutput(); err != nil {
		pgtest.Missing(t, "unshare -p -f --mount-proc fails (%v: %s): it needs root, or user namespaces", err, bytes.TrimSpace(out))
	}
}

// TestLocksAcrossPIDNamespaces runs two applies of one configuration on one
// host name, each in a PID namespace of its own, as two containers sharing
// the host's network and name would: the first holds the lock of a
// persistence folder and writes its archive (its after hook sleeps while
// the partial archive exists); the second finds the first's pid missing in
// its own namespace, which proves nothing. It neither takes the lock over
// (exit 11) nor plans to clean the first's partial, and the first commits
// its archive.
func TestLocksAcrossPIDNamespaces(t *testing.T) {
	unshareMissing(t)
	s3 := s3test.Start(t)
	s3.CreateBucket(t, "fleet")
	for _, c := range []struct {
		name  string
		block func(t *testing.T) string // the store block
	}{
		{"local", func(t *testing.T) string {
			return fmt.Sprintf("local { path = %q }", filepath.Join(t.TempDir(), "backups"))
		}},
		{"s3", func(t *testing.T) string {
			return fmt.Sprintf("s3 {\n    endpoint   = %q\n    bucket     = \"fleet\"\n    prefix     = %q\n    access_key = %q\n    secret_key = var.s3_secret\n  }",
				s3.URL, strings.ReplaceAll(t.Name(), "/", "-")+"/", s3.AccessKey)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			h2 := t.TempDir()
			writeTree(t, h2, map[string]string{"aip.mv.db": "h2 data"})
			started := filepath.Join(t.TempDir(), "after-hook-started")
			cfg := fmt.Sprintf(`
variable "s3_secret" {
  type      = string
  sensitive = true
}

store "shared" {
  %s
}

persistence "node1" {
  path   = %q
  every  = "24h"
  stores = [store.shared]
  after {
    command = ["sh", "-c", "touch %s; sleep 8"]
  }
}
`, c.block(t), h2, started)
			if err := os.WriteFile(filepath.Join(dir, "node.hcl"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "PLANB_VAR_s3_secret="+s3.SecretKey)
			now := "2026-11-25T08:00:00Z"
			planb := fmt.Sprintf("%q --chdir %q", planbBin, dir)

			// The first apply runs in a namespace where some processes came
			// first, so its pid is one the second namespace does not have.
			first := exec.Command("unshare", "-p", "-f", "--mount-proc", "sh", "-c",
				"for i in $(seq 60); do /bin/true; done; "+planb+" apply --auto-approve --now "+now+"; exit $?")
			first.Env = env
			var out1, err1 bytes.Buffer
			first.Stdout, first.Stderr = &out1, &err1
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if first.ProcessState == nil {
					first.Process.Kill()
					first.Wait()
				}
			}()
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(started); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the first apply never reached its after hook\nstderr:\n%s", err1.String())
				}
			}

			second := func(args ...string) result {
				t.Helper()
				cmd := exec.Command("unshare", append([]string{"-p", "-f", "--mount-proc", planbBin, "--chdir", dir}, args...)...)
				cmd.Env = env
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				return result{code: exitStatus(t, cmd.Run()), stdout: out.String(), stderr: errb.String()}
			}
			// The second plan sees the first's partial as live work of a
			// run that holds the lock: nothing to clean.
			r := second("plan", "--json", "--now", now)
			if r.code != 0 {
				t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			var doc struct {
				Actions []struct {
					Type string `json:"type"`
				} `json:"actions"`
				Resources []struct {
					PartialsKept []struct{ Archive, Why string } `json:"partials_kept"`
				} `json:"resources"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("plan --json: %v\n%s", err, r.stdout)
			}
			for _, a := range doc.Actions {
				if a.Type == "clean" {
					t.Errorf("the second plan cleans the first's live partial:\n%s", r.stdout)
				}
			}
			if len(doc.Resources) != 1 || len(doc.Resources[0].PartialsKept) != 1 ||
				doc.Resources[0].PartialsKept[0].Archive != "node1_2026-11-25-08-00-00.zip.partial" ||
				!strings.Contains(doc.Resources[0].PartialsKept[0].Why, "being written by pid") {
				t.Errorf("the second plan does not say whose the partial is:\n%s", r.stdout)
			}

			// The second apply waits for nothing and takes nothing over:
			// the lock is held (exit 11), by a process of another PID
			// namespace of this host.
			r = second("apply", "--auto-approve", "--now", now)
			host, _ := os.Hostname()
			if r.code != 11 || !strings.Contains(r.stderr, "on host "+host) || !strings.Contains(r.stderr, "another PID namespace") {
				t.Errorf("second apply: exit %d, want 11 naming the holder in another PID namespace\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "taking over") || strings.Contains(r.stdout, "clean persistence.node1") {
				t.Errorf("the second apply took the lock over or cleaned:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}

			if code := exitStatus(t, first.Wait()); code != 0 {
				t.Fatalf("first apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out1.String(), err1.String())
			}
			// The first run's archive is complete: its partial was never
			// cleaned under it.
			list := exec.Command(planbBin, "--chdir", dir, "list", "--json")
			list.Env = env
			out, err := list.Output()
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var listing struct {
				Archives []struct{ Archive, Status string } `json:"archives"`
			}
			if err := json.Unmarshal(out, &listing); err != nil {
				t.Fatalf("list --json: %v\n%s", err, out)
			}
			if len(listing.Archives) != 1 || listing.Archives[0].Archive != "node1_2026-11-25-08-00-00.zip" || listing.Archives[0].Status != "complete" {
				t.Errorf("after both applies the store lists:\n%s", out)
			}
		})
	}
}
