//go:build unix

package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// linksEstate adds to the estate an application "links" whose delivery
// folder holds symlinks of every kind — absolute, relative and leaving the
// folder, to a directory inside it, dangling — and a file of zeros, which
// deflate compresses best. The links point into a folder beside the
// delivery folder, returned as outside.
func linksEstate(t *testing.T) (e *estate, delivery, outside string) {
	t.Helper()
	base := t.TempDir()
	delivery = filepath.Join(base, "delivery")
	outside = filepath.Join(base, "outside")
	e = newEstate(t, fmt.Sprintf(`
application "links" {
  database        = database.css
  schemas         = { management = "links_mngt", dashboard = "links_central", analysis = "links_local" }
  delivery_folder = %q
  every           = "24h"
  stores          = [store.node]
}
`, delivery))
	e.srv.Exec(t, e.db, `
CREATE SCHEMA links_mngt;
CREATE TABLE links_mngt.versions (id int PRIMARY KEY, name text);
INSERT INTO links_mngt.versions VALUES (1, 'V1'), (2, 'V2');
CREATE SCHEMA links_central;
CREATE TABLE links_central.snapshots (id int PRIMARY KEY, grade numeric(4,2));
INSERT INTO links_central.snapshots SELECT g, (g % 40) / 10.0 FROM generate_series(1, 50) g;
CREATE SCHEMA links_local;
CREATE TABLE links_local.objects (id int PRIMARY KEY, fullname text);
INSERT INTO links_local.objects SELECT g, 'PRG' || g FROM generate_series(1, 100) g;
`)
	writeTree(t, delivery, map[string]string{
		"v1/src/MAIN.cob":    "IDENTIFICATION DIVISION.\nPROGRAM-ID. MAIN.\n",
		"v1/docs/readme.txt": "read me",
		"v1/data/zeros.dat":  string(make([]byte, 3<<20)),
	})
	writeTree(t, outside, map[string]string{"shared/COPY.cpy": "01 SHARED-RECORD.\n"})
	for name, target := range map[string]string{
		"v1/src/COPY.cpy": filepath.Join(outside, "shared/COPY.cpy"), // absolute
		"v1/shared":       "../../outside/shared",                    // relative, leaving the folder
		"v2":              "v1",                                      // a directory inside
		"v1/src/gone.cob": "/nonexistent/planb/gone.cob",             // dangling
	} {
		if err := os.Symlink(target, filepath.Join(delivery, name)); err != nil {
			t.Fatal(err)
		}
	}
	return e, delivery, outside
}

