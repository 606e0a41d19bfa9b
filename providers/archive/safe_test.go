package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"
)

type rawEntry struct {
	name  string
	mode  fs.FileMode // 0 means a regular 0644 file
	data  string
	zeros int64 // instead of data: this many zero bytes
}

// handMade builds an archive with an ordinary ZIP writer, which writes whatever it is given.
func handMade(t *testing.T, entries ...rawEntry) *Reader {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		must(t, err)
		if e.zeros > 0 {
			_, err = io.CopyN(w, zeroReader{}, e.zeros)
		} else {
			_, err = io.WriteString(w, e.data)
		}
		must(t, err)
	}
	must(t, zw.Close())
	r, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	must(t, err)
	return r
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestHostileArchives(t *testing.T) {
	absEvil := filepath.ToSlash(filepath.Join(os.TempDir(), "planb-archive-test-evil"))
	tests := map[string]struct {
		entries []rawEntry
		prefix  string
		opts    SafetyOptions
		want    string
	}{
		"absolute path":      {entries: []rawEntry{{name: absEvil, data: "x"}}, want: "absolute path"},
		"dot-dot":            {entries: []rawEntry{{name: "../evil", data: "x"}}, want: `".." in path`},
		"nested dot-dot":     {entries: []rawEntry{{name: "a/../../evil", data: "x"}}, want: `".." in path`},
		"inner dot-dot":      {entries: []rawEntry{{name: "a/../evil", data: "x"}}, want: `".." in path`},
		"backslash":          {entries: []rawEntry{{name: `..\evil`, data: "x"}}, want: "backslash"},
		"drive letter":       {entries: []rawEntry{{name: "C:/evil", data: "x"}}, want: "drive letter"},
		"unclean name":       {entries: []rawEntry{{name: "a//evil", data: "x"}}, want: "not a clean path"},
		"duplicate":          {entries: []rawEntry{{name: "a.txt", data: "1"}, {name: "a.txt", data: "2"}}, want: "duplicate"},
		"file and directory": {entries: []rawEntry{{name: "a/", mode: fs.ModeDir | 0o755}, {name: "a", data: "2"}}, want: `duplicate of "a/"`},
		"case-folded duplicate": {
			entries: []rawEntry{{name: "README", data: "1"}, {name: "readme", data: "2"}},
			opts:    SafetyOptions{CaseInsensitive: true}, want: "duplicate",
		},
		"symlink outside and a file through it": {
			entries: []rawEntry{{name: "link", mode: fs.ModeSymlink | 0o777, data: "../outside"}, {name: "link/evil", data: "x"}},
			want:    `lies below symlink "link"`,
		},
		"absolute symlink and a file through it": {
			entries: []rawEntry{{name: "etc", mode: fs.ModeSymlink | 0o777, data: path.Dir(absEvil)}, {name: "etc/" + path.Base(absEvil), data: "x"}},
			want:    `lies below symlink "etc"`,
		},
		"file through an inside symlink": {
			entries: []rawEntry{{name: "d/", mode: fs.ModeDir | 0o755}, {name: "link", mode: fs.ModeSymlink | 0o777, data: "d"}, {name: "link/evil", data: "x"}},
			want:    `lies below symlink "link"`,
		},
		"directory through a symlink": {
			entries: []rawEntry{{name: "link", mode: fs.ModeSymlink | 0o777, data: "/"}, {name: "link/tmp/", mode: fs.ModeDir | 0o755}},
			want:    `lies below symlink "link"`,
		},
		"symlink through a symlink": {
			entries: []rawEntry{{name: "a", mode: fs.ModeSymlink | 0o777, data: "/tmp"}, {name: "a/m", mode: fs.ModeSymlink | 0o777, data: "x"}},
			want:    `lies below symlink "a"`,
		},
		"empty symlink target": {
			entries: []rawEntry{{name: "l", mode: fs.ModeSymlink | 0o777, data: ""}},
			want:    "symlink target is empty",
		},
		"NUL in symlink target": {
			entries: []rawEntry{{name: "l", mode: fs.ModeSymlink | 0o777, data: "a\x00b"}},
			want:    "NUL in symlink target",
		},
		"symlinks refused": {
			entries: []rawEntry{{name: "x", data: "x"}, {name: "l", mode: fs.ModeSymlink | 0o777, data: "x"}},
			opts:    SafetyOptions{NoSymlinks: true}, want: "symlinks are not allowed",
		},
		"file below a file": {entries: []rawEntry{{name: "a", data: "1"}, {name: "a/evil", data: "2"}}, want: `lies below file "a"`},
		"device":            {entries: []rawEntry{{name: "sda", mode: fs.ModeDevice | 0o660}}, want: "unsupported file type"},
		"char device":       {entries: []rawEntry{{name: "tty", mode: fs.ModeDevice | fs.ModeCharDevice | 0o660}}, want: "unsupported file type"},
		"fifo":              {entries: []rawEntry{{name: "pipe", mode: fs.ModeNamedPipe | 0o644}}, want: "unsupported file type"},
		"zip bomb":          {entries: []rawEntry{{name: "ok.txt", data: "fine"}, {name: "bomb.bin", zeros: 200 << 20}}, want: "compression ratio"},
		"total size": {
			entries: []rawEntry{{name: "a", data: strings.Repeat("x", 600)}, {name: "b", data: strings.Repeat("y", 600)}},
			opts:    SafetyOptions{MaxTotalSize: 1000}, want: "exceed the limit of 1000",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := handMade(t, tc.entries...)
			work := t.TempDir()
			target := filepath.Join(work, "target")
			_, err := r.Extract(context.Background(), tc.prefix, target, tc.opts)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Extract err = %v, want ErrUnsafe with %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("target was created: %v", err)
			}
			if left, _ := os.ReadDir(work); len(left) != 0 {
				t.Errorf("written next to the target: %v", left)
			}
			if _, err := os.Lstat(absEvil); err == nil {
				os.Remove(absEvil)
				t.Errorf("%s was written", absEvil)
			}
			if tc.prefix == "" {
				if err := r.CheckSafe(tc.opts); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("CheckSafe err = %v, want ErrUnsafe with %q", err, tc.want)
				}
			}
		})
	}
}

