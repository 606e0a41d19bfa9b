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
)

// Extract writes the entries under prefix (e.g. "delivery/"; "" means the whole archive)
// into targetDir, which must be an empty directory or not exist (its parent must). It runs
// CheckSafe first (symlinks under prefix must stay inside prefix) and writes nothing when
// that fails. It then writes only through an os.Root opened on targetDir: files are created
// with O_EXCL and checked against the manifest's SHA-256 when there is one, permissions
// (without setuid and setgid) and modification times are restored, directory metadata last,
// and symlinks are created after every file. If extraction fails midway, what it wrote is
// removed again (targetDir too, when Extract created it). The stats do not count the
// "prefix/" entry itself, whose mode and mtime are applied to targetDir.
func (r *Reader) Extract(ctx context.Context, prefix, targetDir string, opts SafetyOptions) (TreeStats, error) {
	prefix = normPrefix(prefix)
	what := "archive"
	if prefix != "" {
		what = prefix
	}
	if err := r.checkSafe(opts, prefix); err != nil {
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
	x := &extractor{ctx: ctx, root: root, manifest: manifest, buf: make([]byte, 256<<10)}
	stats, err := x.run(prefix, selected, rootEntry)
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
}

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
			if err := x.root.MkdirAll(rel, 0o755); err != nil {
				return stats, err
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
	for _, f := range links {
		rel := strings.TrimPrefix(f.Name, prefix)
		target, err := readLinkEntry(f)
		if err != nil {
			return stats, fmt.Errorf("entry %s: %w", f.Name, err)
		}
		if err := x.mkParent(rel); err != nil {
			return stats, err
		}
		if err := x.root.Symlink(target, rel); err != nil {
			return stats, err
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
		if err := x.root.Chmod(d.rel, d.perm); err != nil {
			return stats, err
		}
		if !d.mtime.IsZero() {
			if err := x.root.Chtimes(d.rel, d.mtime, d.mtime); err != nil {
				return stats, err
			}
		}
	}
	return stats, nil
}

// file writes one regular file entry and returns its size.
func (x *extractor) file(f *zip.File, rel string) (int64, error) {
	if err := x.mkParent(rel); err != nil {
		return 0, err
	}
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	out, err := x.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(out, h), ctxReader{x.ctx, rc}, x.buf)
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
		if err := x.root.Chtimes(rel, mt, mt); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (x *extractor) mkParent(rel string) error {
	if dir := path.Dir(rel); dir != "." {
		return x.root.MkdirAll(dir, 0o755)
	}
	return nil
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
