package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zip"

	"github.com/planb-backup/planb/providers/internal/ctxio"
)

// Extract writes the entries under prefix (e.g. "delivery/"; "" means the whole archive)
// into targetDir, which must be an empty directory or not exist (its parent must). It runs
// CheckSafe on those entries first, with the checks of this system (ForThisSystem: on
// Windows, the names Windows cannot hold), and writes nothing when that fails. It then
// writes only through an os.Root opened on targetDir and never through a symlink: every
// directory on an entry's path is checked to be a directory, not a link, before it is
// entered, files are created with O_EXCL, and the symlinks of the archive are created
// last, after every file and directory, with their targets as stored (absolute or leaving
// targetDir included). Files are checked against the manifest's SHA-256 when there is one;
// permissions (without setuid and setgid) and modification times are restored, directory
// metadata last. If extraction fails midway, what it wrote is removed again (targetDir
// too, when Extract created it). The stats do not count the "prefix/" entry itself, whose
// mode and mtime are applied to targetDir.
func (r *Reader) Extract(ctx context.Context, prefix, targetDir string, opts SafetyOptions) (TreeStats, error) {
	prefix = normPrefix(prefix)
	what := "archive"
	opts = opts.ForThisSystem()
	opts.Prefixes = nil
	if prefix != "" {
		what = prefix
		opts.Prefixes = []string{prefix}
	}
	if err := r.CheckSafe(opts); err != nil {
		return TreeStats{}, fmt.Errorf("extract %s: %w", what, err)
	}
	m, err := r.Manifest()
	if err != nil && !errors.Is(err, ErrNoManifest) {
		return TreeStats{}, fmt.Errorf("extract %s: %w", what, err)
	}
	manifest := map[string]Entry{}
	if m != nil {
		for _, e := range m.Entries {
			manifest[e.Name] = e
		}
	}

	var selected []*zip.File
	var rootEntry *zip.File
	for _, f := range r.zr.File {
		switch {
		case prefix != "" && f.Name == prefix:
			rootEntry = f
		case strings.HasPrefix(f.Name, prefix):
			selected = append(selected, f)
		}
	}
	if rootEntry == nil && len(selected) == 0 {
		return TreeStats{}, fmt.Errorf("extract %s: %w", what, fs.ErrNotExist)
	}

	created, err := prepareTarget(targetDir)
	if err != nil {
		return TreeStats{}, fmt.Errorf("extract %s: %w", what, err)
	}
	root, err := os.OpenRoot(targetDir)
	if err != nil {
		if created {
			os.Remove(targetDir)
		}
		return TreeStats{}, fmt.Errorf("extract %s: %w", what, err)
	}
	x := &extractor{ctx: ctx, root: root, manifest: manifest, buf: make([]byte, 256<<10), dirs: map[string]*os.Root{}}
	stats, err := x.run(prefix, selected, rootEntry)
	x.closeDirs()
	if err != nil {
		if created {
			root.Close()
			os.RemoveAll(targetDir)
		} else {
			removeContents(root)
			root.Close()
		}
		return stats, fmt.Errorf("extract %s to %s: %w", what, targetDir, err)
	}
	if err := root.Close(); err != nil {
		return stats, fmt.Errorf("extract %s to %s: %w", what, targetDir, err)
	}
	return stats, nil
}

// prepareTarget creates dir or checks that it is an empty directory; created reports
// whether it made it.
func prepareTarget(dir string) (created bool, err error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(dir, 0o700); err != nil {
			return false, err
		}
		return true, nil
	case err != nil:
		return false, err
	case !info.IsDir():
		return false, fmt.Errorf("%s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("%s is not empty", dir)
	}
	return false, nil
}

func removeContents(root *os.Root) {
	f, err := root.Open(".")
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, name := range names {
		root.RemoveAll(name)
	}
}

type extractor struct {
	ctx      context.Context
	root     *os.Root
	manifest map[string]Entry
	buf      []byte
	dirs     map[string]*os.Root // directories opened below root, by slash-separated path
}

// maxOpenDirs bounds how many directories the extractor keeps open.
const maxOpenDirs = 64

type dirMeta struct {
	rel   string
	perm  fs.FileMode
	mtime time.Time
}

