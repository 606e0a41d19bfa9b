package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// TreeOptions configure AddTree.
type TreeOptions struct {
	// Exclude, when set, is called for every file, directory and symlink below the root with
	// its slash-separated path relative to the root; returning true leaves the entry out (a
	// directory with everything below it).
	Exclude func(rel string, d fs.DirEntry) bool
}

// TreeStats counts the entries of a tree, not counting its root directory.
type TreeStats struct {
	Files, Dirs, Symlinks int
	Bytes                 int64 // uncompressed bytes of regular files
	// Skipped lists, in walk order, what AddTree left out because an archive cannot hold
	// it faithfully.
	Skipped []SkippedFile
	// NotForWindows lists, in walk order, what AddTree archived under a name a restore
	// on Windows refuses (WindowsNameProblems), with paths relative to the tree's root.
	NotForWindows []NameProblem
}

// compressedExt lists extensions of formats that are already compressed: such files are
// stored, since deflating them again costs time and gains nothing.
var compressedExt = map[string]bool{
	"zip": true, "jar": true, "war": true, "ear": true, "apk": true, "whl": true, "nupkg": true,
	"gz": true, "tgz": true, "bz2": true, "tbz2": true, "xz": true, "txz": true, "zst": true,
	"lz4": true, "lzma": true, "7z": true, "rar": true, "cab": true, "deb": true, "rpm": true,
	"png": true, "jpg": true, "jpeg": true, "gif": true, "webp": true, "heic": true, "avif": true,
	"mp3": true, "mp4": true, "m4a": true, "mov": true, "mkv": true, "avi": true, "ogg": true,
	"flac": true, "webm": true, "woff": true, "woff2": true,
	"docx": true, "xlsx": true, "pptx": true, "odt": true, "ods": true, "odp": true,
}

// methodFor returns the compression method for an entry name: stored for already
// compressed formats, deflated otherwise.
func methodFor(name string) uint16 {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if compressedExt[ext] {
		return methodStore
	}
	return methodDeflate
}

