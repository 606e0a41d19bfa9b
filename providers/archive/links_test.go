package archive

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
)

// archiveTree archives dir under prefix, with a manifest listing the tree, into a file and
// opens it.
func archiveTree(t *testing.T, prefix, dir string) (*Reader, string, TreeStats) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.zip")
	f, err := os.Create(p)
	must(t, err)
	t.Cleanup(func() { f.Close() })
	w := NewWriter(f, WriterOptions{TempDir: t.TempDir()})
	stats, err := w.AddTree(context.Background(), prefix, dir, TreeOptions{})
	must(t, err)
	must(t, w.Close(&Manifest{Resource: "application.X", Kind: "application", Name: "X",
		Delivery: &TreeInfo{Source: dir, Prefix: prefix + "/", Files: stats.Files, Dirs: stats.Dirs,
			Symlinks: stats.Symlinks, Bytes: stats.Bytes, Skipped: stats.Skipped}}))
	info, err := f.Stat()
	must(t, err)
	r, err := Open(f, info.Size())
	must(t, err)
	return r, p, stats
}

// TestSymlinksRoundTrip archives links whatever their targets, and restores them as the same
// links: absolute, leaving the folder, to a directory, dangling, and to a link.
func TestSymlinksRoundTrip(t *testing.T) {
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "shared.cob"), []byte("shared"), 0o644))
	src := filepath.Join(t.TempDir(), "delivery")
	writeFiles(t, src, map[string]string{"v1/src/MAIN.cob": "main", "v1/docs/readme.txt": "docs"})
	links := map[string]string{
		"v1/src/abs.cob":    filepath.Join(outside, "shared.cob"),
		"v1/src/up.cob":     "../../../outside/shared.cob",
		"v1/docs-link":      "docs",
		"v1/src/abs-dir":    outside,
		"v1/dangling":       "no/such/file",
		"v1/src/link-link":  "abs.cob",
		"v1/src/dot":        ".",
		"top-level-to-root": "/",
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(src, filepath.FromSlash(name))))
	}
	want := snapshotTree(t, src)

	r, path, stats := archiveTree(t, "delivery", src)
	if stats.Symlinks != len(links) || len(stats.Skipped) != 0 {
		t.Errorf("stats = %+v, want %d symlinks and nothing skipped", stats, len(links))
	}
	must(t, r.CheckSafe(SafetyOptions{}))
	must(t, r.Verify(context.Background()))
	for _, e := range r.Entries() {
		name, ok := strings.CutPrefix(e.Name, "delivery/")
		if target, link := links[name]; ok && link {
			if e.Mode.Type() != fs.ModeSymlink || e.Method != zip.Store || e.Size != int64(len(target)) {
				t.Errorf("%s: mode %v, method %d, size %d; want a stored symlink entry holding %q", e.Name, e.Mode, e.Method, e.Size, target)
			}
		}
	}

	target := filepath.Join(t.TempDir(), "restored")
	got, err := r.Extract(context.Background(), "delivery/", target, SafetyOptions{})
	must(t, err)
	if got.Symlinks != len(links) {
		t.Errorf("extracted %d symlinks, want %d", got.Symlinks, len(links))
	}
	compareTrees(t, want, snapshotTree(t, target))
	// Nothing was written where the links point.
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("written beside the link targets: %v", entries)
	}

	t.Run("Info-ZIP unzip restores the same links", func(t *testing.T) {
		requireTool(t, "unzip")
		unzipTest(t, path)
		dir := t.TempDir()
		if out, err := exec.Command("unzip", "-q", path, "delivery/*", "-d", dir).CombinedOutput(); err != nil {
			t.Fatalf("unzip: %v\n%s", err, out)
		}
		compareTrees(t, want, snapshotTree(t, filepath.Join(dir, "delivery")))
	})
}

