package cas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/store"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
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

// randomText returns n bytes that do not compress.
func randomText(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tree describes a folder as path → type, mode, mtime and content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case d.Type().IsRegular():
			data, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %s %q", info.ModTime().UTC().Format(time.RFC3339Nano), data)
		default:
			desc += " " + info.ModTime().UTC().Format(time.RFC3339Nano)
		}
		out[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func assertSameTree(t *testing.T, want, got string) {
	t.Helper()
	w, g := tree(t, want), tree(t, got)
	for p, d := range w {
		if g[p] != d {
			t.Errorf("%s: restored %q, want %q", p, g[p], d)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: restored, but not in the original", p)
		}
	}
}

func localPacks(t *testing.T) (*store.Local, string) {
	t.Helper()
	root := t.TempDir()
	st, err := store.NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, root
}

func present(t *testing.T, st store.Packs) map[string]bool {
	t.Helper()
	list, err := st.ListPacks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, p := range list {
		m[p.ID] = true
	}
	return m
}

// roundTrip stores the index as a backup archive would, and reads it back.
func roundTrip(t *testing.T, idx *Index) *Index {
	t.Helper()
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// A folder stored in packs restores identically; a second backup with a
// new version that copies another with a tenth of its files changed
// stores about that tenth, and reads no unchanged file.
func TestBuildExtractIncremental(t *testing.T) {
	ctx := context.Background()
	st, _ := localPacks(t)
	src := filepath.Join(t.TempDir(), "delivery")
	files := map[string]string{"v1/empty.txt": ""}
	for i := range 40 {
		files[fmt.Sprintf("v1/src/prog%02d.cob", i)] = randomText(20 << 10)
	}
	writeFiles(t, src, files)
	// One content bigger than a read span streams through restores.
	writeFiles(t, src, map[string]string{"lib/big.bin": randomText(readSpan + 1<<20)})
	if err := os.Symlink("v1/src", filepath.Join(src, "current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "v1/src/prog00.cob"), 0o755); err != nil {
		t.Fatal(err)
	}

	idx1, s1, err := Build(ctx, src, st, BuildOptions{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	idx1 = roundTrip(t, idx1)
	if s1.Files != 42 || s1.Reused != 0 || s1.NewPacks < 2 || !idx1.FullRead {
		t.Fatalf("first build: %+v", s1)
	}

	// v2 is a copy of v1 with 4 of its 40 files changed.
	v2 := map[string]string{}
	for name, body := range files {
		v2["v2"+strings.TrimPrefix(name, "v1")] = body
	}
	for i := range 4 {
		v2[fmt.Sprintf("v2/src/prog%02d.cob", i)] = randomText(20 << 10)
	}
	writeFiles(t, src, v2)
	idx2, s2, err := Build(ctx, src, st, BuildOptions{Parent: idx1, Present: present(t, st)})
	if err != nil {
		t.Fatal(err)
	}
	idx2 = roundTrip(t, idx2)
	if s2.Reused != 42 {
		t.Errorf("second build reused %d files, want v1's 42", s2.Reused)
	}
	if s2.Read != 40*(20<<10) {
		t.Errorf("second build read %d bytes, want v2's %d", s2.Read, 40*(20<<10))
	}
	if s2.Stored > 5*(20<<10) || s2.Stored < 4*(10<<10) {
		t.Errorf("second build stored %d bytes, want about 4 files of 20 KiB (less than %d)", s2.Stored, s1.Stored/8)
	}
	if idx2.FullRead || idx2.SinceFullRead != 1 {
		t.Errorf("second build: full_read %v, since_full_read %d", idx2.FullRead, idx2.SinceFullRead)
	}

	out := filepath.Join(t.TempDir(), "restored")
	if _, _, err := Extract(ctx, idx2, st, out); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, out)
	if err := Verify(ctx, idx2, st); err != nil {
		t.Fatal(err)
	}

	// A full read reads everything and stores nothing new.
	_, s3, err := Build(ctx, src, st, BuildOptions{Parent: idx2, Present: present(t, st), FullRead: true})
	if err != nil {
		t.Fatal(err)
	}
	if s3.Reused != 0 || s3.Stored != 0 {
		t.Errorf("full read: %+v, want nothing reused and nothing stored", s3)
	}
}

// Verify names a missing pack and a corrupt one; CheckPacks finds the
// missing one without reading contents.
func TestVerifyFindsDamage(t *testing.T) {
	ctx := context.Background()
	st, root := localPacks(t)
	src := t.TempDir()
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("v1/f%02d.txt", i)] = randomText(30 << 10)
	}
	writeFiles(t, src, files)
	idx, _, err := Build(ctx, src, st, BuildOptions{PackSize: 200 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ids := idx.Packs()
	if len(ids) < 2 {
		t.Fatalf("want at least 2 packs, got %d", len(ids))
	}
	if err := Verify(ctx, idx, st); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(root, filepath.FromSlash(store.PackKey(ids[0])))
	data, err := os.ReadFile(corrupt)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(corrupt, data, 0o600); err != nil {
		t.Fatal(err)
	}
	err = Verify(ctx, idx, st)
	if err == nil || !strings.Contains(err.Error(), "pack "+ids[0]) {
		t.Fatalf("Verify after corrupting a pack: %v", err)
	}
	if err := CheckPacks(ctx, idx, st); err != nil {
		t.Fatalf("CheckPacks reads no content, yet: %v", err)
	}
	if err := st.DeletePack(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]func(context.Context, *Index, store.Packs) error{"Verify": Verify, "CheckPacks": CheckPacks} {
		err := check(ctx, idx, st)
		if err == nil || !strings.Contains(err.Error(), "pack "+ids[1]+" is missing") {
			t.Errorf("%s after deleting a pack: %v", name, err)
		}
	}
	if _, _, err := Extract(ctx, idx, st, filepath.Join(t.TempDir(), "out")); err == nil {
		t.Error("Extract with a missing pack succeeded")
	}
}

// Parse refuses indexes that would write outside the folder or through a
// link.
func TestParseRefusesUnsafeIndexes(t *testing.T) {
	sum := strings.Repeat("a", 64)
	cases := map[string][]Entry{
		"dot-dot":      {{Path: "../x", Type: TypeFile, Mode: "0644", SHA256: sum}},
		"absolute":     {{Path: "/etc/x", Type: TypeFile, Mode: "0644", SHA256: sum}},
		"duplicate":    {{Path: "x", Type: TypeDir, Mode: "0755"}, {Path: "x", Type: TypeDir, Mode: "0755"}},
		"below a link": {{Path: "l", Type: TypeSymlink, Mode: "0777", Target: "/etc"}, {Path: "l/passwd", Type: TypeFile, Mode: "0644", SHA256: sum}},
		"no pack":      {{Path: "x", Type: TypeFile, Mode: "0644", Size: 3, SHA256: sum}},
		"unknown type": {{Path: "x", Type: "fifo", Mode: "0644"}},
		"backslash":    {{Path: `a\b`, Type: TypeDir, Mode: "0755"}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			data, _ := json.Marshal(Index{FormatVersion: IndexFormat, Entries: entries})
			if _, err := Parse(data); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
