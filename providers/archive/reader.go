package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zip"

	"github.com/planb-backup/planb/providers/internal/ctxio"
)

// ErrNoManifest is returned by Reader.Manifest for archives without manifest.json, such as
// those made by the original CAST system (a plain ZIP of a folder).
var ErrNoManifest = errors.New("archive has no manifest")

// maxManifestSize bounds how much of manifest.json is read (about 200 bytes per entry).
const maxManifestSize = 256 << 20

// Reader reads an archive through an io.ReaderAt. Opening it reads only the central
// directory; each entry read fetches only that entry's bytes. Its methods are safe for
// concurrent use.
type Reader struct {
	zr    *zip.Reader
	size  int64
	files map[string]*zip.File // first entry of each name

	once     sync.Once
	manifest *Manifest
	merr     error
}

// EntryInfo describes an entry as the archive's central directory records it.
type EntryInfo struct {
	Name           string
	Mode           fs.FileMode
	Size           int64 // uncompressed, as declared
	CompressedSize int64
	Method         uint16
	MTime          time.Time
	CRC32          uint32
}

// Open reads the central directory of the size-byte archive r.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if _, dup := files[f.Name]; !dup {
			files[f.Name] = f
		}
	}
	return &Reader{zr: zr, size: size, files: files}, nil
}

// Manifest returns the archive's manifest, or ErrNoManifest when it has none.
func (r *Reader) Manifest() (*Manifest, error) {
	r.once.Do(func() { r.manifest, r.merr = r.readManifest() })
	return r.manifest, r.merr
}

func (r *Reader) readManifest() (*Manifest, error) {
	f, ok := r.files[ManifestName]
	if !ok {
		return nil, ErrNoManifest
	}
	if f.UncompressedSize64 > maxManifestSize {
		return nil, fmt.Errorf("read %s: %d bytes is implausibly large", ManifestName, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	defer rc.Close()
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(rc, maxManifestSize)).Decode(&m); err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersionPacks {
		return nil, fmt.Errorf("read %s: unsupported format_version %d", ManifestName, m.FormatVersion)
	}
	return &m, nil
}

// Entries lists the archive's entries in archive order, manifest.json included.
func (r *Reader) Entries() []EntryInfo {
	out := make([]EntryInfo, len(r.zr.File))
	for i, f := range r.zr.File {
		out[i] = EntryInfo{
			Name: f.Name, Mode: f.Mode(), Size: int64(f.UncompressedSize64),
			CompressedSize: int64(f.CompressedSize64), Method: f.Method, MTime: f.Modified, CRC32: f.CRC32,
		}
	}
	return out
}

// OpenEntry returns the uncompressed content of the entry name. Reading it to EOF checks
// its CRC-32 (zip.ErrChecksum) and that it is not longer than declared (zip.ErrFormat).
func (r *Reader) OpenEntry(name string) (io.ReadCloser, error) {
	f, ok := r.files[name]
	if !ok {
		return nil, fmt.Errorf("open entry %s: %w", name, fs.ErrNotExist)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open entry %s: %w", name, err)
	}
	return rc, nil
}

// maxVerifyErrors bounds how many problems Verify reports.
const maxVerifyErrors = 20

// Verify reads every entry, checking its CRC-32 and declared size, and, when the archive has
// a manifest, that the manifest and the archive list the same entries with the same type,
// permissions, size and SHA-256. The error names each entry and what differs (at most 20).
// Archives without a manifest are checked by CRC only.
func (r *Reader) Verify(ctx context.Context) error {
	m, err := r.Manifest()
	if err != nil && !errors.Is(err, ErrNoManifest) {
		return fmt.Errorf("verify: %w", err)
	}
	var want map[string]Entry
	if m != nil {
		want = make(map[string]Entry, len(m.Entries))
		for _, e := range m.Entries {
			want[e.Name] = e
		}
	}
	var errs []error
	report := func(format string, args ...any) {
		if len(errs) < maxVerifyErrors {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	seen := make(map[string]bool, len(r.zr.File))
	buf := make([]byte, 256<<10)
	for _, f := range r.zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen[f.Name] {
			report("entry %s: duplicate", f.Name)
			continue
		}
		seen[f.Name] = true
		sum, n, err := hashEntry(ctx, f, buf)
		if err != nil {
			report("entry %s: %w", f.Name, err)
			continue
		}
		if want == nil || f.Name == ManifestName {
			continue
		}
		e, ok := want[f.Name]
		if !ok {
			report("entry %s: in the archive but not in the manifest", f.Name)
			continue
		}
		if n != e.Size {
			report("entry %s: size %d, manifest says %d", f.Name, n, e.Size)
		}
		if e.Mode.IsDir() != f.Mode().IsDir() || e.Mode.Type()&fs.ModeSymlink != f.Mode().Type()&fs.ModeSymlink {
			report("entry %s: type %s, manifest says %s", f.Name, typeName(f.Mode()), typeName(e.Mode))
		} else if e.Mode.Perm() != f.Mode().Perm() {
			report("entry %s: mode %04o, manifest says %04o", f.Name, f.Mode().Perm(), e.Mode.Perm())
		}
		if !f.Mode().IsDir() && sum != e.SHA256 {
			report("entry %s: sha256 %s, manifest says %s", f.Name, sum, e.SHA256)
		}
	}
	if want != nil {
		var missing []string
		for name := range want {
			if !seen[name] {
				missing = append(missing, name)
			}
		}
		slices.Sort(missing)
		for _, name := range missing {
			report("entry %s: in the manifest but not in the archive", name)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("verify: %w", errors.Join(errs...))
	}
	return nil
}

// hashEntry reads f to the end and returns its hex SHA-256 and size.
func hashEntry(ctx context.Context, f *zip.File, buf []byte) (string, int64, error) {
	rc, err := f.Open()
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxio.Reader(ctx, rc), buf)
	if err != nil {
		return "", n, err
	}
	if uint64(n) != f.UncompressedSize64 {
		return "", n, fmt.Errorf("size %d, header says %d", n, f.UncompressedSize64)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// normPrefix turns "delivery", "delivery/" or "/delivery/" into "delivery/"; "" stays "".
func normPrefix(prefix string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}
