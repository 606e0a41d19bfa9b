package runner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// collectorEnv names the store root a re-executed test binary collects
// (TestCollectorProcess); unset, that test does nothing.
const collectorEnv = "PLANB_TEST_COLLECT_ROOT"

// TestCollectorProcess is the collection TestKillDuringRepack kills: run
// as a process of its own, it collects the local store its environment
// names with an hour of grace.
func TestCollectorProcess(t *testing.T) {
	root := os.Getenv(collectorEnv)
	if root == "" {
		return // run by TestKillDuringRepack only
	}
	st, err := store.NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CollectPacks(context.Background(), st, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestKillDuringRepack kills (SIGKILL) collections that repack many
// mostly garbage packs at random points, seven times over a store that
// keeps growing: after every kill, and after a last collection that
// completes, every complete archive verifies (every content read through
// the packs and redirects there) and the newest archives of each round
// restore their folder identically.
func TestKillDuringRepack(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := store.NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	start := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	kept := map[string]map[string]string{} // archive name → its files
	var span time.Duration
	killed := 0
	for round := range 8 {
		// A folder of 40 files in packs of 64 KiB, then a backup that
		// keeps one file in ten, then the first archive pruned.
		src := filepath.Join(t.TempDir(), "delivery")
		files := map[string]string{}
		for i := range 40 {
			files[fmt.Sprintf("v%d/f%02d.bin", round, i)] = randomHex(30 << 10)
		}
		writeTestFiles(t, src, files)
		full, _, err := cas.Build(ctx, src, st, cas.BuildOptions{PackSize: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		for name := range files {
			if name[len(name)-5] != '0' {
				os.Remove(filepath.Join(src, name))
				delete(files, name)
			}
		}
		present := map[string]bool{}
		for _, id := range full.Packs() {
			present[id] = true
		}
		part, _, err := cas.Build(ctx, src, st, cas.BuildOptions{Parent: full, Present: present})
		if err != nil {
			t.Fatal(err)
		}
		t0 := start.Add(time.Duration(round) * 24 * time.Hour)
		pruned, keep := catalog.ArchiveName("A", t0), catalog.ArchiveName("A", t0.Add(time.Hour))
		indexArchive(t, st, ref, pruned, full)
		indexArchive(t, st, ref, keep, part)
		kept[keep] = files
		if err := st.Delete(ctx, ref, pruned); err != nil {
			t.Fatal(err)
		}
		ageAllPacks(t, st, 10*24*time.Hour)

		cmd := exec.Command(os.Args[0], "-test.run=^TestCollectorProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), collectorEnv+"="+root)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		delay := time.Hour
		if round > 0 {
			delay = time.Duration(rng.Int64N(int64(span)))
		}
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err = cmd.Wait()
		timer.Stop()
		if round == 0 {
			span = time.Since(began) * 6 / 5
		}
		if err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("round %d: the collection failed without being killed: %v\n%s", round, err, out.String())
			}
			killed++
		}
		verifyAll(t, st, ref, kept)
	}
	t.Logf("%d of 7 collections killed within %s", killed, span)
	if killed < 2 {
		t.Errorf("%d of 7 collections were killed: the kills did not land during the work", killed)
	}
	// A collection that completes finishes every repack a kill cut short:
	// the next finds nothing to repack, and every pruned folder's packs
	// were repacked (a redirect each).
	if _, err := CollectPacks(ctx, st, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	verifyAll(t, st, ref, kept)
	sw, err := CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Repacked != 0 {
		t.Errorf("a collection after a complete one repacked again: %+v", sw)
	}
	redirects, err := st.ListRedirects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(redirects) < 8 {
		t.Errorf("%d redirects after 8 rounds that each left packs mostly garbage", len(redirects))
	}
}

// writeTestFiles writes files (relative path → content) below root.
func writeTestFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// verifyAll verifies every archive of kept and restores it, comparing the
// files it restores with those it was made of.
func verifyAll(t *testing.T, st *store.Local, ref store.Ref, kept map[string]map[string]string) {
	t.Helper()
	for name, files := range kept {
		verifyArchive(t, st, ref, name)
		dir := filepath.Join(t.TempDir(), "out")
		if _, err := restoreTree(t, st, ref, name, dir); err != nil {
			t.Fatalf("restore %s: %v", name, err)
		}
		for p, body := range files {
			got, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil || string(got) != body {
				t.Fatalf("restore %s: %s differs (%v)", name, p, err)
			}
		}
	}
}
