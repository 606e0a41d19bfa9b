package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
)

// The fuzz targets of this file feed archives that are untrusted input to the reader and
// the safety checks. Each asserts properties, not only the absence of panics: an archive is
// either rejected (by Open, or by CheckSafe and Extract with ErrUnsafe) or every entry it
// holds is safe by an independent check, and extracting it writes inside the target only,
// never through a symlink, and creates exactly the symlinks the archive holds.

// fuzzMaxExtract is the most entries FuzzReader extracts, which takes most of its time.
const fuzzMaxExtract = 16

// fuzzMaxTotal bounds the uncompressed bytes the targets extract or verify per input.
const fuzzMaxTotal = 4 << 20

// zipBytes builds an archive with an ordinary ZIP writer, which writes whatever it is given.
func zipBytes(tb testing.TB, entries ...rawEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		must(tb, err)
		if e.zeros > 0 {
			_, err = io.CopyN(w, zeroReader{}, e.zeros)
		} else {
			_, err = io.WriteString(w, e.data)
		}
		must(tb, err)
	}
	must(tb, zw.Close())
	return buf.Bytes()
}

// writerArchive returns a small archive made by Writer: a stream and a delivery tree with
// a stored entry, a symlink and an empty directory, and the manifest.
func writerArchive(tb testing.TB) []byte {
	tb.Helper()
	tree := tb.TempDir()
	for name, data := range map[string]string{
		"V1/main.cob":  "       IDENTIFICATION DIVISION.\n",
		"V1/ü.jar":     "PK not really",
		"V2/empty.cpy": "",
	} {
		p := filepath.Join(tree, filepath.FromSlash(name))
		must(tb, os.MkdirAll(filepath.Dir(p), 0o755))
		must(tb, os.WriteFile(p, []byte(data), 0o644))
	}
	must(tb, os.Mkdir(filepath.Join(tree, "V2/empty"), 0o750))
	must(tb, os.Symlink("../V1/main.cob", filepath.Join(tree, "V2/main.cob")))

	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{TempDir: tb.TempDir(), Workers: 1})
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	_, err := w.AddBytes("schemas/x_local.cssbackup", bytes.Repeat([]byte("PGDMP\x01\x0e"), 50), mtime)
	must(tb, err)
	_, err = w.AddTree(context.Background(), "delivery/", tree, TreeOptions{})
	must(tb, err)
	must(tb, w.Close(&Manifest{Resource: "application.X", Kind: "application", Name: "X", CreatedAt: mtime,
		Schemas: []SchemaInfo{{Role: "analysis", Name: "x_local", Entry: "schemas/x_local.cssbackup"}}}))
	return buf.Bytes()
}

// hostileSeeds are hand-made archives that try the safety checks; CheckSafe must refuse
// most of them (symlinks to absolute or outside targets are restored as they are).
func hostileSeeds(tb testing.TB) [][]byte {
	link := fs.ModeSymlink | 0o777
	sets := [][]rawEntry{
		{{name: "../evil", data: "x"}},
		{{name: "/tmp/evil", data: "x"}},
		{{name: `..\evil`, data: "x"}},
		{{name: "C:/evil", data: "x"}},
		{{name: "a//b", data: "x"}},
		{{name: "a/./b", data: "x"}},
		{{name: "a\x00b", data: "x"}},
		{{name: "a", data: "1"}, {name: "a", data: "2"}},
		{{name: "A", data: "1"}, {name: "a", data: "2"}},
		{{name: "a", data: "1"}, {name: "a/b", data: "2"}},
		{{name: "l", mode: link, data: "../outside"}, {name: "l/evil", data: "x"}},
		{{name: "l", mode: link, data: "/etc"}},
		{{name: "d/up", mode: link, data: ".."}, {name: "d/m", mode: link, data: "up/../evil"}},
		{{name: "l", mode: link, data: ""}},
		{{name: "dev", mode: fs.ModeDevice | 0o600}},
		{{name: "pipe", mode: fs.ModeNamedPipe | 0o600}},
		{{name: "bomb", zeros: 2 << 20}},
	}
	out := make([][]byte, 0, len(sets))
	for _, s := range sets {
		out = append(out, zipBytes(tb, s...))
	}
	return out
}

