package archive

import (
	stdzip "archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"

	"github.com/planb-backup/planb/providers/postgres/pgtest"
)

func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		pgtest.Missing(t, "%s is not installed", name)
	}
}

// unzipTest runs Info-ZIP's `unzip -tq` on path and fails the test unless it accepts it.
func unzipTest(t *testing.T, path string) {
	t.Helper()
	requireTool(t, "unzip")
	out, err := exec.Command("unzip", "-tq", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("unzip -tq %s: %v\n%s", path, err, out)
	}
}

type builtArchive struct {
	path     string
	tree     string // the delivery folder that was archived
	streams  map[string][]byte
	manifest *Manifest
}

// buildArchive writes the archive most tests inspect: three concurrent streams (random,
// text, and text big enough to spill its spool to a file), a delivery tree and options.xml.
func buildArchive(t *testing.T) builtArchive {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "delivery-src")
	makeDeliveryTree(t, tree)
	rng := rand.New(rand.NewPCG(3, 4))
	var big bytes.Buffer
	must(t, dumpText(&big, rng, 6<<20))
	streams := map[string][]byte{
		"schemas/mainframe_mngt.cssbackup":    randomBytes(rng, 300_000),
		"schemas/mainframe_central.cssbackup": sourceText(rng, 200_000),
		"schemas/mainframe_local.cssbackup":   big.Bytes(),
	}
	spoolDir := t.TempDir()

	path := filepath.Join(dir, "MAINFRAME.zip.partial")
	out, err := os.Create(path)
	must(t, err)
	w := NewWriter(out, WriterOptions{TempDir: spoolDir, SpoolMemory: 1 << 20, Workers: 2})
	ctx := context.Background()
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var wg sync.WaitGroup
	for name, data := range streams {
		wg.Go(func() {
			e, err := w.AddStream(ctx, name, 0o600, mtime, func(dst io.Writer) error {
				// Several writes, as a pipe from pg_dump would deliver them.
				for chunk := range slicesChunk(data, 100_000) {
					if _, err := dst.Write(chunk); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("AddStream %s: %v", name, err)
				return
			}
			if e.Size != int64(len(data)) {
				t.Errorf("AddStream %s: size %d, want %d", name, e.Size, len(data))
			}
		})
	}
	stats, err := w.AddTree(ctx, "delivery", tree, TreeOptions{})
	must(t, err)
	wantStats := TreeStats{Files: 6, Dirs: 6, Symlinks: 1}
	wantStats.Bytes = stats.Bytes
	if !reflect.DeepEqual(stats, wantStats) {
		t.Errorf("AddTree stats = %+v, want %+v", stats, wantStats)
	}
	_, err = w.AddBytes("options.xml", []byte("<options><objective>security</objective></options>\n"), mtime)
	must(t, err)
	wg.Wait()
	m := &Manifest{
		Resource: "application.MAINFRAME", Kind: "application", Name: "MAINFRAME_2024-05-06-07-08-09",
		CreatedAt: mtime, PlanbVersion: "test", DurationSeconds: 1.5,
		Postgres: &PostgresInfo{ServerVersion: "15.8", PgDumpVersion: "15.8", Database: "postgres"},
		Schemas:  []SchemaInfo{{Role: "analysis", Name: "mainframe_local", Entry: "schemas/mainframe_local.cssbackup", Tables: 3}},
		Delivery: &TreeInfo{Source: tree, Prefix: "delivery/", Files: stats.Files, Dirs: stats.Dirs, Bytes: stats.Bytes},
		Options:  "options.xml",
	}
	must(t, w.Close(m))
	must(t, out.Close())
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("spool directory not empty after Close: %v", left)
	}
	return builtArchive{path: path, tree: tree, streams: streams, manifest: m}
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

func openFile(t *testing.T, path string) *Reader {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	t.Cleanup(func() { f.Close() })
	info, err := f.Stat()
	must(t, err)
	r, err := Open(f, info.Size())
	must(t, err)
	return r
}

func TestRoundTrip(t *testing.T) {
	a := buildArchive(t)

	t.Run("unzip accepts it", func(t *testing.T) { unzipTest(t, a.path) })

	t.Run("stdlib reader sees methods modes and mtimes", func(t *testing.T) {
		zr, err := stdzip.OpenReader(a.path)
		must(t, err)
		defer zr.Close()
		byName := map[string]*stdzip.File{}
		for _, f := range zr.File {
			byName[f.Name] = f
		}
		if last := zr.File[len(zr.File)-1].Name; last != ManifestName {
			t.Errorf("last entry is %s, want %s", last, ManifestName)
		}
		tests := map[string]struct {
			method uint16
			mode   fs.FileMode
			mtime  time.Time
		}{
			"delivery/V2/lib/bundle.zip":           {stdzip.Store, 0o644, fileMTime(t, a.tree, "V2/lib/bundle.zip")},
			"delivery/V1/src/copy/" + nonASCIIName: {stdzip.Deflate, 0o644, fileMTime(t, a.tree, "V1/src/copy/"+nonASCIIName)},
			"delivery/V1/build.sh":                 {stdzip.Deflate, 0o755, fileMTime(t, a.tree, "V1/build.sh")},
			"delivery/V2/README.txt":               {stdzip.Deflate, 0o600, fileMTime(t, a.tree, "V2/README.txt")},
			"delivery/V2/empty/":                   {stdzip.Store, fs.ModeDir | 0o750, fileMTime(t, a.tree, "V2/empty")},
			"delivery/V2/main-link.cob":            {stdzip.Store, fs.ModeSymlink | 0o777, time.Time{}},
			"schemas/mainframe_local.cssbackup":    {stdzip.Deflate, 0o600, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
			"options.xml":                          {stdzip.Deflate, 0o644, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				f, ok := byName[name]
				if !ok {
					t.Fatalf("entry missing; have %d entries", len(zr.File))
				}
				if f.Method != tc.method {
					t.Errorf("method %d, want %d", f.Method, tc.method)
				}
				if f.Mode() != tc.mode {
					t.Errorf("mode %v, want %v", f.Mode(), tc.mode)
				}
				if !tc.mtime.IsZero() && !f.Modified.Equal(tc.mtime) {
					t.Errorf("mtime %v, want %v", f.Modified, tc.mtime)
				}
			})
		}
		rc, err := byName["schemas/mainframe_local.cssbackup"].Open()
		must(t, err)
		got, err := io.ReadAll(rc)
		must(t, err)
		if !bytes.Equal(got, a.streams["schemas/mainframe_local.cssbackup"]) {
			t.Error("stdlib reader: stream content differs")
		}
	})

	t.Run("zipinfo shows unix modes", func(t *testing.T) {
		requireTool(t, "zipinfo")
		out, err := exec.Command("zipinfo", a.path, "delivery/V1/build.sh", "delivery/V2/main-link.cob").CombinedOutput()
		must(t, err)
		for _, want := range []string{"-rwxr-xr-x", "lrwxrwxrwx", "unx"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("zipinfo output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("manifest and verify", func(t *testing.T) {
		r := openFile(t, a.path)
		m, err := r.Manifest()
		must(t, err)
		if m.FormatVersion != FormatVersion || m.Resource != "application.MAINFRAME" || m.Schemas[0].Tables != 3 || m.Postgres.ServerVersion != "15.8" {
			t.Errorf("manifest fields lost: %+v", m)
		}
		if got, want := len(m.Entries), len(r.Entries())-1; got != want {
			t.Errorf("manifest lists %d entries, archive has %d besides the manifest", got, want)
		}
		for _, e := range m.Entries {
			if e.Name == "schemas/mainframe_mngt.cssbackup" && (e.Size != 300_000 || e.Mode != 0o600 || len(e.SHA256) != 64) {
				t.Errorf("manifest entry %+v", e)
			}
		}
		must(t, r.Verify(context.Background()))
		must(t, r.CheckSafe(SafetyOptions{}))
	})

	t.Run("extract round-trips the tree", func(t *testing.T) {
		r := openFile(t, a.path)
		target := filepath.Join(t.TempDir(), "restored")
		stats, err := r.Extract(context.Background(), "delivery/", target, SafetyOptions{})
		must(t, err)
		if stats.Files != 6 || stats.Dirs != 6 || stats.Symlinks != 1 {
			t.Errorf("Extract stats = %+v", stats)
		}
		compareTrees(t, snapshotTree(t, a.tree), snapshotTree(t, target))
	})

	t.Run("Info-ZIP unzip restores the same tree", func(t *testing.T) {
		requireTool(t, "unzip")
		dir := t.TempDir()
		out, err := exec.Command("unzip", "-q", a.path, "delivery/*", "-d", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("unzip: %v\n%s", err, out)
		}
		compareTrees(t, snapshotTree(t, a.tree), snapshotTree(t, filepath.Join(dir, "delivery")))
	})

	t.Run("extract refuses a non-empty target", func(t *testing.T) {
		r := openFile(t, a.path)
		target := t.TempDir()
		must(t, os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o644))
		if _, err := r.Extract(context.Background(), "delivery", target, SafetyOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("Extract into a non-empty directory: err = %v", err)
		}
		if b, _ := os.ReadFile(filepath.Join(target, "keep")); string(b) != "x" {
			t.Error("existing file was touched")
		}
	})

	t.Run("extract of a missing prefix", func(t *testing.T) {
		r := openFile(t, a.path)
		_, err := r.Extract(context.Background(), "files/", filepath.Join(t.TempDir(), "x"), SafetyOptions{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

func fileMTime(t *testing.T, dir, rel string) time.Time {
	t.Helper()
	info, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
	must(t, err)
	return info.ModTime()
}

func TestCorruption(t *testing.T) {
	a := buildArchive(t)
	data, err := os.ReadFile(a.path)
	must(t, err)

	t.Run("flipped byte in compressed data", func(t *testing.T) {
		const name = "schemas/mainframe_local.cssbackup"
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		must(t, err)
		var f *zip.File
		for _, zf := range zr.File {
			if zf.Name == name {
				f = zf
			}
		}
		off, err := f.DataOffset()
		must(t, err)
		bad := bytes.Clone(data)
		bad[off+int64(f.CompressedSize64)/2] ^= 0x55
		r, err := Open(bytes.NewReader(bad), int64(len(bad)))
		must(t, err)
		err = r.Verify(context.Background())
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("Verify = %v, want an error naming %s", err, name)
		}
		// Extraction of the damaged archive fails as well and leaves nothing behind.
		target := filepath.Join(t.TempDir(), "out")
		if _, err := r.Extract(context.Background(), "schemas", target, SafetyOptions{}); err == nil {
			t.Error("Extract of a corrupt entry succeeded")
		}
		if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("target left behind after failed extraction: %v", err)
		}
	})

	t.Run("tampered manifest checksum", func(t *testing.T) {
		const name = "options.xml"
		bad := rewriteManifest(t, data, func(m *Manifest) {
			for i := range m.Entries {
				if m.Entries[i].Name == name {
					m.Entries[i].SHA256 = strings.Repeat("0", 64)
				}
			}
		})
		r, err := Open(bytes.NewReader(bad), int64(len(bad)))
		must(t, err)
		err = r.Verify(context.Background())
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "sha256") {
			t.Fatalf("Verify = %v, want a sha256 error naming %s", err, name)
		}
	})

	t.Run("manifest and archive disagree on entries", func(t *testing.T) {
		bad := rewriteManifest(t, data, func(m *Manifest) {
			m.Entries = m.Entries[1:]
			m.Entries = append(m.Entries, Entry{Name: "schemas/ghost.cssbackup", SHA256: strings.Repeat("0", 64)})
		})
		r, err := Open(bytes.NewReader(bad), int64(len(bad)))
		must(t, err)
		err = r.Verify(context.Background())
		if err == nil || !strings.Contains(err.Error(), "not in the manifest") || !strings.Contains(err.Error(), "schemas/ghost.cssbackup: in the manifest but not in the archive") {
			t.Fatalf("Verify = %v", err)
		}
	})
}

// rewriteManifest copies the archive data with its manifest changed by edit.
func rewriteManifest(t *testing.T, data []byte, edit func(*Manifest)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	must(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if f.Name != ManifestName {
			must(t, zw.Copy(f))
			continue
		}
		rc, err := f.Open()
		must(t, err)
		var m Manifest
		must(t, json.NewDecoder(rc).Decode(&m))
		edit(&m)
		w, err := zw.Create(ManifestName)
		must(t, err)
		must(t, json.NewEncoder(w).Encode(&m))
	}
	must(t, zw.Close())
	return buf.Bytes()
}

func TestNoManifest(t *testing.T) {
	requireTool(t, "zip")
	dir := t.TempDir()
	src := filepath.Join(dir, "MAINFRAME")
	must(t, os.MkdirAll(filepath.Join(src, "V1"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "V1", "a.cob"), []byte("IDENTIFICATION DIVISION.\n"), 0o644))
	path := filepath.Join(dir, "MAINFRAME_2023-01-02-03-04-05.zip")
	cmd := exec.Command("zip", "-qr", path, "MAINFRAME")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip: %v\n%s", err, out)
	}
	r := openFile(t, path)
	if _, err := r.Manifest(); !errors.Is(err, ErrNoManifest) {
		t.Fatalf("Manifest() err = %v, want ErrNoManifest", err)
	}
	must(t, r.Verify(context.Background()))
	target := filepath.Join(dir, "out")
	stats, err := r.Extract(context.Background(), "MAINFRAME", target, SafetyOptions{})
	must(t, err)
	if stats.Files != 1 || stats.Dirs != 1 {
		t.Errorf("stats = %+v", stats)
	}
	if b, err := os.ReadFile(filepath.Join(target, "V1", "a.cob")); err != nil || string(b) != "IDENTIFICATION DIVISION.\n" {
		t.Errorf("extracted content %q, %v", b, err)
	}
}

func TestWriterErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("duplicate name", func(t *testing.T) {
		w := NewWriter(io.Discard, WriterOptions{})
		_, err := w.AddBytes("a.txt", []byte("1"), time.Time{})
		must(t, err)
		if _, err := w.AddBytes("a.txt", []byte("2"), time.Time{}); err == nil || !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("second AddBytes: %v", err)
		}
		if _, err := w.AddBytes(ManifestName, nil, time.Time{}); err == nil {
			t.Error("AddBytes of manifest.json succeeded")
		}
	})
	t.Run("invalid names", func(t *testing.T) {
		w := NewWriter(io.Discard, WriterOptions{})
		for _, name := range []string{"", "/abs", "../x", "a/../b", "a//b", `a\b`, "./a"} {
			if _, err := w.AddBytes(name, nil, time.Time{}); err == nil {
				t.Errorf("AddBytes(%q) succeeded", name)
			}
		}
	})
	t.Run("failed produce leaves nothing", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf, WriterOptions{})
		boom := errors.New("pg_dump exited 1")
		_, err := w.AddStream(ctx, "s.cssbackup", 0, time.Time{}, func(dst io.Writer) error {
			dst.Write([]byte("partial"))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("AddStream err = %v", err)
		}
		_, err = w.AddBytes("s.cssbackup", []byte("retry"), time.Time{})
		must(t, err)
		must(t, w.Close(nil))
		r, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		must(t, err)
		if n := len(r.Entries()); n != 2 {
			t.Errorf("%d entries, want 2", n)
		}
		must(t, r.Verify(ctx))
	})
	t.Run("abort", func(t *testing.T) {
		spoolDir := t.TempDir()
		w := NewWriter(io.Discard, WriterOptions{TempDir: spoolDir, SpoolMemory: 1024})
		started := make(chan struct{})
		done := make(chan error)
		go func() {
			_, err := w.AddStream(ctx, "big", 0, time.Time{}, func(dst io.Writer) error {
				rng := rand.New(rand.NewPCG(1, 1))
				close(started)
				for {
					if _, err := dst.Write(randomBytes(rng, 4096)); err != nil {
						return err
					}
				}
			})
			done <- err
		}()
		<-started
		w.Abort()
		if err := <-done; !errors.Is(err, ErrAborted) {
			t.Errorf("AddStream after Abort: %v", err)
		}
		if _, err := w.AddBytes("x", nil, time.Time{}); !errors.Is(err, ErrAborted) {
			t.Errorf("AddBytes after Abort: %v", err)
		}
		if err := w.Close(nil); !errors.Is(err, ErrAborted) {
			t.Errorf("Close after Abort: %v", err)
		}
		if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
			t.Errorf("spool files left: %v", left)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		w := NewWriter(io.Discard, WriterOptions{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := w.AddStream(cctx, "x", 0, time.Time{}, func(dst io.Writer) error {
			_, err := dst.Write([]byte("data"))
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("exclude", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "V1", "test"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "V1", "test", "t.cob"), []byte("t"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "V1", "a.cob"), []byte("a"), 0o644))
		var buf bytes.Buffer
		w := NewWriter(&buf, WriterOptions{})
		stats, err := w.AddTree(ctx, "delivery", dir, TreeOptions{Exclude: func(rel string, d fs.DirEntry) bool {
			return d.IsDir() && d.Name() == "test"
		}})
		must(t, err)
		must(t, w.Close(nil))
		if !reflect.DeepEqual(stats, TreeStats{Files: 1, Dirs: 1, Bytes: 1}) {
			t.Errorf("stats = %+v", stats)
		}
		r, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		must(t, err)
		for _, e := range r.Entries() {
			if strings.Contains(e.Name, "test") {
				t.Errorf("excluded entry %s archived", e.Name)
			}
		}
	})
}

func TestEntryJSON(t *testing.T) {
	tests := map[string]Entry{
		"file":    {Name: "a/b.sh", Mode: 0o755, Size: 3, Method: methodDeflate, SHA256: "ab", MTime: time.Unix(1, 5).UTC()},
		"dir":     {Name: "a/", Mode: fs.ModeDir | 0o750 | fs.ModeSticky, MTime: time.Unix(2, 0).UTC()},
		"symlink": {Name: "l", Mode: fs.ModeSymlink | 0o777, Size: 4, SHA256: "cd", MTime: time.Unix(3, 0).UTC()},
		"setuid":  {Name: "s", Mode: 0o4711, MTime: time.Unix(4, 0).UTC()},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			if name == "setuid" {
				e.Mode = 0o711 | fs.ModeSetuid
			}
			b, err := json.Marshal(e)
			must(t, err)
			var got Entry
			must(t, json.Unmarshal(b, &got))
			if got != e {
				t.Errorf("round trip of %s:\n got %+v\nwant %+v", b, got, e)
			}
		})
	}
	b, _ := json.Marshal(Entry{Name: "x", Mode: 0o755})
	if !strings.Contains(string(b), `"mode":"0755"`) || !strings.Contains(string(b), `"type":"file"`) {
		t.Errorf("entry JSON %s", b)
	}
}

func TestSpool(t *testing.T) {
	tests := map[string]struct {
		memory, write int
		wantFile      bool
	}{
		"stays in memory":  {memory: 1 << 10, write: 1 << 10, wantFile: false},
		"spills to a file": {memory: 1 << 10, write: 300_000, wantFile: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			w := NewWriter(io.Discard, WriterOptions{TempDir: dir, SpoolMemory: tc.memory})
			sp := w.newSpool()
			data := randomBytes(rand.New(rand.NewPCG(5, 6)), tc.write)
			for chunk := range slicesChunk(data, 700) {
				_, err := sp.Write(chunk)
				must(t, err)
			}
			if got := sp.f != nil; got != tc.wantFile {
				t.Errorf("spooled to a file: %v, want %v", got, tc.wantFile)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("spool file visible in %s: %v", dir, left)
			}
			var out bytes.Buffer
			n, err := sp.copyTo(&out)
			must(t, err)
			if n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
				t.Errorf("copyTo returned %d bytes, content equal: %v", n, bytes.Equal(out.Bytes(), data))
			}
			sp.release()
		})
	}
}
