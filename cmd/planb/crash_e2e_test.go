package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestCrashLeavesNoCompleteLookingArchive kills apply with SIGKILL at many
// points: every archive that lists as complete must pass unzip -t and
// planb verify, earlier archives stay byte for byte the same, and the next
// apply succeeds.
func TestCrashLeavesNoCompleteLookingArchive(t *testing.T) {
	e := newEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-20T08:00:00Z")
	earlier := map[string]string{}
	for _, folder := range []string{"applications/shop", "applications/legacy", "measurement/health"} {
		for _, z := range zips(t, e.backups, folder) {
			earlier[z] = fileSum(t, z)
		}
	}

	delays := []time.Duration{}
	for d := 20 * time.Millisecond; d < 4*time.Second; d = d * 3 / 2 {
		delays = append(delays, d)
	}
	for i, delay := range delays {
		now := time.Date(2026, 11, 21, 8, 0, i, 0, time.UTC).Format(time.RFC3339)
		cmd := exec.Command(planbBin, "--chdir", e.dir, "apply", "--auto-approve", "--now", now)
		cmd.Env = append(os.Environ(), e.env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		for _, folder := range []string{"applications/shop", "applications/legacy", "measurement/health"} {
			for _, z := range zips(t, e.backups, folder) {
				if sum, ok := earlier[z]; ok {
					if fileSum(t, z) != sum {
						t.Fatalf("after a kill at %v: earlier archive %s changed", delay, z)
					}
					continue
				}
				if out, err := exec.Command("unzip", "-tq", z).CombinedOutput(); err != nil {
					t.Fatalf("after a kill at %v: %s lists as complete but unzip -t fails: %v\n%s", delay, z, err, out)
				}
			}
		}
	}
	r := e.mustPlanb(t, 0, "verify")
	if strings.Contains(r.stdout, "FAILED") {
		t.Fatalf("verify after kills:\n%s", r.stdout)
	}
	// The next apply cleans the leftovers, takes over stale locks and succeeds.
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-22T08:00:00Z")
	e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--now", "2026-11-22T08:00:00Z")
	for _, folder := range []string{"applications/shop", "applications/legacy", "measurement/health"} {
		m, _ := filepath.Glob(filepath.Join(e.backups, folder, "*.partial"))
		if len(m) > 0 {
			t.Errorf("partials left after a successful apply: %v", m)
		}
	}
}

// TestConcurrentApplies runs a second apply while a first one holds the
// lock of the same resource (its before hook keeps it busy): the second
// exits 11 and names the holder; the first completes.
func TestConcurrentApplies(t *testing.T) {
	e := newEstate(t, fmt.Sprintf(`
persistence "slow" {
  path = %q
  before {
    command = ["sleep", "3"]
  }
}
`, t.TempDir()))
	first := exec.Command(planbBin, "--chdir", e.dir, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "persistence.slow")
	first.Env = append(os.Environ(), e.env...)
	var firstOut strings.Builder
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(e.backups, "locks", "persistence", "slow.lock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first apply never took its lock:\n%s", firstOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := e.mustPlanb(t, 11, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "persistence.slow")
	if !strings.Contains(r.stdout+r.stderr, fmt.Sprintf("locked by pid %d", first.Process.Pid)) {
		t.Errorf("the refused apply does not name the holder:\n%s%s", r.stdout, r.stderr)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the first apply: %v\n%s", err, firstOut.String())
	}
	if got := zips(t, e.backups, "persistence/slow"); len(got) != 1 {
		t.Errorf("archives: %v, want one", got)
	}

	// With --lock-timeout the second apply waits for the lock instead; the
	// folder changed meanwhile, so it plans again and finds nothing to do.
	first = exec.Command(planbBin, "--chdir", e.dir, "apply", "--auto-approve", "--now", "2026-11-27T08:00:00Z", "--target", "persistence.slow")
	first.Env = append(os.Environ(), e.env...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first apply never took its lock")
		}
	}
	r = e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-27T08:00:00Z", "--target", "persistence.slow", "--lock-timeout", "60s")
	if !strings.Contains(r.stdout, "persistence.slow changed while this apply waited for its lock: planning again.") ||
		!strings.Contains(r.stdout, "No changes: every resource is up to date") {
		t.Errorf("the waiting apply did not plan again:\n%s%s", r.stdout, r.stderr)
	}
	// A saved plan is run exactly or not at all: it stops as stale.
	planFile := filepath.Join(t.TempDir(), "slow.plan")
	e.mustPlanb(t, 0, "plan", "--now", "2026-11-28T08:00:00Z", "--target", "persistence.slow", "--out", planFile)
	second := exec.Command(planbBin, "--chdir", e.dir, "apply", "--auto-approve", "--now", "2026-11-28T08:00:00Z", "--target", "persistence.slow")
	second.Env = append(os.Environ(), e.env...)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply never took its lock")
		}
	}
	r = e.mustPlanb(t, 1, "apply", "--lock-timeout", "60s", planFile)
	if !strings.Contains(r.stdout+r.stderr, "changed while this apply waited for its lock (slow_2026-11-28-08-00-00.zip is new)") {
		t.Errorf("the saved plan does not stop as stale:\n%s%s", r.stdout, r.stderr)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("the apply holding the lock: %v", err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the first apply: %v", err)
	}
	if got := zips(t, e.backups, "persistence/slow"); len(got) != 3 {
		t.Errorf("archives: %v, want three", got)
	}
}