func FuzzReader(f *testing.F) {
	real := writerArchive(f)
	r, err := Open(bytes.NewReader(real), int64(len(real)))
	must(f, err)
	must(f, r.CheckSafe(SafetyOptions{}))
	must(f, r.Verify(context.Background()))
	f.Add(real)
	f.Add(zipBytes(f, rawEntry{name: "d/", mode: fs.ModeDir | 0o755}, rawEntry{name: "d/a", data: "x"},
		rawEntry{name: "d/l", mode: fs.ModeSymlink | 0o777, data: "a"}))
	for _, b := range hostileSeeds(f) {
		f.Add(b)
	}
	for _, b := range hugeSizeSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if r != nil {
				t.Fatal("Open returned a reader and an error")
			}
			return
		}
		checkReader(t, r)
	})
}

// FuzzExtract builds archives from a description of their entries, so that the fuzzer
// explores names, types and symlink targets rather than the ZIP structure. Each line of spec
// is one entry: a type letter (f file, d directory, l symlink, p fifo, c device), a tab, the
// name, and for files and symlinks another tab and the content or target.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"d\tdelivery/\nf\tdelivery/a.cob\tcode\nl\tdelivery/b\ta.cob",
		"f\ta\tx\nf\tb/c/d\ty\nl\tb/l\t../a",
		"l\tl\tsub/../../x",
		"l\tl\t.\nf\tl/x\tx",
		"l\ta/up\t..\nl\ta/m\tup/../evil",
		"l\tl\t/abs",
		"l\tl\tC:x",
		"f\t../x\tx",
		"f\tx/..\tx",
		"f\tA\t1\nf\ta\t2",
		"d\ta/\nf\ta\t2",
		"f\ta\\b\tx",
		"p\tfifo",
		"c\tdev",
		"l\tl1\tl2\nl\tl2\tl1",
		"l\td/l\t../d/../../x",
		"f\t" + strings.Repeat("n", 300) + "\tlong",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, spec string, caseInsensitive bool) {
		entries := parseSpec(spec)
		if len(entries) == 0 || len(entries) > 64 {
			return
		}
		data := zipBytes(t, entries...)
		r, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("an archive of a ZIP writer does not open: %v", err)
		}
		opts := SafetyOptions{CaseInsensitive: caseInsensitive}
		err = r.CheckSafe(opts)
		if err == nil {
			checkSafeListing(t, r, opts)
		} else if !errors.Is(err, ErrUnsafe) {
			t.Fatalf("CheckSafe error without ErrUnsafe: %v", err)
		}
		if err != nil && plainEntries(entries) {
			t.Fatalf("plain archive refused: %v", err)
		}
		checkExtract(t, r, opts, err == nil)
	})
}

// parseSpec turns a FuzzExtract description into entries.
func parseSpec(spec string) []rawEntry {
	var entries []rawEntry
	for line := range strings.SplitSeq(spec, "\n") {
		typ, rest, ok := strings.Cut(line, "\t")
		if !ok || len(typ) != 1 {
			continue
		}
		name, data, _ := strings.Cut(rest, "\t")
		if strings.HasSuffix(name, "/") {
			data = "" // a ZIP writer takes such names for directories
		}
		e := rawEntry{name: name, data: data}
		switch typ {
		case "f":
		case "d":
			e.mode, e.data = fs.ModeDir|0o755, ""
		case "l":
			e.mode = fs.ModeSymlink | 0o777
		case "p":
			e.mode, e.data = fs.ModeNamedPipe|0o644, ""
		case "c":
			e.mode, e.data = fs.ModeDevice|fs.ModeCharDevice|0o644, ""
		default:
			continue
		}
		entries = append(entries, e)
	}
	return entries
}

