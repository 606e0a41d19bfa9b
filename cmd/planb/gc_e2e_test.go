package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gcEstate is incrementalEstate with shop kept by keep_last = 1 and the
// store's packs collected after a second of grace.
func gcEstate(t *testing.T) *estate {
	t.Helper()
	e := incrementalEstate(t, "")
	cfg := filepath.Join(e.dir, "estate.hcl")
	src := mustRead(t, cfg)
	src = bytes.Replace(src, []byte("  stores = [store.node]"), []byte("  stores = [store.node]\n  retention { keep_last = 1 }"), 1)
	src = bytes.Replace(src, []byte("store \"node\" {\n"), []byte("store \"node\" {\n  pack_grace = \"1s\"\n"), 1)
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPruneCollectsPacks: once the prune of keep_last = 1 deleted the
// first archive, the packs only it referenced are deleted, those the
// second references are kept, and the second verifies and restores.
func TestPruneCollectsPacks(t *testing.T) {
	e := gcEstate(t)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	first := packFiles(t, e.backups)
	if len(first) == 0 {
		t.Fatal("no packs")
	}
	// Everything delivered is replaced: nothing of the first packs is
	// needed by the second backup.
	if err := os.RemoveAll(e.delivery); err != nil {
		t.Fatal(err)
	}
	writeTree(t, e.delivery, map[string]string{"v9/src/ONLY.cob": sourceText(10 << 10), "v9/README": "nine"})
	want := treeSnapshot(t, e.delivery)
	time.Sleep(1100 * time.Millisecond)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-26T09:00:00Z")
	if got := zips(t, e.backups, "applications/shop"); len(got) != 1 || !strings.Contains(got[0], "2026-11-26") {
		t.Fatalf("after the prune: %v", got)
	}
	second := packFiles(t, e.backups)
	for _, p := range first {
		for _, q := range second {
			if p == q {
				t.Errorf("pack %s of the pruned archive only was not collected", filepath.Base(p))
			}
		}
	}
	if len(second) == 0 {
		t.Fatal("the second archive's packs were collected")
	}
	e.mustPlanb(t, 0, "verify", "application.shop")
	os.WriteFile(filepath.Join(e.delivery, "v9/README"), []byte("changed"), 0o644)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--no-safety-backup", "--out", planFile, "--now", "2026-11-26T10:00:00Z")
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameTree(t, want, treeSnapshot(t, e.delivery))
}

// TestKillDuringIncrementalBackupAndPrune kills apply (SIGKILL) at random
// points of 30 backups with new versions and prunes with pack collection
// (after a first one that is not killed and times the range of the kills);
// after every kill each complete archive verifies — every pack it
// references is there, every content right — and at the end the newest
// restores the delivery folder it was made from.
func TestKillDuringIncrementalBackupAndPrune(t *testing.T) {
	e := gcEstate(t)
	rng := rand.New(rand.NewPCG(10, uint64(time.Now().UnixNano())))
	start := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	snapshots := map[string]map[string]string{} // by archive name
	killed, verified := 0, 0
	// The first apply is not killed: how long it takes sets the range the
	// later kills land in, whatever the machine's load; each apply that
	// completes widens it.
	var span time.Duration
	for i := range 31 {
		// A new version (a copy of the last with a few files changed)
		// and, every third run, the oldest version removed.
		writeTree(t, e.delivery, map[string]string{
			fmt.Sprintf("v%02d/src/A.cob", 10+i):  sourceText(8 << 10),
			fmt.Sprintf("v%02d/src/B.cob", 10+i):  sourceText(8 << 10),
			fmt.Sprintf("v%02d/COMMON.cpy", 10+i): "COPY COMMON.\n",
		})
		if i%3 == 2 {
			versions, _ := filepath.Glob(filepath.Join(e.delivery, "v*"))
			os.RemoveAll(versions[0])
		}
		now := start.Add(time.Duration(i) * 25 * time.Hour)
		name := "shop_" + now.Format("2006-01-02-15-04-05") + ".zip"
		snapshots[name] = treeSnapshot(t, e.delivery)
		time.Sleep(1100 * time.Millisecond) // older packs are past their grace

		cmd := exec.Command(planbBin, "--chdir", e.dir, "apply", "--auto-approve", "--target", "application.shop", "--now", now.Format(time.RFC3339))
		cmd.Env = append(os.Environ(), e.env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		delay := time.Hour
		if i > 0 {
			delay = time.Duration(rng.Int64N(int64(span)))
		}
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err := cmd.Wait()
		timer.Stop()
		if err == nil {
			// Later applies take longer than the first (more archives
			// to prune and collect): every one that completes widens
			// the range to its own length.
			span = max(span, time.Since(began)*3/2)
		}
		if err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("run %d: apply failed without being killed: %v\n%s", i, err, out.String())
			}
			killed++
		}
		if len(zips(t, e.backups, "applications/shop")) == 0 {
			continue // every apply so far was killed before its archive was complete
		}
		r := e.planb(t, "verify", "application.shop")
		if r.code != 0 || !strings.Contains(r.stdout, " 0 failed") {
			t.Fatalf("run %d (killed after %s): verify:\n%s\n%s\napply said:\n%s", i, delay, r.stdout, r.stderr, out.String())
		}
		verified++
	}
	t.Logf("%d of 30 applies killed within %s; the store verified after %d runs", killed, span, verified)
	if killed < 8 || killed > 28 {
		t.Errorf("%d of 30 applies were killed: the kills did not land during the work", killed)
	}

	// One more apply completes; the archive it keeps restores the folder
	// it was made from.
	now := start.Add(31 * 25 * time.Hour)
	name := "shop_" + now.Format("2006-01-02-15-04-05") + ".zip"
	snapshots[name] = treeSnapshot(t, e.delivery)
	time.Sleep(1100 * time.Millisecond)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", now.Format(time.RFC3339))
	e.mustPlanb(t, 0, "verify", "application.shop")
	got := zips(t, e.backups, "applications/shop")
	if len(got) != 1 || filepath.Base(got[0]) != name {
		t.Fatalf("archives after the last apply: %v, want %s", got, name)
	}
	// The collection after its prune left exactly the packs it references:
	// every leftover of the killed runs was swept, nothing it needs.
	manifest, err := exec.Command("unzip", "-p", got[0], "manifest.json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Delivery struct{ Packs []string } `json:"delivery"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, p := range packFiles(t, e.backups) {
		held = append(held, strings.TrimSuffix(filepath.Base(p), ".pack"))
	}
	slices.Sort(held)
	if want := livePacks(t, e.backups, m.Delivery.Packs); !slices.Equal(held, want) {
		t.Errorf("the store holds packs %v, the only archive references %v (%v through redirects)", held, m.Delivery.Packs, want)
	}
	writeTree(t, e.delivery, map[string]string{"stray.txt": "not in the backup"})
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--no-safety-backup", "--out", planFile, "--now", now.Add(time.Hour).Format(time.RFC3339))
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameTree(t, snapshots[name], treeSnapshot(t, e.delivery))
}

// livePacks returns, sorted, the packs of a local store that hold the
// contents of packs ids: each one the store holds, and for one it does
// not, those its redirect (packs/ab/<id>.moved.json) sends contents to,
// and so on.
func livePacks(t *testing.T, root string, ids []string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for len(ids) > 0 {
		id := ids[0]
		ids = ids[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := os.Stat(filepath.Join(root, "packs", id[:2], id+".pack")); err == nil {
			out = append(out, id)
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, "packs", id[:2], id+".moved.json"))
		if err != nil {
			t.Fatalf("pack %s is neither there nor redirected: %v", id, err)
		}
		var r struct {
			Moved []struct{ Target string } `json:"moved"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Moved {
			ids = append(ids, m.Target)
		}
	}
	slices.Sort(out)
	return out
}