func (x *extractor) run(prefix string, selected []*zip.File, rootEntry *zip.File) (TreeStats, error) {
	var stats TreeStats
	var dirs []dirMeta
	var links []*zip.File
	for _, f := range selected {
		if err := x.ctx.Err(); err != nil {
			return stats, err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(f.Name, prefix), "/")
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if _, err := x.dir(rel); err != nil {
				return stats, fmt.Errorf("entry %s: %w", f.Name, err)
			}
			dirs = append(dirs, dirMeta{rel, permOf(mode, 0o755), x.mtime(f)})
			stats.Dirs++
		case mode&fs.ModeSymlink != 0:
			links = append(links, f)
			stats.Symlinks++
		default:
			n, err := x.file(f, rel)
			if err != nil {
				return stats, fmt.Errorf("entry %s: %w", f.Name, err)
			}
			stats.Files++
			stats.Bytes += n
		}
	}
	// Links last: no file or directory of the archive can be written through one.
	for _, f := range links {
		rel := strings.TrimPrefix(f.Name, prefix)
		target, err := readLinkEntry(f)
		if err != nil {
			return stats, fmt.Errorf("entry %s: %w", f.Name, err)
		}
		parent, err := x.dir(path.Dir(rel))
		if err != nil {
			return stats, fmt.Errorf("entry %s: %w", f.Name, err)
		}
		if err := parent.Symlink(target, path.Base(rel)); err != nil {
			return stats, fmt.Errorf("entry %s: %w", f.Name, err)
		}
	}
	// Deepest first, so setting a parent's mtime comes after its children changed it.
	slices.SortStableFunc(dirs, func(a, b dirMeta) int {
		return strings.Count(b.rel, "/") - strings.Count(a.rel, "/")
	})
	if rootEntry != nil {
		dirs = append(dirs, dirMeta{".", permOf(rootEntry.Mode(), 0o755), x.mtime(rootEntry)})
	}
	for _, d := range dirs {
		dir, err := x.dir(d.rel)
		if err != nil {
			return stats, err
		}
		// Times first: a mode without search permission would deny resolving ".".
		if !d.mtime.IsZero() {
			if err := dir.Chtimes(".", d.mtime, d.mtime); err != nil {
				return stats, err
			}
		}
		if err := dir.Chmod(".", d.perm); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// dir returns the directory rel ("." for the target itself) below the target, creating
// what is missing of it, and never through a symlink: each component must be a directory
// when looked at without following links, and the directory then opened must be the one
// looked at, so that a link put in its place meanwhile is not followed either.
func (x *extractor) dir(rel string) (*os.Root, error) {
	if rel == "." || rel == "" {
		return x.root, nil
	}
	if d, ok := x.dirs[rel]; ok {
		return d, nil
	}
	parent, err := x.dir(path.Dir(rel))
	if err != nil {
		return nil, err
	}
	name := path.Base(rel)
	info, err := parent.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		if err := parent.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		info, err = parent.Lstat(name)
	}
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is a %s, not a directory: nothing is written through it", rel, typeOf(info.Mode()))
	}
	d, err := parent.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	if opened, err := d.Stat("."); err != nil || !os.SameFile(info, opened) {
		d.Close()
		return nil, fmt.Errorf("%s was replaced while extracting: nothing is written through it", rel)
	}
	if len(x.dirs) >= maxOpenDirs {
		x.closeDirs()
	}
	x.dirs[rel] = d
	return d, nil
}

func (x *extractor) closeDirs() {
	for rel, d := range x.dirs {
		d.Close()
		delete(x.dirs, rel)
	}
}

// typeOf names a file type for messages.
func typeOf(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t == 0:
		return "file"
	default:
		return t.String()
	}
}

// file writes one regular file entry and returns its size.
func (x *extractor) file(f *zip.File, rel string) (int64, error) {
	parent, err := x.dir(path.Dir(rel))
	if err != nil {
		return 0, err
	}
	name := path.Base(rel)
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	// O_EXCL: a symlink in the file's place is an error, never followed.
	out, err := parent.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(out, h), ctxio.Reader(x.ctx, rc), x.buf)
	if err == nil && uint64(n) != f.UncompressedSize64 {
		err = fmt.Errorf("size %d, header says %d", n, f.UncompressedSize64)
	}
	if e, ok := x.manifest[f.Name]; ok && err == nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != e.SHA256 {
			err = fmt.Errorf("sha256 %s, manifest says %s", sum, e.SHA256)
		}
	}
	if err == nil {
		err = out.Chmod(permOf(f.Mode(), 0o644))
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if mt := x.mtime(f); !mt.IsZero() {
		if err := parent.Chtimes(name, mt, mt); err != nil {
			return n, err
		}
	}
	return n, nil
}

// mtime prefers the manifest's time (full precision) over the header's (seconds).
func (x *extractor) mtime(f *zip.File) time.Time {
	if e, ok := x.manifest[f.Name]; ok && !e.MTime.IsZero() {
		return e.MTime
	}
	return f.Modified
}

// permOf returns the permission and sticky bits of mode, or def when it has none (archives
// made on systems without Unix modes). Setuid and setgid are never restored.
func permOf(mode fs.FileMode, def fs.FileMode) fs.FileMode {
	p := mode.Perm()
	if p == 0 {
		return def
	}
	return p | mode&fs.ModeSticky
}