// TestNothingIsWrittenThroughALink checks archives whose entries lie below their own
// symlinks: refused before anything is written, so nothing lands where the links point.
func TestNothingIsWrittenThroughALink(t *testing.T) {
	outside := t.TempDir()
	link := fs.ModeSymlink | 0o777
	for name, entries := range map[string][]rawEntry{
		"file after an absolute link":      {{name: "d/l", mode: link, data: outside}, {name: "d/l/evil", data: "x"}},
		"file before an absolute link":     {{name: "d/l/evil", data: "x"}, {name: "d/l", mode: link, data: outside}},
		"directory through a link":         {{name: "d/l", mode: link, data: outside}, {name: "d/l/sub/", mode: fs.ModeDir | 0o755}},
		"file through an escaping link":    {{name: "d/l", mode: link, data: "../../" + filepath.Base(outside)}, {name: "d/l/evil", data: "x"}},
		"file through a link to a sibling": {{name: "d/real/", mode: fs.ModeDir | 0o755}, {name: "d/l", mode: link, data: "real"}, {name: "d/l/evil", data: "x"}},
		"link through a link":              {{name: "d/l", mode: link, data: outside}, {name: "d/l/evil", mode: link, data: "/etc/passwd"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := handMade(t, entries...)
			target := filepath.Join(t.TempDir(), "out")
			_, err := r.Extract(context.Background(), "d/", target, SafetyOptions{})
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), `lies below symlink "d/l"`) {
				t.Errorf("Extract = %v, want a refusal naming the link", err)
			}
			if err := r.CheckSafe(SafetyOptions{}); !errors.Is(err, ErrUnsafe) {
				t.Errorf("CheckSafe = %v, want ErrUnsafe", err)
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("target written: %v", err)
			}
			if left, _ := os.ReadDir(outside); len(left) != 0 {
				t.Errorf("written through the link: %v", left)
			}
		})
	}
}

// TestExtractorNeverFollowsLinksOnDisk puts links into the target behind the checks' back,
// as another process could: the extractor refuses to write through them, to a directory
// inside the target as much as outside it, and does not replace them.
func TestExtractorNeverFollowsLinksOnDisk(t *testing.T) {
	target, outside := t.TempDir(), t.TempDir()
	must(t, os.Mkdir(filepath.Join(target, "real"), 0o755))
	must(t, os.Symlink("real", filepath.Join(target, "inside")))
	must(t, os.Symlink(outside, filepath.Join(target, "outside")))
	must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("keep"), 0o644))
	must(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(target, "victim")))
	root, err := os.OpenRoot(target)
	must(t, err)
	defer root.Close()
	x := &extractor{ctx: context.Background(), root: root, manifest: map[string]Entry{}, buf: make([]byte, 1024), dirs: map[string]*os.Root{}}
	defer x.closeDirs()

	r := handMade(t, rawEntry{name: "f", data: "evil"}, rawEntry{name: "d/", mode: fs.ModeDir | 0o755})
	f := r.zr.File[0]
	for _, rel := range []string{"inside/f", "outside/f", "inside/sub/f", "victim"} {
		if _, err := x.file(f, rel); err == nil {
			t.Errorf("file %s written through a link", rel)
		}
	}
	for _, rel := range []string{"inside", "outside/sub", "victim"} {
		if _, err := x.dir(rel); err == nil {
			t.Errorf("directory %s opened through a link", rel)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(target, "real")); len(entries) != 0 {
		t.Errorf("written through the inside link: %v", entries)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "victim")); err != nil || string(b) != "keep" {
		t.Errorf("victim is %q (%v)", b, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("written through the outside link: %v", entries)
	}
	// Beside the links, extraction goes on as usual.
	if _, err := x.file(f, "real/sub/f"); err != nil {
		t.Errorf("plain file: %v", err)
	}
}

