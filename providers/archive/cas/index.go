package cas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/planb-backup/planb/providers/archive"
)

// IndexFormat is the version of the Index this package writes.
const IndexFormat = 1

// Entry types of an Index.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
)

// Index describes one folder stored in packs. It is stored as a JSON
// entry of the backup archive (see runner and docs/CONFIGURATION.md).
type Index struct {
	FormatVersion int `json:"format_version"`
	// Source is the folder that was backed up; Mode and MTime are its own
	// permission bits and modification time.
	Source string    `json:"source"`
	Mode   string    `json:"mode,omitempty"`
	MTime  time.Time `json:"mtime,omitzero"`
	// FullRead is set when every file was read (none reused from the
	// parent); SinceFullRead counts the backups since the last one that
	// was.
	FullRead      bool `json:"full_read"`
	SinceFullRead int  `json:"since_full_read"`
	// Entries are every directory, file and symlink below the folder, in
	// walk order (a directory before what it holds).
	Entries []Entry `json:"entries"`
	// Skipped lists what was left out because it cannot be restored
	// faithfully (sockets, fifos, devices, names that are not UTF-8).
	Skipped []archive.SkippedFile `json:"skipped,omitempty"`
}

// Entry is one directory, file or symlink of an Index.
type Entry struct {
	// Path is slash-separated and relative to the folder.
	Path string `json:"path"`
	Type string `json:"type"`
	// Mode is the octal permission bits with setuid, setgid and sticky.
	Mode  string    `json:"mode"`
	MTime time.Time `json:"mtime"`
	// Size is the file's size, or the length of a symlink's target.
	Size int64 `json:"size,omitempty"`
	// SHA256 is the hex SHA-256 of a file's content.
	SHA256 string `json:"sha256,omitempty"`
	Target string `json:"target,omitempty"` // a symlink's target
	// Pack, Offset and Length locate a non-empty file's content: one zstd
	// frame in pack Pack.
	Pack   string `json:"pack,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Length int64  `json:"length,omitempty"`
	// CTime (Unix nanoseconds) and Inode are what a later backup compares
	// to reuse the hash without reading the file; zero where the system
	// does not say.
	CTime int64  `json:"ctime_ns,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
}

// FileMode returns the entry's type and permission bits as an fs.FileMode.
func (e Entry) FileMode() (fs.FileMode, error) {
	m, err := archive.ParseMode(e.Type, e.Mode)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", e.Path, err)
	}
	return m, nil
}

// Parse reads an index and checks it as untrusted input: a known format,
// paths that are clean, relative, valid UTF-8, without backslashes and
// unique, nothing below a file or symlink, valid modes, and for every
// non-empty file a pack id, an offset and a length.
func Parse(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index does not parse: %w", err)
	}
	if idx.FormatVersion < 1 || idx.FormatVersion > IndexFormat {
		return nil, fmt.Errorf("index format %d is not one this planb reads (1 to %d)", idx.FormatVersion, IndexFormat)
	}
	if err := idx.check(); err != nil {
		return nil, err
	}
	return &idx, nil
}

func (idx *Index) check() error {
	seen := make(map[string]string, len(idx.Entries))
	var errs []error
	for _, e := range idx.Entries {
		if err := checkEntry(e, seen); err != nil {
			errs = append(errs, err)
			if len(errs) == 20 {
				break
			}
		}
		seen[e.Path] = e.Type
	}
	if len(errs) > 0 {
		return fmt.Errorf("unsafe index: %w", errors.Join(errs...))
	}
	return nil
}

func checkEntry(e Entry, seen map[string]string) error {
	p := e.Path
	switch {
	case p == "" || !utf8.ValidString(p) || strings.ContainsAny(p, "\\\x00"):
		return fmt.Errorf("entry %q: invalid name", p)
	case !fs.ValidPath(p) || p == "." || path.Clean(p) != p:
		return fmt.Errorf("entry %q: not a clean relative path", p)
	case seen[p] != "":
		return fmt.Errorf("entry %q: duplicate", p)
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		if t := seen[dir]; t == TypeFile || t == TypeSymlink {
			return fmt.Errorf("entry %q: below the %s %q", p, t, dir)
		}
	}
	if _, err := e.FileMode(); err != nil {
		return err
	}
	if e.Type == TypeFile {
		if e.Size < 0 || len(e.SHA256) != 64 {
			return fmt.Errorf("entry %q: invalid size or hash", p)
		}
		if e.Size > 0 && (len(e.Pack) != 64 || e.Offset < 0 || e.Length <= 0) {
			return fmt.Errorf("entry %q: no valid pack location", p)
		}
	}
	return nil
}

// Packs returns the ids of the packs the index references, sorted.
func (idx *Index) Packs() []string {
	set := map[string]bool{}
	for _, e := range idx.Entries {
		if e.Pack != "" {
			set[e.Pack] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Stats counts the entries of an index and the bytes of its files.
func (idx *Index) Stats() (files, dirs, symlinks int, bytes int64) {
	for _, e := range idx.Entries {
		switch e.Type {
		case TypeFile:
			files++
			bytes += e.Size
		case TypeDir:
			dirs++
		case TypeSymlink:
			symlinks++
		}
	}
	return files, dirs, symlinks, bytes
}
