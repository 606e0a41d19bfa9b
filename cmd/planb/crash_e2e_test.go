package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// TestConcurrentApplies runs two applies on the same resources at once: one
// runs, the other exits 11 because the lock is held.
func TestConcurrentApplies(t *testing.T) {
	e := newEstate(t, "")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.planb(t, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.shop")
			codes[i], outs[i] = r.code, r.stdout+r.stderr
		}()
	}
	wg.Wait()
	if !(codes[0] == 0 && codes[1] == 11 || codes[0] == 11 && codes[1] == 0) {
		t.Fatalf("exit codes %v, want one 0 and one 11\n%s\n---\n%s", codes, outs[0], outs[1])
	}
	for i, c := range codes {
		if c == 11 && !strings.Contains(outs[i], "locked") {
			t.Errorf("the refused apply does not say the lock is held:\n%s", outs[i])
		}
	}
	if got := zips(t, e.backups, "applications/shop"); len(got) != 1 {
		t.Errorf("archives: %v, want one", got)
	}
}
