package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/planb-backup/planb/plan"
)

// incrementalEstate is newEstate with shop's delivery folder kept in the
// store's packs (incremental = true) and a third version of 60 source
// files of 20 KiB each.
func incrementalEstate(t *testing.T, extra string) *estate {
	t.Helper()
	e := newEstate(t, extra)
	cfg := filepath.Join(e.dir, "estate.hcl")
	src := bytes.Replace(mustRead(t, cfg), []byte("  delivery_folder = "), []byte("  incremental     = true\n  delivery_folder = "), 1)
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for i := range 60 {
		files[fmt.Sprintf("v3/src/PROG%02d.cob", i)] = sourceText(20 << 10)
	}
	writeTree(t, e.delivery, files)
	return e
}

// sourceText returns n bytes of COBOL-like lines that no other call
// returns: they compress, as source code does, but not into each other.
func sourceText(n int) string {
	var sb strings.Builder
	b := make([]byte, 4)
	for sb.Len() < n {
		rand.Read(b)
		sb.WriteString("           MOVE WS-" + hex.EncodeToString(b[:2]) + " TO WS-" + hex.EncodeToString(b[2:]) + ".\n")
	}
	return sb.String()[:n]
}

// storeBytes sums the sizes of the files below a folder of a store
// (archives, or packs/).
func storeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors, ok := err.(*fs.PathError); ok && os.IsNotExist(errors) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// packFiles returns the pack files of a local store.
func packFiles(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "packs", "*", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIncrementalRoundTrip backs shop up twice, the second time with a new
// version that copies the third with a tenth of its files changed: the
// second backup grows the store by its dumps and about that tenth, both
// archives pass unzip -t and verify, and each restores its own delivery
// folder identically.
func TestIncrementalRoundTrip(t *testing.T) {
	e := incrementalEstate(t, "")
	first := treeSnapshot(t, e.delivery)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	packs1 := storeBytes(t, filepath.Join(e.backups, "packs"))
	zip1 := zips(t, e.backups, "applications/shop")[0]
	if packs1 < 100<<10 {
		t.Fatalf("the first backup stored %d bytes in packs, want the delivery folder's 1.2 MB compressed (some 170 KiB)", packs1)
	}
	if list, _ := exec.Command("unzip", "-Z1", zip1).Output(); strings.Contains(string(list), "delivery/") || !strings.Contains(string(list), "index/delivery.json") {
		t.Fatalf("the archive holds delivery entries or lacks the index:\n%s", list)
	}

	// v4 copies v3 with 6 of its 60 files changed.
	v4 := map[string]string{}
	for i := range 60 {
		body := mustRead(t, filepath.Join(e.delivery, fmt.Sprintf("v3/src/PROG%02d.cob", i)))
		if i < 6 {
			body = []byte(sourceText(20 << 10))
		}
		v4[fmt.Sprintf("v4/src/PROG%02d.cob", i)] = string(body)
	}
	writeTree(t, e.delivery, v4)
	second := treeSnapshot(t, e.delivery)
	r := e.mustPlanb(t, 2, "plan", "--detailed-exitcode", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")
	if !strings.Contains(r.stdout, "new version v4 delivered") {
		t.Fatalf("plan lacks the new version:\n%s", r.stdout)
	}
	before := storeBytes(t, e.backups)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")
	growth := storeBytes(t, e.backups) - before
	newPacks := storeBytes(t, filepath.Join(e.backups, "packs")) - packs1
	zips2 := zips(t, e.backups, "applications/shop")
	if len(zips2) != 2 {
		t.Fatalf("want 2 archives, got %v", zips2)
	}
	zip2 := zips2[1]
	info2, err := os.Stat(zip2)
	if err != nil {
		t.Fatal(err)
	}
	// The 6 changed files are 120 KiB, some 17 KiB compressed; a full copy
	// of the delivery folder would add its 170 KiB again.
	if newPacks > packs1/5 {
		t.Errorf("the second backup added %d bytes of packs, want about 6 files (less than %d, a fifth of the first's %d)", newPacks, packs1/5, packs1)
	}
	if growth > info2.Size()+newPacks+64<<10 {
		t.Errorf("the store grew by %d bytes: more than the archive (%d) and the new packs (%d)", growth, info2.Size(), newPacks)
	}
	t.Logf("first backup: %d bytes of packs; second: archive %d bytes, new packs %d bytes, store growth %d bytes", packs1, info2.Size(), newPacks, growth)

	for _, z := range []string{zip1, zip2} {
		if out, err := exec.Command("unzip", "-t", z).CombinedOutput(); err != nil {
			t.Fatalf("unzip -t %s: %v\n%s", z, err, out)
		}
	}
	r = e.mustPlanb(t, 0, "verify", "application.shop")
	if !strings.Contains(r.stdout, "2 archive(s) verified, 0 failed") {
		t.Errorf("verify:\n%s", r.stdout)
	}

	// Each archive restores its own delivery folder.
	for _, c := range []struct {
		archive string
		want    map[string]string
	}{{zip1, first}, {zip2, second}} {
		name := filepath.Base(c.archive)
		planFile := filepath.Join(t.TempDir(), "restore.plan")
		e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--from", name, "--no-safety-backup", "--out", planFile, "--now", "2026-11-25T10:00:00Z")
		e.mustPlanb(t, 0, "apply", planFile)
		t.Run("restore "+name, func(t *testing.T) { assertSameTree(t, c.want, treeSnapshot(t, e.delivery)) })
	}
}

// TestIncrementalVerifyFindsDamage: verify fails an archive whose pack is
// missing, naming the pack, and one whose pack is corrupt, naming the
// file; a restore from it refuses before changing anything.
func TestIncrementalVerifyFindsDamage(t *testing.T) {
	e := incrementalEstate(t, "")
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	e.mustPlanb(t, 0, "verify", "application.shop")
	packs := packFiles(t, e.backups)
	if len(packs) == 0 {
		t.Fatal("no packs")
	}
	pack := packs[0]
	id := strings.TrimSuffix(filepath.Base(pack), ".pack")
	data := mustRead(t, pack)

	// Corrupt: one byte flipped in the middle of a content.
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(pack, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.mustPlanb(t, 1, "verify", "application.shop")
	if !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "pack "+id) || !strings.Contains(r.stdout, "does not") {
		t.Errorf("verify of a corrupt pack:\n%s", r.stdout)
	}

	// Missing.
	if err := os.Remove(pack); err != nil {
		t.Fatal(err)
	}
	r = e.mustPlanb(t, 1, "verify", "application.shop")
	if !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "pack "+id+" is missing") {
		t.Errorf("verify of a missing pack:\n%s", r.stdout)
	}
	writeTree(t, e.delivery, map[string]string{"v1/src/MAIN.cob": "changed after the backup"})
	before := treeSnapshot(t, e.delivery)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	if r := e.planb(t, "plan", "--restore", "application.shop", "--no-safety-backup", "--out", planFile, "--now", "2026-11-25T10:00:00Z"); r.code == 0 {
		r = e.mustPlanb(t, 1, "apply", planFile)
		if !strings.Contains(r.stdout+r.stderr, "is missing") {
			t.Errorf("restore with a missing pack:\n%s\n%s", r.stdout, r.stderr)
		}
	}
	assertSameTree(t, before, treeSnapshot(t, e.delivery))

	// Put back, it verifies again.
	if err := os.WriteFile(pack, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustPlanb(t, 0, "verify", "application.shop")
}

// TestIncrementalCopy: a copy into another store copies the packs the
// archive references that the store lacks, and no others; the copy
// verifies and restores from that store alone.
func TestIncrementalCopy(t *testing.T) {
	e := incrementalEstate(t, `
drill "daily" {
  every        = "24h"
  applications = [application.shop]
}
`)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	// The drill of the first backup extracted its delivery folder from the
	// packs: every file of it.
	if rec := readDrill(t, e.backups, "applications/shop"); rec.Result != plan.DrillOK {
		t.Fatalf("drill of an incremental archive: %+v", rec)
	} else if c := drillCheck(rec, "delivery/"); c == nil || c.Files != 64 {
		t.Errorf("drill's delivery check: %+v, want 64 files", c)
	}
	cfg := filepath.Join(e.dir, "estate.hcl")
	src := bytes.Replace(mustRead(t, cfg), []byte("  stores = [store.node]"), []byte("  stores = [store.node, store.offsite]"), 1)
	src = append(src, fmt.Sprintf("\nstore \"offsite\" {\n  local { path = %q }\n}\n", e.second)...)
	if err := os.WriteFile(cfg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:30:00Z")
	if !strings.Contains(r.stdout, "copy application.shop") {
		t.Fatalf("no copy planned:\n%s", r.stdout)
	}
	if got, want := storeBytes(t, filepath.Join(e.second, "packs")), storeBytes(t, filepath.Join(e.backups, "packs")); got != want || got == 0 {
		t.Fatalf("offsite holds %d bytes of packs, node %d", got, want)
	}
	// offsite knows the versions of the copy: plans find them without node.
	if rec := mustRead(t, filepath.Join(e.second, "records", "applications", "shop", "versions.json")); !bytes.Contains(rec, []byte(`"shop_2026-11-25-08-00-00.zip"`)) || !bytes.Contains(rec, []byte(`"v3"`)) {
		t.Errorf("offsite's versions record:\n%s", rec)
	}

	// A new version: backed up into node, copied into offsite with only
	// the packs offsite lacks.
	writeTree(t, e.delivery, map[string]string{"v4/src/NEW.cob": sourceText(20 << 10)})
	offsiteBefore := len(packFiles(t, e.second))
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T09:00:00Z")
	if got := len(packFiles(t, e.second)); got != offsiteBefore+1 {
		t.Errorf("offsite holds %d packs after the second copy, want %d", got, offsiteBefore+1)
	}
	r = e.mustPlanb(t, 0, "verify", "application.shop")
	if !strings.Contains(r.stdout, "4 archive(s) verified, 0 failed") {
		t.Errorf("verify:\n%s", r.stdout)
	}

	// offsite alone restores the delivery folder.
	want := treeSnapshot(t, e.delivery)
	if err := os.RemoveAll(filepath.Join(e.backups, "packs")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.delivery, "v1/src/MAIN.cob"), []byte("overwritten"), 0o644)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.shop", "--store", "offsite", "--no-safety-backup", "--out", planFile, "--now", "2026-11-25T10:00:00Z")
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameTree(t, want, treeSnapshot(t, e.delivery))
}

// drillCheck returns the check of a drill record named check, or nil.
func drillCheck(rec plan.DrillRecord, check string) *plan.DrillCheck {
	for i := range rec.Checks {
		if rec.Checks[i].Check == check {
			return &rec.Checks[i]
		}
	}
	return nil
}
