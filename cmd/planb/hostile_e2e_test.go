package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rewriteArchive copies the entries of src into a new archive at dst,
// dropping those drop says to drop, then lets add write more.
func rewriteArchive(t *testing.T, src, dst string, drop func(name string) bool, add func(w *zip.Writer)) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if drop != nil && drop(f.Name) {
			continue
		}
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	if add != nil {
		add(zw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func addFile(t *testing.T, zw *zip.Writer, name string, mode fs.FileMode, body []byte) {
	t.Helper()
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body)
}

// TestHostileArchivesAreRefused puts damaged and hostile archives into the
// store under archive names: a restore from each fails before the target is
// touched. (Hostile entries outside the folders a restore extracts do not
// stop it: TestFolderEntriesOnlyStopRestoresOfTheFolder.)
func TestHostileArchivesAreRefused(t *testing.T) {
	e := newEstate(t, "")
	// The hostile entries are a ZIP's delivery entries: shop keeps its
	// delivery folder in the archive (incremental_e2e_test.go checks the
	// indexes of incremental archives as untrusted input).
	cfg := filepath.Join(e.dir, "estate.hcl")
	if err := os.WriteFile(cfg, bytes.Replace(mustRead(t, cfg), []byte("  delivery_folder = "), []byte("  incremental     = false\n  delivery_folder = "), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-20T08:00:00Z", "--target", "application.shop")
	good := zips(t, e.backups, "applications/shop")[0]
	folder := filepath.Dir(good)
	noManifest := func(name string) bool { return name == "manifest.json" }
	noDelivery := func(name string) bool { return name == "manifest.json" || strings.HasPrefix(name, "delivery/") }

	cases := map[string]struct {
		drop func(string) bool
		add  func(t *testing.T, zw *zip.Writer)
	}{
		"dot dot": {noManifest, func(t *testing.T, zw *zip.Writer) {
			addFile(t, zw, "delivery/../../planb-evil-dotdot", 0o644, []byte("x"))
		}},
		"file through a link leaving the target": {noDelivery, func(t *testing.T, zw *zip.Writer) {
			addFile(t, zw, "delivery/v1/", fs.ModeDir|0o755, nil)
			addFile(t, zw, "delivery/v1/out", fs.ModeSymlink|0o777, []byte("../../../.."))
			addFile(t, zw, "delivery/v1/out/planb-evil-link", 0o644, []byte("x"))
		}},
		"duplicate entries": {noManifest, func(t *testing.T, zw *zip.Writer) {
			addFile(t, zw, "delivery/v1/src/MAIN.cob", 0o644, []byte("second copy"))
		}},
		"device file": {noManifest, func(t *testing.T, zw *zip.Writer) {
			addFile(t, zw, "delivery/v1/dev", fs.ModeDevice|fs.ModeCharDevice|0o644, nil)
		}},
		"implausible compression ratio": {noManifest, func(t *testing.T, zw *zip.Writer) {
			addFile(t, zw, "delivery/v1/bomb.txt", 0o644, make([]byte, 200<<20))
		}},
	}
	// A checksum that does not match the manifest.
	cases["checksum mismatch"] = struct {
		drop func(string) bool
		add  func(t *testing.T, zw *zip.Writer)
	}{noManifest, func(t *testing.T, zw *zip.Writer) {
		zr, err := zip.OpenReader(good)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		rc, _ := zr.Open("manifest.json")
		raw, _ := io.ReadAll(rc)
		rc.Close()
		var m map[string]any
		json.Unmarshal(raw, &m)
		for _, en := range m["entries"].([]any) {
			en := en.(map[string]any)
			if en["name"] == "schemas/shop_mngt.cssbackup" {
				en["sha256"] = strings.Repeat("0", 64)
			}
		}
		raw, _ = json.Marshal(m)
		addFile(t, zw, "manifest.json", 0o644, raw)
	}}

	refusals := map[string]string{
		"dot dot":                                `".." in path`,
		"file through a link leaving the target": `lies below symlink "delivery/v1/out"`,
		"duplicate entries":                      `duplicate of "delivery/v1/src/MAIN.cob"`,
		"device file":                            `entry "delivery/v1/dev": unsupported file type`,
		"implausible compression ratio":          "is implausible",
		"checksum mismatch":                      "entry schemas/shop_mngt.cssbackup: sha256",
	}
	e.srv.Exec(t, e.db, `UPDATE shop_mngt.versions SET note = 'current'`)
	before := describeAll(t, e, shopSchemas...)
	tree := treeSnapshot(t, e.delivery)
	second := 0
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			second++
			archive := "shop_2026-11-21-08-00-" + twoDigits(second) + ".zip"
			rewriteArchive(t, good, filepath.Join(folder, archive), c.drop, func(zw *zip.Writer) { c.add(t, zw) })
			planFile := filepath.Join(t.TempDir(), "restore.plan")
			r := e.planb(t, "plan", "--restore", "application.shop", "--from", archive, "--no-safety-backup", "--out", planFile)
			if r.code == 0 {
				r = e.planb(t, "apply", planFile)
			}
			if r.code != 1 {
				t.Fatalf("restore from a hostile archive: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			if why := refusals[name]; !strings.Contains(r.stdout+r.stderr, why) {
				t.Errorf("refused without saying %q:\n%s%s", why, r.stdout, r.stderr)
			}
			assertSameSchemas(t, before, describeAll(t, e, shopSchemas...))
			assertSameTree(t, tree, treeSnapshot(t, e.delivery))
			for _, evil := range []string{"/tmp/planb-evil-absolute", filepath.Join(filepath.Dir(e.delivery), "planb-evil-dotdot")} {
				if _, err := os.Stat(evil); err == nil {
					t.Errorf("%s was written", evil)
				}
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(e.delivery), "*planb-evil*")); len(m) > 0 {
				t.Errorf("written beside the target: %v", m)
			}
			os.Remove(filepath.Join(folder, archive))
		})
	}
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10%10), byte('0' + n%10)})
}
