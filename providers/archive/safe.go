package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zip"
)

// ErrUnsafe is wrapped by every error CheckSafe and Extract report about a hostile or
// implausible archive.
var ErrUnsafe = errors.New("unsafe archive")

// Defaults of SafetyOptions.
const (
	DefaultMaxRatio     = 1000
	DefaultRatioMinSize = 1 << 20
)

// maxSymlinkTarget bounds the length of a symlink entry's target.
const maxSymlinkTarget = 4096

// localHeaderLen is the size of a ZIP local file header without name and extra field.
const localHeaderLen = 30

// maxUnsafeErrors bounds how many problems CheckSafe reports.
const maxUnsafeErrors = 20

// SafetyOptions configure CheckSafe and Extract. The zero value applies the defaults.
type SafetyOptions struct {
	// NoSymlinks rejects every symlink entry. Otherwise symlinks are accepted whatever
	// their target (absolute, or leaving the extraction root): they are restored as they
	// were, and nothing is ever written through one.
	NoSymlinks bool
	// MaxRatio is the highest accepted ratio of uncompressed to compressed size for entries
	// of at least RatioMinSize bytes; 0 means DefaultMaxRatio (deflate cannot exceed about
	// 1032:1, so only runs of identical bytes come near it).
	MaxRatio float64
	// RatioMinSize is the uncompressed size from which MaxRatio applies; 0 means
	// DefaultRatioMinSize.
	RatioMinSize int64
	// MaxTotalSize rejects archives whose entries (those to be extracted, for Extract)
	// declare more uncompressed bytes than this; 0 means no limit.
	MaxTotalSize int64
	// CaseInsensitive also treats names that differ only in letter case as duplicates, for
	// targets on case-insensitive file systems.
	CaseInsensitive bool
	// Windows also rejects the names Windows cannot hold (see WindowsNameProblems):
	// reserved device names, names ending in a dot or a space, the characters <>:"|?*,
	// and names that differ only in letter case. Extract sets it on Windows; so does
	// ForThisSystem.
	Windows bool
	// Prefixes, when set, restricts the checks to the entries whose names start with one
	// of them (e.g. "delivery/"): the entries that will be extracted. Other entries are not
	// looked at. Extract sets it to its own prefix.
	Prefixes []string
}

// ForThisSystem returns o with the checks the system planb runs on needs to extract what
// passes them: Windows on Windows. A restore checks with it before it changes anything.
func (o SafetyOptions) ForThisSystem() SafetyOptions {
	if onWindows {
		o.Windows = true
	}
	return o
}

func (o SafetyOptions) withDefaults() SafetyOptions {
	if o.MaxRatio <= 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	if o.RatioMinSize <= 0 {
		o.RatioMinSize = DefaultRatioMinSize
	}
	return o
}