// plainEntries reports whether entries are regular files and directories with short
// lower-case names, unique and none below a file: archives CheckSafe must accept.
func plainEntries(entries []rawEntry) bool {
	kinds := map[string]bool{} // name → is a file
	for _, e := range entries {
		if e.mode != 0 && !e.mode.IsDir() {
			return false
		}
		name := strings.TrimSuffix(e.name, "/")
		if e.mode.IsDir() != strings.HasSuffix(e.name, "/") {
			return false
		}
		for elem := range strings.SplitSeq(name, "/") {
			if len(elem) == 0 || len(elem) > 8 || strings.Trim(elem, letters) != "" {
				return false
			}
		}
		if _, dup := kinds[name]; dup {
			return false
		}
		kinds[name] = !e.mode.IsDir()
	}
	for name := range kinds {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if kinds[dir] {
				return false
			}
		}
	}
	return true
}

// checkReader runs everything a reader offers on an archive that opened and checks what
// it reports.
func checkReader(t *testing.T, r *Reader) {
	entries := r.Entries()
	var total uint64
	for _, e := range entries {
		total += uint64(max(e.Size, 0))
	}
	m, err := r.Manifest()
	switch {
	case err == nil && (m == nil || m.FormatVersion < 1 || m.FormatVersion > FormatVersionPacks):
		t.Fatalf("Manifest() = %+v without an error", m)
	case err != nil && m != nil:
		t.Fatalf("Manifest() returned a manifest and %v", err)
	}
	for _, opts := range []SafetyOptions{{}, {NoSymlinks: true}, {CaseInsensitive: true}} {
		err := r.CheckSafe(opts)
		if err != nil {
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("CheckSafe(%+v) error without ErrUnsafe: %v", opts, err)
			}
			continue
		}
		checkSafeListing(t, r, opts)
	}
	if r.CheckSafe(SafetyOptions{}) == nil && total <= fuzzMaxTotal {
		// Safe archives are small enough here to be read in full.
		if err := r.Verify(context.Background()); err == nil && m != nil {
			checkVerifiedManifest(t, r, m)
		}
	}
	if len(entries) <= fuzzMaxExtract {
		checkExtract(t, r, SafetyOptions{}, r.CheckSafe(SafetyOptions{}) == nil)
	}
}

// letters are the drive letters of Windows paths ("c:"), lower case.
const letters = "abcdefghijklmnopqrstuvwxyz"

// checkSafeListing checks, independently of CheckSafe, that every entry of an archive it
// accepted can be extracted safely.
func checkSafeListing(t *testing.T, r *Reader, opts SafetyOptions) {
	t.Helper()
	seen := map[string]bool{}
	kinds := map[string]fs.FileMode{}
	var stored uint64 // compressed bytes and local headers, saturating
	for _, e := range r.Entries() {
		u, c := uint64(e.Size), uint64(e.CompressedSize)
		if u >= DefaultRatioMinSize && (c == 0 || u/c >= DefaultMaxRatio+1) {
			t.Fatalf("CheckSafe(%+v) accepted %q: %d bytes from %d", opts, e.Name, u, c)
		}
		if c > math.MaxUint64-stored-localHeaderLen {
			stored = math.MaxUint64
		} else {
			stored += localHeaderLen + c
		}
		name := strings.TrimSuffix(e.Name, "/")
		switch {
		case name == "",
			strings.HasPrefix(e.Name, "/"),
			strings.ContainsAny(e.Name, "\\\x00"),
			len(e.Name) >= 2 && e.Name[1] == ':' && strings.ContainsRune(letters, rune(e.Name[0]|0x20)),
			!filepath.IsLocal(name),
			path.Clean(name) != name:
			t.Fatalf("CheckSafe(%+v) accepted entry %q", opts, e.Name)
		}
		key := name
		if opts.CaseInsensitive {
			key = strings.ToLower(key)
		}
		if seen[key] {
			t.Fatalf("CheckSafe(%+v) accepted the duplicate %q", opts, e.Name)
		}
		seen[key] = true
		switch typ := e.Mode.Type(); {
		case typ == fs.ModeDir, typ == 0:
		case typ == fs.ModeSymlink && !opts.NoSymlinks:
		default:
			t.Fatalf("CheckSafe(%+v) accepted %q of type %v", opts, e.Name, typ)
		}
		kinds[name] = e.Mode.Type()
	}
	if stored > uint64(r.size) {
		t.Fatalf("CheckSafe(%+v) accepted entries of %d compressed bytes in %d", opts, stored, r.size)
	}
	for name := range kinds {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if typ, ok := kinds[dir]; ok && typ != fs.ModeDir {
				t.Fatalf("CheckSafe accepted %q below the %v entry %q", name, typ, dir)
			}
		}
	}
}

