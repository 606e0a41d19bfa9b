package archive

import (
	stdzip "archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var words = strings.Fields(`IDENTIFICATION DIVISION PROGRAM-ID PROCEDURE DATA WORKING-STORAGE SECTION
PERFORM UNTIL MOVE TO COMPUTE DISPLAY CALL USING END-IF EVALUATE WHEN OTHER customer account
balance transaction ledger SELECT FROM WHERE INSERT INTO VALUES public int4 varchar timestamp
object_id parent_id fullname MAINFRAME CAST analysis snapshot metric violation rule quality`)

// sourceText returns n bytes of deterministic, source-code-like text.
func sourceText(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 100)
	for b.Len() < n {
		fmt.Fprintf(&b, "%*s", 4*rng.IntN(4), "")
		for k := 2 + rng.IntN(8); k > 0; k-- {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d.\n", rng.IntN(100000))
	}
	return b.Bytes()[:n]
}

// dumpText writes n bytes resembling pg_dump COPY data to w.
func dumpText(w io.Writer, rng *rand.Rand, n int64) error {
	var b bytes.Buffer
	var written int64
	id := 0
	for written < n {
		b.Reset()
		for b.Len() < 64<<10 {
			id++
			fmt.Fprintf(&b, "%d\t%d\t%s_%s\t%s\t2024-%02d-%02d %02d:%02d:%02d\t%d\n", id, rng.IntN(id+1),
				words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))],
				1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.Int64N(1<<40))
		}
		chunk := b.Bytes()
		if int64(len(chunk)) > n-written {
			chunk = chunk[:n-written]
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		written += int64(len(chunk))
	}
	return nil
}

// randomBytes returns n incompressible bytes.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

const nonASCIIName = "Überweisung_日本.cob"

// makeDeliveryTree builds the tree the round-trip tests archive: nested directories, a
// non-ASCII name, an empty directory, a symlink inside, an executable and a .zip file. Every
// file and directory gets a distinct whole-second mtime.
func makeDeliveryTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string][]byte{
		"V1/src/main.cob":             sourceText(rng, 50_000),
		"V1/src/copy/" + nonASCIIName: sourceText(rng, 3_000),
		"V1/src/copy/empty.cpy":       nil,
		"V1/build.sh":                 []byte("#!/bin/sh\necho build\n"),
		"V2/README.txt":               sourceText(rng, 700),
		"V2/lib/bundle.zip":           zipOf(t, rng),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o644))
	}
	must(t, os.Chmod(filepath.Join(dir, "V1/build.sh"), 0o755))
	must(t, os.Chmod(filepath.Join(dir, "V2/README.txt"), 0o600))
	must(t, os.MkdirAll(filepath.Join(dir, "V2/empty"), 0o750))
	must(t, os.Symlink("../V1/src/main.cob", filepath.Join(dir, "V2/main-link.cob")))
	i := 0
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 || d.IsDir() {
			return err
		}
		i++
		mt := time.Date(2021, 3, 4, 5, 6, i, 0, time.UTC)
		return os.Chtimes(p, mt, mt)
	}))
	// Directories last and deepest first, since adding children changes a directory's mtime.
	for _, d := range []string{"V1/src/copy", "V1/src", "V2/lib", "V2/empty", "V1", "V2", "."} {
		i++
		mt := time.Date(2020, 1, 2, 3, 4, i, 0, time.Local)
		must(t, os.Chtimes(filepath.Join(dir, d), mt, mt))
	}
}

// zipOf returns a small ZIP file of random data (incompressible, as a real .jar would be).
func zipOf(t *testing.T, rng *rand.Rand) []byte {
	var buf bytes.Buffer
	zw := stdzip.NewWriter(&buf)
	w, err := zw.Create("classes.bin")
	must(t, err)
	_, err = w.Write(randomBytes(rng, 20_000))
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}

type treeItem struct {
	mode   fs.FileMode
	mtime  time.Time
	data   string // content or symlink target
	isLink bool
}

// snapshotTree records every path below dir (relative, slash-separated).
func snapshotTree(t *testing.T, dir string) map[string]treeItem {
	t.Helper()
	out := map[string]treeItem{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		it := treeItem{mode: info.Mode(), mtime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			it = treeItem{mode: fs.ModeSymlink, data: target, isLink: true}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			it.data = string(b)
		}
		out[filepath.ToSlash(rel)] = it
		return nil
	}))
	return out
}

// compareTrees fails unless got holds the same paths, types, permissions, contents and
// (for files and directories) mtimes to the second as want.
func compareTrees(t *testing.T, want, got map[string]treeItem) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: missing after extraction", name)
			continue
		}
		if w.isLink {
			if !g.isLink || g.data != w.data {
				t.Errorf("%s: got link=%v %q, want symlink to %q", name, g.isLink, g.data, w.data)
			}
			continue
		}
		if g.mode != w.mode {
			t.Errorf("%s: mode %v, want %v", name, g.mode, w.mode)
		}
		if g.data != w.data {
			t.Errorf("%s: content differs (%d bytes, want %d)", name, len(g.data), len(w.data))
		}
		if !g.mtime.Truncate(time.Second).Equal(w.mtime.Truncate(time.Second)) {
			t.Errorf("%s: mtime %v, want %v", name, g.mtime, w.mtime)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: extracted but not in the source", name)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
