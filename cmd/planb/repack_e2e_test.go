package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// redirectFiles returns the redirects of repacked packs of a local store.
func redirectFiles(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "packs", "*", "*.moved.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPruneRepacksMostlyGarbagePacks: the second backup keeps 3 of the 60
// files of the third version, so once keep_last = 1 prunes the first
// archive, its pack is mostly garbage: the collection repacks it (the old
// pack goes, its redirect stays, the store's packs shrink), and the
// remaining archive, which still names the old pack, verifies (also
// --deep) and restores identically through the redirect.
func TestPruneRepacksMostlyGarbagePacks(t *testing.T) {
	e := gcEstate(t)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	first := packFiles(t, e.backups)
	if len(first) != 1 {
		t.Fatalf("first backup: packs %v, want one", first)
	}
	before := storeBytes(t, filepath.Join(e.backups, "packs"))
	for i := 3; i < 60; i++ {
		if err := os.Remove(filepath.Join(e.delivery, fmt.Sprintf("v3/src/PROG%02d.cob", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"v1", "v2"} {
		if err := os.RemoveAll(filepath.Join(e.delivery, v)); err != nil {
			t.Fatal(err)
		}
	}
	want := treeSnapshot(t, e.delivery)
	time.Sleep(1100 * time.Millisecond) // the first pack is past its grace
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-26T09:00:00Z")
	if got := zips(t, e.backups, "applications/shop"); len(got) != 1 || !strings.Contains(got[0], "2026-11-26") {
		t.Fatalf("after the prune: %v", got)
	}
	old := strings.TrimSuffix(filepath.Base(first[0]), ".pack")
	if _, err := os.Stat(first[0]); !os.IsNotExist(err) {
		t.Fatalf("the mostly garbage pack %s is still there (%v)", old[:12], err)
	}
	redirects := redirectFiles(t, e.backups)
	if len(redirects) != 1 || !strings.HasPrefix(filepath.Base(redirects[0]), old) {
		t.Fatalf("redirects %v, want the one of %s", redirects, old[:12])
	}
	after := storeBytes(t, filepath.Join(e.backups, "packs"))
	if after*3 > before {
		t.Errorf("packs hold %d bytes after the repack, %d before: want less than a third", after, before)
	}
	zip := zips(t, e.backups, "applications/shop")[0]
	idx, err := exec.Command("unzip", "-p", zip, "index/delivery.json").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(idx), old) {
		t.Fatalf("the archive's index does not name the repacked pack: it was changed")
	}

	e.mustPlanb(t, 0, "verify", "application.shop")
	e.mustPlanb(t, 0, "verify", "--deep", "application.shop")
	restoreWithoutPlanb(t, zip, filepath.Join(e.backups, "packs"), want)
	os.WriteFile(filepath.Join(e.delivery, "v3/src/PROG00.cob"), []byte("changed"), 0o644)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--no-safety-backup", "--out", planFile, "--now", "2026-11-26T10:00:00Z")
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameTree(t, want, treeSnapshot(t, e.delivery))
}

// restoreWithoutPlanb runs the script docs/CONFIGURATION.md gives to
// restore a delivery folder without planb (sh, jq, zstd, coreutils) on
// archive zip with the store's packs folder, and compares the contents of
// the files it writes with want (a treeSnapshot).
func restoreWithoutPlanb(t *testing.T, zip, packs string, want map[string]string) {
	t.Helper()
	doc := string(mustRead(t, filepath.Join("..", "..", "docs", "CONFIGURATION.md")))
	_, after, ok := strings.Cut(doc, "**Without planb.**")
	if !ok {
		t.Fatal("docs/CONFIGURATION.md has no script to restore without planb")
	}
	_, after, _ = strings.Cut(after, "```sh\n")
	script, _, _ := strings.Cut(after, "```")
	script = strings.Replace(script, "MAINFRAME_2026-11-25-20-30-00.zip", zip, 1)
	dir := t.TempDir()
	if err := os.Symlink(packs, filepath.Join(dir, "packs")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-e", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the documented script failed: %v\n%s", err, out)
	}
	files := 0
	for p, desc := range want {
		if strings.HasSuffix(p, "/") || !strings.HasPrefix(desc, "-") {
			continue
		}
		_, body, _ := strings.Cut(desc, " ")
		got, err := os.ReadFile(filepath.Join(dir, "out", p))
		if err != nil || string(got) != body {
			t.Errorf("the documented script restored %s differently (%v)", p, err)
		}
		files++
	}
	if files < 3 {
		t.Fatalf("compared %d files", files)
	}
}