// TestOddFilesAreSkipped backs up a folder holding what an archive cannot hold faithfully:
// the backup succeeds without them, lists each with its reason, and restores.
func TestOddFilesAreSkipped(t *testing.T) {
	src := filepath.Join(t.TempDir(), "delivery")
	writeFiles(t, src, map[string]string{
		"v1/MAIN.cob":            "main",
		"v1/bad-\xff-name.cob":   "not UTF-8",
		"v1/win\\dows.cob":       "backslash",
		"v1/bad-dir-\xfe/in.cob": "below a name that is not UTF-8",
		"v2/ok/readme.txt":       "fine",
	})
	if err := mkfifo(filepath.Join(src, "v1/pipe")); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	want := map[string]string{
		"v1/pipe":                "named pipe (FIFO)",
		`"v1/bad-\xff-name.cob"`: "name is not valid UTF-8",
		"v1/win\\dows.cob":       "name holds a backslash",
		`"v1/bad-dir-\xfe"`:      "name is not valid UTF-8; everything below it is left out too",
	}
	if l, err := net.Listen("unix", filepath.Join(src, "v2/sock")); err == nil {
		defer l.Close()
		want["v2/sock"] = "socket"
	} else {
		t.Logf("no unix socket (%v): the socket case is not tried", err)
	}

	r, _, stats := archiveTree(t, "delivery", src)
	got := map[string]string{}
	for _, s := range stats.Skipped {
		got[s.Path] = s.Reason
	}
	for p, reason := range want {
		if !strings.HasPrefix(got[p], reason) {
			t.Errorf("skipped %q: reason %q, want %q", p, got[p], reason)
		}
	}
	if len(got) != len(want) {
		t.Errorf("skipped %v, want %v", got, want)
	}
	if stats.Files != 2 || stats.Dirs != 3 {
		t.Errorf("stats = %+v, want 2 files and 3 directories", stats)
	}
	for _, e := range r.Entries() {
		if strings.Contains(e.Name, "pipe") || strings.Contains(e.Name, "sock") || strings.Contains(e.Name, "bad") || strings.Contains(e.Name, "dows") {
			t.Errorf("%s archived", e.Name)
		}
	}
	must(t, r.CheckSafe(SafetyOptions{}))
	must(t, r.Verify(context.Background()))

	// The manifest lists them.
	m, err := r.Manifest()
	must(t, err)
	if len(m.Delivery.Skipped) != len(want) {
		t.Errorf("manifest lists %+v as skipped", m.Delivery.Skipped)
	}
	rc, err := r.OpenEntry(ManifestName)
	must(t, err)
	raw, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	var doc struct {
		Delivery struct {
			Skipped []map[string]string `json:"skipped"`
		} `json:"delivery"`
	}
	must(t, json.Unmarshal(raw, &doc))
	for _, s := range doc.Delivery.Skipped {
		if s["path"] == "" || s["reason"] == "" {
			t.Errorf("manifest entry %v lacks path or reason", s)
		}
	}

	target := filepath.Join(t.TempDir(), "restored")
	_, err = r.Extract(context.Background(), "delivery", target, SafetyOptions{})
	must(t, err)
	for _, name := range []string{"v1/MAIN.cob", "v2/ok/readme.txt"} {
		if _, err := os.Stat(filepath.Join(target, name)); err != nil {
			t.Errorf("%s not restored: %v", name, err)
		}
	}
}

// TestCheckSafeOnPrefixes checks only the entries a restore extracts: a hostile entry
// elsewhere in the archive does not stop the extraction of a folder.
func TestCheckSafeOnPrefixes(t *testing.T) {
	r := handMade(t,
		rawEntry{name: "delivery/", mode: fs.ModeDir | 0o755},
		rawEntry{name: "delivery/a.cob", data: "a"},
		rawEntry{name: "files/dev", mode: fs.ModeDevice | 0o600},
		rawEntry{name: "files/a.cob", data: "1"},
		rawEntry{name: "files/a.cob", data: "2"},
	)
	if err := r.CheckSafe(SafetyOptions{}); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("CheckSafe of the whole archive = %v, want ErrUnsafe", err)
	}
	must(t, r.CheckSafe(SafetyOptions{Prefixes: []string{"delivery/", "schemas/"}}))
	if err := r.CheckSafe(SafetyOptions{Prefixes: []string{"delivery/", "files/"}}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("CheckSafe of delivery/ and files/ = %v, want ErrUnsafe", err)
	}
	_, err := r.Extract(context.Background(), "delivery/", filepath.Join(t.TempDir(), "d"), SafetyOptions{})
	must(t, err)
	_, err = r.Extract(context.Background(), "files/", filepath.Join(t.TempDir(), "f"), SafetyOptions{})
	if !errors.Is(err, ErrUnsafe) {
		t.Errorf("Extract files/ = %v, want ErrUnsafe", err)
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
		must(t, os.Chtimes(p, time.Unix(1700000000, 0), time.Unix(1700000000, 0)))
	}
}
