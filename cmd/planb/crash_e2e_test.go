package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// killAim is where a kill test sends SIGKILL to apply --json: as soon as it
// prints the first event of type event whose step ID ends with step.
type killAim struct {
	event string // "step_started" or "step_finished"
	step  string
	// unfinished ends the ID of a step that must not have finished when
	// the process died; empty means the aimed step of a step_started aim.
	unfinished string
	// delay is how long after the event the signal is sent.
	delay time.Duration
}

func (a killAim) String() string { return a.event + " of " + a.step }

// killAttempts is how often a kill test tries to land a kill where it aims
// before it fails: on a loaded machine the signal may arrive after a short
// step has ended.
const killAttempts = 3

// killApply runs planb with args, an apply with --json, and sends it
// SIGKILL as soon as it prints the aimed event. It returns why the kill
// missed, or "" when it landed: the signal was delivered, the process died
// of it, and the step the aim names as unfinished printed no step_finished.
// An apply that never prints the aimed event fails the test.
func killApply(t *testing.T, e *estate, aim killAim, args ...string) (missed string) {
	t.Helper()
	cmd := exec.Command(planbBin, append([]string{"--chdir", e.dir}, args...)...)
	cmd.Env = append(os.Environ(), e.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	unfinished := aim.unfinished
	if unfinished == "" && aim.event == "step_started" {
		unfinished = aim.step
	}
	var (
		killed    bool
		signalErr error
		finished  []string // steps that printed step_finished
		badLine   string
	)
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var ev struct{ Type, Step string }
			if jerr := json.Unmarshal(line, &ev); jerr != nil && badLine == "" {
				badLine = fmt.Sprintf("%v: %s", jerr, line)
			}
			if ev.Type == "step_finished" {
				finished = append(finished, ev.Step)
			}
			if !killed && ev.Type == aim.event && strings.HasSuffix(ev.Step, aim.step) {
				killed = true
				if aim.delay > 0 {
					time.Sleep(aim.delay)
				}
				signalErr = cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		if err != nil {
			break // the process and its output are gone
		}
	}
	waitErr := cmd.Wait()
	if badLine != "" {
		t.Fatalf("apply --json printed a line that is not JSON: %s", badLine)
	}
	if !killed {
		t.Fatalf("apply never printed the %s (%v)\nstderr:\n%s", aim, waitErr, stderr.String())
	}
	if signalErr != nil {
		return fmt.Sprintf("SIGKILL not delivered: %v", signalErr)
	}
	if why := notKilled(waitErr); why != "" {
		return why
	}
	for _, step := range finished {
		if unfinished != "" && strings.HasSuffix(step, unfinished) {
			return fmt.Sprintf("%s had finished when the process died", step)
		}
	}
	return ""
}

// notKilled returns why the error of Wait does not say the process died of
// SIGKILL, or "" when it does. A nil error, exit status 0, means the kill
// came too late.
func notKilled(waitErr error) string {
	if waitErr == nil {
		return "the process exited 0 before the kill"
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return fmt.Sprintf("wait: %v", waitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return fmt.Sprintf("the process ended with %v, not by SIGKILL", ee)
	}
	return ""
}

// killUntilLanded calls killApply with the arguments args returns (anew for
// every attempt: a new --now, a new plan) until a kill lands where aimed,
// up to killAttempts times, and fails the test when none does. After each
// kill it calls after, when not nil, which checks what the kill left and
// returns why the kill missed, or "".
func killUntilLanded(t *testing.T, e *estate, aim killAim, args func() []string, after func() string) {
	t.Helper()
	var misses []string
	for range killAttempts {
		missed := killApply(t, e, aim, args()...)
		if after != nil {
			if why := after(); missed == "" {
				missed = why
			}
		}
		if missed == "" {
			return
		}
		t.Logf("a kill at the %s missed: %s", aim, missed)
		misses = append(misses, missed)
	}
	t.Fatalf("no kill at the %s landed in %d tries:\n  %s", aim, killAttempts, strings.Join(misses, "\n  "))
}

// TestCrashLeavesNoCompleteLookingArchive kills apply with SIGKILL at
// points of a backup chosen from its JSON events, each with a later --now
// so that there is always a backup to interrupt: every archive that lists
// as complete must pass unzip -t and planb verify, archives complete
// before stay byte for byte the same, and the next apply succeeds.
func TestCrashLeavesNoCompleteLookingArchive(t *testing.T) {
	e := newEstate(t, "")
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", start.Format(time.RFC3339))
	folders := []string{"applications/shop", "applications/legacy", "measurement/health"}
	complete := map[string]string{} // archive → sha256 of every archive found complete
	checkArchives := func(when string) {
		t.Helper()
		for _, folder := range folders {
			for _, z := range zips(t, e.backups, folder) {
				if sum, ok := complete[z]; ok {
					if fileSum(t, z) != sum {
						t.Fatalf("%s: earlier archive %s changed", when, z)
					}
					continue
				}
				if out, err := exec.Command("unzip", "-tq", z).CombinedOutput(); err != nil {
					t.Fatalf("%s: %s lists as complete but unzip -t fails: %v\n%s", when, z, err, out)
				}
				complete[z] = fileSum(t, z)
			}
		}
	}
	checkArchives("after the first apply")

	// Every kill runs two days after the previous one: shop and legacy
	// (every 24h) are due each time.
	now := start
	archive := func(folder, name string) string {
		return filepath.Join(e.backups, folder, name+"_"+now.Format("2006-01-02-15-04-05")+".zip")
	}
	exists := func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	}
	shopLock := filepath.Join(e.backups, "locks", "applications", "shop.lock")
	lockLeft := func() string {
		if !exists(shopLock) {
			return "no lock of shop left behind"
		}
		return ""
	}
	partialLeft := func(folder, name string) func() string {
		return func() string {
			if p := archive(folder, name) + ".partial"; !exists(p) {
				return "no partial archive " + p + " left behind"
			}
			return ""
		}
	}
	for _, c := range []struct {
		aim  killAim
		left func() string // what the store must show after the kill
	}{
		{killAim{event: "step_finished", step: "application.shop/store.node/lock", unfinished: "application.shop/store.node/unlock"}, lockLeft},
		{killAim{event: "step_started", step: "backup application.legacy store.node/prepare"}, nil},
		{killAim{event: "step_started", step: "backup application.legacy store.node/dump/Legacy-Mngt"}, partialLeft("applications/legacy", "legacy")},
		{killAim{event: "step_started", step: "backup application.shop store.node/dump/shop_central"}, partialLeft("applications/shop", "shop")},
		{killAim{event: "step_started", step: "backup application.shop store.node/archive"}, nil},
		{killAim{event: "step_finished", step: "backup application.shop store.node/archive", unfinished: "application.shop/store.node/unlock"}, func() string {
			if z := archive("applications/shop", "shop"); !exists(z) {
				return "archive " + z + " not complete"
			}
			return lockLeft()
		}},
	} {
		args := func() []string {
			now = now.Add(48 * time.Hour)
			return []string{"apply", "--auto-approve", "--json", "--now", now.Format(time.RFC3339)}
		}
		killUntilLanded(t, e, c.aim, args, func() string {
			why := ""
			if c.left != nil {
				why = c.left()
			}
			checkArchives(fmt.Sprintf("after a kill at the %s", c.aim))
			return why
		})
	}
	r := e.mustPlanb(t, 0, "verify")
	if strings.Contains(r.stdout, "FAILED") {
		t.Fatalf("verify after kills:\n%s", r.stdout)
	}
	// The next apply cleans the leftovers, takes over stale locks and succeeds.
	now = now.Add(48 * time.Hour)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", now.Format(time.RFC3339))
	e.mustPlanb(t, 0, "plan", "--detailed-exitcode", "--now", now.Format(time.RFC3339))
	for _, folder := range folders {
		m, _ := filepath.Glob(filepath.Join(e.backups, folder, "*.partial"))
		if len(m) > 0 {
			t.Errorf("partials left after a successful apply: %v", m)
		}
	}
	if exists(shopLock) {
		t.Errorf("lock left after a successful apply: %s", shopLock)
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
	if !strings.Contains(r.stderr, "--lock-timeout") {
		t.Errorf("the refused apply does not mention --lock-timeout:\n%s", r.stderr)
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