func TestSafeArchivesPass(t *testing.T) {
	tests := map[string][]rawEntry{
		"symlink to a sibling": {{name: "d/a", data: "x"}, {name: "d/l", mode: fs.ModeSymlink | 0o777, data: "a"}},
		"symlink up and down":  {{name: "d/a", data: "x"}, {name: "e/l", mode: fs.ModeSymlink | 0o777, data: "../d/a"}},
		"dangling but inside":  {{name: "l", mode: fs.ModeSymlink | 0o777, data: "later/x"}},
		"absolute symlink":     {{name: "etc", mode: fs.ModeSymlink | 0o777, data: "/etc"}},
		"symlink leaving the root": {
			{name: "d/", mode: fs.ModeDir | 0o755}, {name: "d/out", mode: fs.ModeSymlink | 0o777, data: "../../shared/lib"},
		},
		"symlinks through symlinks": {
			{name: "a/up", mode: fs.ModeSymlink | 0o777, data: ".."}, {name: "a/m", mode: fs.ModeSymlink | 0o777, data: "up/../evil"},
		},
		"backslash in a symlink target": {{name: "l", mode: fs.ModeSymlink | 0o777, data: `..\x`}},
		"compressible text":             {{name: "a.sql", data: strings.Repeat("INSERT INTO t VALUES (1, 'abc');\n", 100_000)}},
	}
	for name, entries := range tests {
		t.Run(name, func(t *testing.T) {
			r := handMade(t, entries...)
			must(t, r.CheckSafe(SafetyOptions{}))
			target := filepath.Join(t.TempDir(), "out")
			stats, err := r.Extract(context.Background(), "", target, SafetyOptions{})
			must(t, err)
			want := 0
			for _, e := range entries {
				if e.mode.IsDir() {
					continue
				}
				want++
				if e.mode&fs.ModeSymlink == 0 {
					continue
				}
				got, err := os.Readlink(filepath.Join(target, filepath.FromSlash(e.name)))
				if err != nil || got != e.data {
					t.Errorf("%s: symlink to %q (%v), want %q", e.name, got, err, e.data)
				}
			}
			if got := stats.Files + stats.Symlinks; got != want {
				t.Errorf("extracted %d files and links, want %d", got, want)
			}
		})
	}
}

// TestOverlappingEntries checks the zip bomb that needs no extreme ratio: many central
// directory records pointing at the same compressed data.
func TestOverlappingEntries(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("a")
	must(t, err)
	_, err = io.CopyN(w, zeroReader{}, 100_000)
	must(t, err)
	must(t, zw.Close())
	data := buf.Bytes()

	eocd := bytes.LastIndex(data, []byte("PK\x05\x06"))
	cdStart := int(le32(data[eocd+16:]))
	record := data[cdStart:eocd]
	var out bytes.Buffer
	out.Write(data[:cdStart])
	const copies = 50
	for i := range copies {
		r := bytes.Clone(record)
		r[46] = byte('a' + i%26) // the name: one byte, so the record length is unchanged
		if i >= 26 {
			r[46] = byte('A' + i - 26)
		}
		out.Write(r)
	}
	end := bytes.Clone(data[eocd:])
	put16(end[8:], copies)
	put16(end[10:], copies)
	put32(end[12:], uint32(copies*len(record)))
	out.Write(end)

	r, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
	must(t, err)
	if n := len(r.Entries()); n != copies {
		t.Fatalf("%d entries, want %d", n, copies)
	}
	err = r.CheckSafe(SafetyOptions{})
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("CheckSafe = %v, want an overlap error", err)
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