// versionName reads the name of version 1 of application links.
func versionName(t *testing.T, e *estate) string {
	t.Helper()
	var name string
	if err := e.srv.Conn(t, e.db).QueryRow(context.Background(),
		"SELECT name FROM links_mngt.versions WHERE id = 1").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// A delivery folder with symlinks leaving it and a fifo backs up, verifies,
// and restores: the same links, the fifo named and left out; a --schema
// restore does not touch the folder.
func TestDeliveryLinksAndOddFiles(t *testing.T) {
	e, delivery, outside := linksEstate(t)
	tree := treeSnapshot(t, delivery)
	beside := treeSnapshot(t, outside)
	if err := syscall.Mkfifo(filepath.Join(delivery, "v1/pipe"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.links")
	if !strings.Contains(r.stderr, "v1/pipe") || !strings.Contains(r.stderr, "named pipe") {
		t.Errorf("the backup does not warn about the fifo it left out:\n%s", r.stderr)
	}
	archives := zips(t, e.backups, "applications/links")
	if len(archives) != 1 {
		t.Fatalf("archives: %v", archives)
	}
	zr, err := zip.OpenReader(archives[0])
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var m struct {
		Delivery struct {
			Symlinks int `json:"symlinks"`
			Skipped  []struct {
				Path, Reason string
			} `json:"skipped"`
		} `json:"delivery"`
	}
	for _, f := range zr.File {
		switch f.Name {
		case "manifest.json":
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(rc).Decode(&m)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		case "delivery/v1/src/COPY.cpy", "delivery/v1/shared", "delivery/v2":
			if f.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("%s is archived as %v, not as a symlink", f.Name, f.Mode())
			}
		case "delivery/v1/pipe":
			t.Errorf("the fifo is archived")
		}
	}
	if m.Delivery.Symlinks != 4 || len(m.Delivery.Skipped) != 1 || m.Delivery.Skipped[0].Path != "v1/pipe" ||
		!strings.Contains(m.Delivery.Skipped[0].Reason, "FIFO") {
		t.Errorf("manifest delivery: %+v, want 4 symlinks and the fifo listed as skipped", m.Delivery)
	}

	r = e.mustPlanb(t, 0, "verify", "--deep", "application.links")
	if !strings.Contains(r.stdout, "ok      store.node applications/links/") {
		t.Errorf("verify --deep:\n%s", r.stdout)
	}

	// A restore of the management schema alone leaves the folder as it is.
	e.srv.Exec(t, e.db, `UPDATE links_mngt.versions SET name = 'damaged'`)
	if err := os.WriteFile(filepath.Join(delivery, "v1/src/NEW.cob"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := treeSnapshot(t, delivery)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.links", "--schema", "management", "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	if got := versionName(t, e); got != "V1" {
		t.Errorf("after a --schema management restore version 1 is %q", got)
	}
	assertSameTree(t, changed, treeSnapshot(t, delivery))

	// A full restore brings back the same links, without the fifo.
	e.mustPlanb(t, 0, "plan", "--restore", "application.links", "--from", filepath.Base(archives[0]), "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	assertSameTree(t, tree, treeSnapshot(t, delivery))
	assertSameTree(t, beside, treeSnapshot(t, outside))
	if b, err := os.ReadFile(filepath.Join(delivery, "v1/src/COPY.cpy")); err != nil || string(b) != "01 SHARED-RECORD.\n" {
		t.Errorf("the absolute link does not lead to the shared file: %q, %v", b, err)
	}
}

// An archive whose entries outside a folder, or in it, would be refused by
// a restore of the folder fails verify; a restore that does not extract the
// folder still works from it, and writes nothing it does not extract.
func TestFolderEntriesOnlyStopRestoresOfTheFolder(t *testing.T) {
	e, delivery, _ := linksEstate(t)
	e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.links")
	good := zips(t, e.backups, "applications/links")[0]
	const evil = "/tmp/planb-evil-outside-the-folder"
	os.Remove(evil)
	name := "links_2026-11-26-08-00-00.zip"
	rewriteArchive(t, good, filepath.Join(filepath.Dir(good), name),
		func(n string) bool { return n == "manifest.json" },
		func(zw *zip.Writer) {
			addFile(t, zw, evil, 0o644, []byte("x"))
			addFile(t, zw, "delivery/v1/dev", fs.ModeDevice|fs.ModeCharDevice|0o644, nil)
		})

	r := e.mustPlanb(t, 1, "verify", "application.links")
	for _, want := range []string{
		"FAILED  store.node applications/links/" + name,
		`entry "` + evil + `": absolute path`,
		`entry "delivery/v1/dev": unsupported file type`,
		"ok      store.node applications/links/" + filepath.Base(good),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify does not say %q:\n%s", want, r.stdout)
		}
	}

	tree := treeSnapshot(t, delivery)
	e.srv.Exec(t, e.db, `UPDATE links_mngt.versions SET name = 'damaged'`)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	e.mustPlanb(t, 0, "plan", "--restore", "application.links", "--from", name, "--schema", "management", "--no-safety-backup", "--out", planFile)
	e.mustPlanb(t, 0, "apply", planFile)
	if got := versionName(t, e); got != "V1" {
		t.Errorf("after a --schema management restore version 1 is %q", got)
	}
	if _, err := os.Lstat(evil); err == nil {
		os.Remove(evil)
		t.Errorf("%s was written", evil)
	}

	// A restore of the folder is refused, before anything is replaced.
	e.srv.Exec(t, e.db, `UPDATE links_mngt.versions SET name = 'damaged'`)
	e.mustPlanb(t, 0, "plan", "--restore", "application.links", "--from", name, "--no-safety-backup", "--out", planFile)
	r = e.mustPlanb(t, 1, "apply", planFile)
	if !strings.Contains(r.stdout+r.stderr, `entry "delivery/v1/dev": unsupported file type`) {
		t.Errorf("the refusal does not name the entry:\n%s%s", r.stdout, r.stderr)
	}
	if got := versionName(t, e); got != "damaged" {
		t.Errorf("a refused restore replaced the schema: version 1 is %q", got)
	}
	assertSameTree(t, tree, treeSnapshot(t, delivery))
}