// CheckSafe rejects hostile archives before anything is extracted: names that are empty,
// absolute, contain "..", "." or empty elements, backslashes, NUL or drive letters, or are
// not filepath.IsLocal; duplicate entries (after cleaning, and case-folded with
// CaseInsensitive); entries below a file or symlink entry (they would be written through a
// link); device, fifo and socket entries; symlinks whose target is empty, holds a NUL or is
// too long (or any symlink with NoSymlinks); stored entries whose sizes disagree;
// compression ratios above MaxRatio, entries overlapping each other and totals above
// MaxTotalSize; with Windows, the names Windows cannot hold. Symlink targets may be
// absolute or leave the archive root: the extraction root confines the names of entries,
// not where links point. With Prefixes, only the entries under them are checked. It reads
// the central directory and the symlink entries only. Errors wrap ErrUnsafe and name each
// offending entry (the first 20, then how many more there are).
func (r *Reader) CheckSafe(opts SafetyOptions) error {
	opts = opts.withDefaults()
	var errs []error
	more := 0
	report := func(name, format string, args ...any) {
		if len(errs) >= maxUnsafeErrors {
			more++
			return
		}
		errs = append(errs, fmt.Errorf("%w: entry %q: %s", ErrUnsafe, name, fmt.Sprintf(format, args...)))
	}
	files := r.zr.File
	if len(opts.Prefixes) > 0 {
		files = slices.DeleteFunc(slices.Clone(files), func(f *zip.File) bool {
			return !slices.ContainsFunc(opts.Prefixes, func(p string) bool { return strings.HasPrefix(f.Name, p) })
		})
	}
	seen := make(map[string]string, len(files))
	nonDir := make(map[string]bool)   // cleaned names of files and symlinks
	symlinks := make(map[string]bool) // cleaned names of symlinks
	var links []*zip.File
	var total uint64
	var valid []*zip.File
	var names []string // of the entries whose names are safe
	for _, f := range files {
		if reason := unsafeName(f.Name); reason != "" {
			report(f.Name, "%s", reason)
			continue
		}
		names = append(names, f.Name)
		key := strings.TrimSuffix(f.Name, "/")
		dupKey := key
		if opts.CaseInsensitive && !opts.Windows { // with Windows, WindowsNameProblems says it
			dupKey = strings.ToLower(key)
		}
		if first, dup := seen[dupKey]; dup {
			report(f.Name, "duplicate of %q", first)
			continue
		}
		seen[dupKey] = f.Name
		mode := f.Mode()
		// One type exactly: a name ending in "/" makes any entry a directory, so a
		// device named "d/" claims to be both.
		switch mode.Type() {
		case fs.ModeDir:
		case fs.ModeSymlink:
			if opts.NoSymlinks {
				report(f.Name, "symlinks are not allowed")
				continue
			}
			nonDir[key], symlinks[key] = true, true
			links = append(links, f)
		case 0:
			nonDir[key] = true
		default:
			report(f.Name, "unsupported file type %v", mode.Type())
			continue
		}
		u, c := f.UncompressedSize64, f.CompressedSize64
		if f.Method == zip.Store && u != c && !mode.IsDir() {
			report(f.Name, "stored entry declares %d bytes but holds %d", u, c)
		}
		if u >= uint64(opts.RatioMinSize) && (c == 0 || float64(u)/float64(c) > opts.MaxRatio) {
			report(f.Name, "compression ratio %.0f:1 is implausible (%d bytes from %d)", float64(u)/float64(max(c, 1)), u, c)
		}
		total = addSat(total, u)
		valid = append(valid, f)
	}
	if opts.Windows {
		for _, p := range WindowsNameProblems(names) {
			report(p.Name, "Windows cannot hold it: %s", p.Reason)
		}
	}
	// Entries cannot overlap when each has its own local header and data; overlapping
	// entries are how the most efficient zip bombs multiply one compressed stream.
	var stored uint64
	for _, f := range files {
		stored = addSat(stored, addSat(localHeaderLen, f.CompressedSize64))
	}
	if stored > uint64(r.size) {
		errs = append(errs, fmt.Errorf("%w: entries declare %d compressed bytes in a %d-byte archive: they overlap", ErrUnsafe, stored, r.size))
	}
	if opts.MaxTotalSize > 0 && total > uint64(opts.MaxTotalSize) {
		errs = append(errs, fmt.Errorf("%w: %d uncompressed bytes exceed the limit of %d", ErrUnsafe, total, opts.MaxTotalSize))
	}
	for _, f := range valid {
		for dir := path.Dir(strings.TrimSuffix(f.Name, "/")); dir != "."; dir = path.Dir(dir) {
			if nonDir[dir] {
				what := "file"
				if symlinks[dir] {
					what = "symlink"
				}
				report(f.Name, "lies below %s %q", what, dir)
				break
			}
		}
	}
	for _, f := range links {
		if _, err := readLinkEntry(f); err != nil {
			report(f.Name, "%v", err)
		}
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("%w: and %d more unsafe entries", ErrUnsafe, more))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// addSat returns a+b, or the largest uint64 when that overflows: sizes come from the
// archive, and a sum that wraps around must not pass for a small one.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

// unsafeName returns why name cannot be extracted safely, or "".
func unsafeName(name string) string {
	base := strings.TrimSuffix(name, "/")
	switch {
	case base == "":
		return "empty name"
	case strings.ContainsRune(name, 0):
		return "NUL in name"
	case strings.Contains(name, "\\"):
		return "backslash in name"
	case strings.HasPrefix(name, "/"):
		return "absolute path"
	case len(name) >= 2 && name[1] == ':' && (name[0]|0x20 >= 'a' && name[0]|0x20 <= 'z'):
		return "drive letter"
	}
	for _, elem := range strings.Split(base, "/") {
		switch elem {
		case "..":
			return `".." in path`
		case ".", "":
			return "not a clean path"
		}
	}
	// On Windows, IsLocal also refuses what Windows cannot hold (reserved names, a colon):
	// that is for SafetyOptions.Windows to refuse, naming the reason, where files are
	// written; an archive holding such names is not damaged.
	if !filepath.IsLocal(filepath.FromSlash(base)) && windowsPathProblem(base) == "" {
		return "not a local path"
	}
	return ""
}

// readLinkEntry returns a symlink entry's target.
func readLinkEntry(f *zip.File) (string, error) {
	if f.UncompressedSize64 > maxSymlinkTarget {
		return "", fmt.Errorf("symlink target of %d bytes is too long", f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("read symlink: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSymlinkTarget+1))
	if err != nil {
		return "", fmt.Errorf("read symlink: %w", err)
	}
	switch target := string(b); {
	case target == "":
		return "", errors.New("symlink target is empty")
	case len(target) > maxSymlinkTarget:
		return "", fmt.Errorf("symlink target of more than %d bytes is too long", maxSymlinkTarget)
	case strings.ContainsRune(target, 0):
		return "", errors.New("NUL in symlink target")
	default:
		return target, nil
	}
}