// AddTree adds every file, directory and symlink under dir as prefix/<relative path>, with
// their modes and modification times, plus a "prefix/" entry for dir itself. Files are
// compressed in parallel by WriterOptions.Workers goroutines and appended in completion
// order; already compressed formats are stored. dir may itself be a symlink; symlinks below
// it are stored as links (their target as the entry's content, whatever it points to),
// never followed, and everything is read through an os.Root on dir. What an archive cannot
// hold faithfully is left out and listed in TreeStats.Skipped: sockets, fifos, devices, and
// names that are not valid UTF-8 or that readers refuse (a backslash, for one); a directory
// left out for its name is left out with everything below it. Names a restore on Windows
// would refuse are archived and listed in TreeStats.NotForWindows. Entry names use "/"
// on every system: the tree is walked as an fs.FS. An empty prefix puts the tree at the
// top of the archive, without a root entry.
func (w *Writer) AddTree(ctx context.Context, prefix, dir string, opts TreeOptions) (TreeStats, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkWriteName(prefix); err != nil {
			return TreeStats{}, fmt.Errorf("add tree %s: %w", dir, err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return TreeStats{}, fmt.Errorf("add tree: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	name := func(rel string) string {
		if prefix == "" {
			return rel
		}
		return prefix + "/" + rel
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type job struct {
		rel  string
		info fs.FileInfo
	}
	jobs := make(chan job, w.opts.Workers)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		stats TreeStats
		added []string // relative paths of the entries, a directory's ending in "/"
	)
	for range w.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				n, err := w.addFile(ctx, fsys, j.rel, name(j.rel))
				if err != nil {
					cancel(fmt.Errorf("add tree %s: %w", dir, err))
					continue
				}
				mu.Lock()
				stats.Files++
				stats.Bytes += n
				mu.Unlock()
			}
		})
	}

	walkErr := fs.WalkDir(fsys, ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if rel == "." {
			if prefix == "" {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			_, err = w.addSpecial(prefix+"/", fs.ModeDir|info.Mode().Perm()|info.Mode()&specialModes, info.ModTime(), "")
			return err
		}
		if opts.Exclude != nil && opts.Exclude(rel, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		entry := name(rel)
		if d.IsDir() {
			entry += "/"
		}
		reason := unstorableName(entry)
		if reason == "" {
			reason = UnstorableType(d.Type())
		}
		if reason != "" {
			if d.IsDir() {
				reason += "; everything below it is left out too"
			}
			mu.Lock()
			stats.Skipped = append(stats.Skipped, SkippedFile{Path: displayPath(rel), Reason: reason})
			mu.Unlock()
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			added = append(added, rel+"/")
		} else {
			added = append(added, rel)
		}
		switch d.Type() {
		case 0:
			select {
			case jobs <- job{rel: rel}:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			return nil
		case fs.ModeDir:
			info, err := d.Info()
			if err != nil {
				return err
			}
			if _, err := w.addSpecial(name(rel)+"/", fs.ModeDir|info.Mode().Perm()|info.Mode()&specialModes, info.ModTime(), ""); err != nil {
				return err
			}
			mu.Lock()
			stats.Dirs++
			mu.Unlock()
			return nil
		case fs.ModeSymlink:
			info, err := d.Info()
			if err != nil {
				return err
			}
			target, err := fs.ReadLink(fsys, rel)
			if err != nil {
				return err
			}
			if _, err := w.addSpecial(name(rel), fs.ModeSymlink|0o777, info.ModTime(), target); err != nil {
				return err
			}
			mu.Lock()
			stats.Symlinks++
			mu.Unlock()
			return nil
		default:
			return fmt.Errorf("%s: unsupported file type %v", rel, d.Type())
		}
	})
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if walkErr == nil || errors.Is(walkErr, err) {
			return stats, err
		}
	}
	if walkErr != nil {
		return stats, fmt.Errorf("add tree %s: %w", dir, walkErr)
	}
	stats.NotForWindows = WindowsNameProblems(added)
	return stats, nil
}

// unstorableName returns why an entry cannot be named name, or "": readers refuse it, or
// ZIP cannot record it as it is.
func unstorableName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "name is not valid UTF-8"
	case strings.Contains(name, "\\"):
		return "name holds a backslash, which ZIP readers take for a path separator"
	}
	if reason := unsafeName(name); reason != "" {
		return "name refused by readers: " + reason
	}
	if err := checkWriteName(name); err != nil {
		return err.Error()
	}
	return ""
}

// UnstorableType returns why a file of type t cannot be archived, or "".
func UnstorableType(t fs.FileMode) string {
	switch {
	case t == 0, t == fs.ModeDir, t == fs.ModeSymlink:
		return ""
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	default:
		return fmt.Sprintf("unsupported file type %v", t)
	}
}

// displayPath returns rel as it is when it is valid UTF-8, and otherwise as a quoted Go
// string, whose \x escapes name the bytes that are not.
func displayPath(rel string) string {
	if utf8.ValidString(rel) {
		return rel
	}
	return strconv.Quote(rel)
}

// specialModes are the Unix mode bits kept besides the permissions.
const specialModes = fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// addFile compresses one regular file of fsys into the archive and returns its size.
func (w *Writer) addFile(ctx context.Context, fsys fs.FS, rel, name string) (int64, error) {
	f, err := fsys.Open(rel)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: changed to %v while archiving", rel, info.Mode().Type())
	}
	if err := w.begin(name); err != nil {
		return 0, err
	}
	defer w.inflight.Done()
	mode := info.Mode().Perm() | info.Mode()&specialModes
	e, err := w.add(ctx, name, mode, info.ModTime(), methodFor(name), func(dst io.Writer) error {
		_, err := io.Copy(dst, f)
		if err != nil {
			return fmt.Errorf("read %s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		w.release(name)
		return 0, fmt.Errorf("add %s: %w", name, err)
	}
	return e.Size, nil
}