// checkVerifiedManifest checks that a manifest Verify accepted describes the archive.
func checkVerifiedManifest(t *testing.T, r *Reader, m *Manifest) {
	t.Helper()
	listed := map[string]Entry{}
	for _, e := range m.Entries {
		listed[e.Name] = e
	}
	n := 0
	for _, e := range r.Entries() {
		if e.Name == ManifestName {
			continue
		}
		n++
		me, ok := listed[e.Name]
		if !ok || me.Size != e.Size || me.Mode.IsDir() != e.Mode.IsDir() {
			t.Fatalf("Verify accepted %q, which the manifest lists as %+v", e.Name, me)
		}
		if e.Mode.IsDir() {
			continue
		}
		rc, err := r.OpenEntry(e.Name)
		if err != nil {
			t.Fatalf("entry %q verified but does not open: %v", e.Name, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil || hex.EncodeToString(h.Sum(nil)) != me.SHA256 {
			t.Fatalf("Verify accepted %q with the manifest's sha256 %s (read error %v)", e.Name, me.SHA256, err)
		}
	}
	if n != len(listed) {
		t.Fatalf("Verify accepted %d entries for a manifest of %d", n, len(listed))
	}
}

// checkExtract extracts the archive into a fresh directory and checks that nothing was
// written next to it, that a failed extraction leaves nothing behind, and that every
// symlink extracted is a symlink entry of the archive with the target it holds. safe says
// CheckSafe accepted the archive with opts; an archive it refused must not extract.
func checkExtract(t *testing.T, r *Reader, opts SafetyOptions, safe bool) {
	t.Helper()
	work := t.TempDir()
	target := filepath.Join(work, "out")
	opts.MaxTotalSize = fuzzMaxTotal
	_, err := r.Extract(context.Background(), "", target, opts)
	if err == nil && !safe {
		t.Fatal("Extract wrote an archive CheckSafe refused")
	}
	left, rerr := os.ReadDir(work)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		if len(left) != 0 {
			makeRemovable(t, target)
			t.Fatalf("Extract failed (%v) and left %v", err, left)
		}
		return
	}
	if len(left) != 1 || left[0].Name() != "out" {
		t.Fatalf("Extract wrote next to the target: %v", left)
	}
	makeRemovable(t, target)
	links := map[string]bool{}
	for _, e := range r.Entries() {
		if e.Mode.Type() == fs.ModeSymlink {
			links[e.Name] = true
		}
	}
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		rel, _ := filepath.Rel(target, p)
		rel = filepath.ToSlash(rel)
		if !links[rel] {
			return fmt.Errorf("symlink %s is not a symlink entry of the archive", rel)
		}
		got, err := os.Readlink(p)
		if err != nil {
			return err
		}
		rc, err := r.OpenEntry(rel)
		if err != nil {
			return err
		}
		want, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || got != string(want) {
			return fmt.Errorf("symlink %s points to %q, its entry holds %q (%v)", rel, got, want, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// makeRemovable gives the owner full access to every directory below dir (extracted
// permissions may deny it), so that the tree can be walked and removed.
func makeRemovable(t *testing.T, dir string) {
	t.Helper()
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			makeRemovable(t, filepath.Join(dir, e.Name()))
		}
	}
}

func FuzzManifest(f *testing.F) {
	// The manifest of an archive of the writer, and variations.
	arch := writerArchive(f)
	r, err := Open(bytes.NewReader(arch), int64(len(arch)))
	must(f, err)
	rc, err := r.OpenEntry(ManifestName)
	must(f, err)
	real, err := io.ReadAll(rc)
	must(f, err)
	f.Add(real)
	const hello = `{"format_version":1,"entries":[{"name":"a.txt","type":"file","mode":"0644","size":5,` +
		`"compressed_size":5,"method":"store",` +
		`"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","mtime":"2024-01-02T03:04:05.123456789+02:00"}]}`
	for _, s := range []string{
		hello,
		strings.Replace(hello, `"0644"`, `"7777"`, 1),
		strings.Replace(hello, `"0644"`, `"17777"`, 1),
		strings.Replace(hello, `"0644"`, `"-1"`, 1),
		strings.Replace(hello, `"file"`, `"other"`, 1),
		strings.Replace(hello, `"file"`, `"dir"`, 1),
		strings.Replace(hello, `"store"`, `"bzip2"`, 1),
		strings.Replace(hello, `"size":5`, `"size":-5`, 1),
		strings.Replace(hello, `"a.txt"`, `"../a.txt"`, 1),
		strings.Replace(hello, `"format_version":1`, `"format_version":2`, 1),
		strings.Replace(hello, `"format_version":1`, `"format_version":3`, 1),
		strings.Replace(hello, `2cf2`, `0000`, 1),
		`{"format_version":1,"entries":null}`,
		`{"format_version":1,"entries":[null]}`,
		`{"format_version":1,"created_at":"0000-01-01T00:00:00-23:59"}`,
		`{}`, `null`, `[]`, ``, `{"format_version":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkManifestJSON(t, data)

		// The same manifest in an archive holding a.txt = "hello".
		arch := zipBytes(t, rawEntry{name: "a.txt", data: "hello"}, rawEntry{name: ManifestName, data: string(data)})
		r, err := Open(bytes.NewReader(arch), int64(len(arch)))
		if err != nil {
			t.Fatal(err)
		}
		checkReader(t, r)
		m, merr := r.Manifest()
		target := filepath.Join(t.TempDir(), "out")
		_, err = r.Extract(context.Background(), "", target, SafetyOptions{})
		if err != nil {
			return
		}
		if merr != nil && !errors.Is(merr, ErrNoManifest) {
			t.Fatalf("extracted with an unreadable manifest: %v", merr)
		}
		b, err := os.ReadFile(filepath.Join(target, "a.txt"))
		if err != nil || string(b) != "hello" {
			t.Fatalf("a.txt extracted as %q, %v", b, err)
		}
		if m == nil {
			return
		}
		for _, e := range m.Entries {
			if e.Name == "a.txt" && e.SHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
				t.Fatalf("extracted although the manifest says sha256 %s", e.SHA256)
			}
		}
	})
}

// checkManifestJSON checks that a manifest that decodes has entries of the types the
// format knows and encodes to a canonical form that decodes to itself.
func checkManifestJSON(t *testing.T, data []byte) {
	t.Helper()
	var m Manifest
	if json.Unmarshal(data, &m) != nil {
		return
	}
	const known = fs.ModeDir | fs.ModeSymlink | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | fs.ModePerm
	for _, e := range m.Entries {
		if e.Mode&^known != 0 || (e.Mode.IsDir() && e.Mode&fs.ModeSymlink != 0) {
			t.Fatalf("entry %q decoded with mode %v", e.Name, e.Mode)
		}
		if e.Method != methodStore && e.Method != methodDeflate {
			t.Fatalf("entry %q decoded with method %d", e.Name, e.Method)
		}
	}
	once, err := json.Marshal(m)
	if err != nil {
		// Only times json cannot write again (a year beyond 9999 in UTC) may fail.
		if !strings.Contains(err.Error(), "year outside of range") {
			t.Fatalf("a decoded manifest does not encode: %v", err)
		}
		return
	}
	var m2 Manifest
	if err := json.Unmarshal(once, &m2); err != nil {
		t.Fatalf("an encoded manifest does not decode: %v\n%s", err, once)
	}
	twice, err := json.Marshal(m2)
	if err != nil || !bytes.Equal(once, twice) {
		t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, once, twice)
	}
}
