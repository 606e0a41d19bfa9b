package cas

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/internal/ctxio"
	"github.com/planb-backup/planb/providers/store"
)

// PackSize is the size a pack is filled to before it is written: large
// enough that an object store counts few requests, small enough that a
// pack is written in seconds.
const PackSize = 32 << 20

// smallFile is the size up to which a file is read into memory, hashed and
// compressed from there; bigger files stream through a temporary file.
const smallFile = 8 << 20

// BuildOptions configure Build. The zero value stores a folder without a
// parent.
type BuildOptions struct {
	// Parent is the index of the previous backup of the folder in the
	// same store; nil reads every file.
	Parent *Index
	// Present are the packs the store holds (from ListPacks): only
	// contents in them are reused.
	Present map[string]bool
	// FullRead reads every file even when the parent says it did not
	// change; contents are still stored once.
	FullRead bool
	// Workers read and compress files at once; 0 means
	// archive.DefaultWorkers.
	Workers int
	// TempDir holds the pack being filled and spools of big files ("" =
	// os.TempDir()); both are unlinked while open.
	TempDir string
	// PackSize overrides PackSize (tests).
	PackSize int64
}

// BuildStats says what a Build read and wrote.
type BuildStats struct {
	Files, Dirs, Symlinks int
	// Bytes is the size of the folder's files.
	Bytes int64
	// Read is what was read of them; Reused counts the files not read
	// because the parent says they did not change.
	Read   int64
	Reused int
	// Stored is the compressed size of the contents written to new packs,
	// NewPacks their number.
	Stored   int64
	NewPacks int
}

// Build walks dir (through an os.Root, never following symbolic links),
// writes the contents the store does not hold yet into new packs and
// returns the folder's index. What cannot be restored faithfully
// (sockets, fifos, devices, names that are not valid UTF-8 or hold a
// backslash) is left out and listed in Index.Skipped.
func Build(ctx context.Context, dir string, packs store.Packs, opts BuildOptions) (*Index, BuildStats, error) {
	if opts.Workers <= 0 {
		opts.Workers = archive.DefaultWorkers()
	}
	if opts.PackSize <= 0 {
		opts.PackSize = PackSize
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, BuildStats{}, fmt.Errorf("store %s in packs: %w", dir, err)
	}
	defer root.Close()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, BuildStats{}, err
	}
	b := &builder{
		fsys:   root.FS(),
		packs:  packs,
		opts:   opts,
		enc:    enc,
		blobs:  map[string]*location{},
		parent: map[string]*Entry{},
		pw:     &packWriter{packs: packs, tempDir: opts.TempDir, target: opts.PackSize},
	}
	b.seed()
	idx, err := b.run(ctx, dir)
	if err != nil {
		b.pw.discard()
		return nil, b.stats, err
	}
	if err := b.pw.flush(ctx); err != nil {
		b.pw.discard()
		return nil, b.stats, err
	}
	for i, loc := range b.locs {
		if loc != nil {
			idx.Entries[i].Pack, idx.Entries[i].Offset, idx.Entries[i].Length = loc.pack, loc.off, loc.length
		}
	}
	b.stats.Stored, b.stats.NewPacks = b.pw.stored, b.pw.count
	idx.FullRead = opts.FullRead || opts.Parent == nil
	if !idx.FullRead {
		idx.SinceFullRead = opts.Parent.SinceFullRead + 1
	}
	return idx, b.stats, nil
}

// location is where one content lives; pack is set once its pack is
// written.
type location struct {
	pack        string
	off, length int64
}

type builder struct {
	fsys  fs.FS
	packs store.Packs
	opts  BuildOptions
	enc   *zstd.Encoder
	pw    *packWriter

	parent map[string]*Entry // by path, files only

	mu    sync.Mutex
	blobs map[string]*location // by SHA-256: contents stored, in packs present or this build's
	locs  []*location          // parallel to the index's entries
	stats BuildStats
}

// seed learns the parent's files and the contents its packs hold.
func (b *builder) seed() {
	if b.opts.Parent == nil {
		return
	}
	for i := range b.opts.Parent.Entries {
		e := &b.opts.Parent.Entries[i]
		if e.Type != TypeFile || (e.Size > 0 && !b.opts.Present[e.Pack]) {
			continue
		}
		b.parent[e.Path] = e
		if _, ok := b.blobs[e.SHA256]; !ok && e.Size > 0 {
			b.blobs[e.SHA256] = &location{pack: e.Pack, off: e.Offset, length: e.Length}
		}
	}
}

type fileJob struct {
	i    int
	info fs.FileInfo
}

func (b *builder) run(ctx context.Context, dir string) (*Index, error) {
	idx := &Index{FormatVersion: IndexFormat, Source: dir}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan fileJob, b.opts.Workers)
	var wg sync.WaitGroup
	// Workers fill idx.Entries[i] and b.locs[i]; the walk appends to both
	// only before it hands out i, and the slices are read after wg.Wait.
	var entries sync.Mutex
	for range b.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				entries.Lock()
				e := idx.Entries[j.i]
				entries.Unlock()
				loc, err := b.file(ctx, &e, j.info)
				if err != nil {
					cancel(fmt.Errorf("store %s in packs: %s: %w", dir, e.Path, err))
					continue
				}
				entries.Lock()
				idx.Entries[j.i] = e
				b.locs[j.i] = loc
				entries.Unlock()
			}
		})
	}
	walkErr := fs.WalkDir(b.fsys, ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if rel == "." {
			info, err := d.Info()
			if err != nil {
				return err
			}
			idx.Mode, idx.MTime = archive.FormatMode(info.Mode()), info.ModTime().UTC()
			return nil
		}
		if reason := unstorable(rel, d.Type()); reason != "" {
			if d.IsDir() {
				reason += "; everything below it is left out too"
			}
			idx.Skipped = append(idx.Skipped, archive.SkippedFile{Path: displayPath(rel), Reason: reason})
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: rel, Mode: archive.FormatMode(info.Mode()), MTime: info.ModTime().UTC()}
		switch d.Type() {
		case fs.ModeDir:
			e.Type = TypeDir
			b.stats.Dirs++
		case fs.ModeSymlink:
			target, err := fs.ReadLink(b.fsys, rel)
			if err != nil {
				return err
			}
			e.Type, e.Mode, e.Target, e.Size = TypeSymlink, "0777", target, int64(len(target))
			b.stats.Symlinks++
		default:
			e.Type, e.Size = TypeFile, info.Size()
			e.CTime, e.Inode = fileID(info)
		}
		entries.Lock()
		idx.Entries = append(idx.Entries, e)
		b.locs = append(b.locs, nil)
		i := len(idx.Entries) - 1
		entries.Unlock()
		if e.Type != TypeFile {
			return nil
		}
		select {
		case jobs <- fileJob{i: i, info: info}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		return nil
	})
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if walkErr != nil {
		return nil, fmt.Errorf("store %s in packs: %w", dir, walkErr)
	}
	return idx, nil
}

// file fills in e's hash and returns where its content lives: the
// parent's, when the file did not change; else what a read finds, stored
// unless some pack holds it already.
func (b *builder) file(ctx context.Context, e *Entry, info fs.FileInfo) (*location, error) {
	if p := b.parent[e.Path]; p != nil && !b.opts.FullRead && unchanged(p, e) {
		e.SHA256 = p.SHA256
		b.mu.Lock()
		b.stats.Files++
		b.stats.Bytes += e.Size
		b.stats.Reused++
		b.mu.Unlock()
		if p.Size == 0 {
			return nil, nil
		}
		return &location{pack: p.Pack, off: p.Offset, length: p.Length}, nil
	}
	f, err := b.fsys.Open(e.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var loc *location
	if info.Size() <= smallFile {
		loc, err = b.small(ctx, e, f)
	} else {
		loc, err = b.big(ctx, e, f)
	}
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.stats.Files++
	b.stats.Bytes += e.Size
	b.stats.Read += e.Size
	b.mu.Unlock()
	return loc, nil
}

// unchanged reports whether the file e describes is the one p described:
// same size, mtime, change time and inode.
func unchanged(p, e *Entry) bool {
	return p.Size == e.Size && p.MTime.Equal(e.MTime) && p.CTime == e.CTime && p.Inode == e.Inode
}

// small reads a file into memory, hashes it and stores it compressed
// unless its content is stored already.
func (b *builder) small(ctx context.Context, e *Entry, f io.Reader) (*location, error) {
	data, err := io.ReadAll(io.LimitReader(ctxio.Reader(ctx, f), smallFile+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	sum := sha256.Sum256(data)
	e.SHA256, e.Size = hex.EncodeToString(sum[:]), int64(len(data))
	if e.Size == 0 {
		return nil, nil
	}
	if loc := b.known(e.SHA256); loc != nil {
		return loc, nil
	}
	blob := b.enc.EncodeAll(data, make([]byte, 0, len(data)/2+64))
	return b.store(ctx, e.SHA256, bytesSource(blob), int64(len(blob)))
}

// big streams a file through the hash and the compressor into an
// unlinked temporary file, and stores that unless its content is stored
// already.
func (b *builder) big(ctx context.Context, e *Entry, f io.Reader) (*location, error) {
	spool, err := os.CreateTemp(b.opts.TempDir, "planb-blob-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	unlinked := os.Remove(spool.Name()) == nil
	defer func() {
		spool.Close()
		if !unlinked {
			os.Remove(spool.Name())
		}
	}()
	bw := bufio.NewWriterSize(spool, 1<<20)
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, zw), ctxio.Reader(ctx, f))
	if err != nil {
		zw.Close()
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := errors.Join(zw.Close(), bw.Flush()); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	e.SHA256, e.Size = hex.EncodeToString(h.Sum(nil)), n
	if loc := b.known(e.SHA256); loc != nil {
		return loc, nil
	}
	size, err := spool.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return b.store(ctx, e.SHA256, func(w io.Writer) error {
		_, err := io.Copy(w, io.NewSectionReader(spool, 0, size))
		return err
	}, size)
}

func (b *builder) known(sum string) *location {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blobs[sum]
}

// store appends a compressed content to the pack being filled, unless
// another worker stored the same content meanwhile.
func (b *builder) store(ctx context.Context, sum string, write func(io.Writer) error, size int64) (*location, error) {
	b.mu.Lock()
	if loc := b.blobs[sum]; loc != nil {
		b.mu.Unlock()
		return loc, nil
	}
	// Claimed under b.mu: the pack writer's lock keeps the order.
	loc := &location{}
	b.blobs[sum] = loc
	b.mu.Unlock()
	if err := b.pw.add(ctx, loc, write, size); err != nil {
		return nil, err
	}
	return loc, nil
}

func bytesSource(p []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(p)
		return err
	}
}

// packWriter fills one pack at a time in an unlinked temporary file and
// writes it to the store when it reaches its target size.
type packWriter struct {
	packs   store.Packs
	tempDir string
	target  int64

	mu      sync.Mutex
	f       *os.File
	h       hash.Hash
	n       int64
	pending []*location
	stored  int64
	count   int
}

// add appends size bytes that write produces to the pack and points loc
// at them; loc.pack is set when the pack is written.
func (pw *packWriter) add(ctx context.Context, loc *location, write func(io.Writer) error, size int64) error {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.f == nil {
		f, err := os.CreateTemp(pw.tempDir, "planb-pack-*")
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		if os.Remove(f.Name()) != nil {
			defer os.Remove(f.Name())
		}
		pw.f, pw.h, pw.n = f, sha256.New(), 0
	}
	cw := &countWriter{w: io.MultiWriter(pw.f, pw.h)}
	if err := write(cw); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if cw.n != size {
		return fmt.Errorf("pack: wrote %d bytes of a content of %d", cw.n, size)
	}
	loc.off, loc.length = pw.n, size
	pw.n += size
	pw.pending = append(pw.pending, loc)
	if pw.n >= pw.target {
		return pw.flushLocked(ctx)
	}
	return nil
}

func (pw *packWriter) flush(ctx context.Context) error {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.flushLocked(ctx)
}

func (pw *packWriter) flushLocked(ctx context.Context) error {
	if pw.f == nil {
		return nil
	}
	id := hex.EncodeToString(pw.h.Sum(nil))
	if err := pw.packs.PutPack(ctx, id, io.NewSectionReader(pw.f, 0, pw.n), pw.n); err != nil {
		return err
	}
	for _, loc := range pw.pending {
		loc.pack = id
	}
	pw.stored += pw.n
	pw.count++
	pw.f.Close()
	pw.f, pw.pending = nil, nil
	return nil
}

func (pw *packWriter) discard() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.f != nil {
		pw.f.Close()
		pw.f = nil
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// unstorable returns why an entry cannot be kept faithfully, or "".
func unstorable(rel string, t fs.FileMode) string {
	switch {
	case !utf8.ValidString(rel):
		return "name is not valid UTF-8"
	case strings.ContainsAny(rel, "\\\x00"):
		return "name holds a backslash"
	}
	return archive.UnstorableType(t)
}

// displayPath returns rel, quoted when it is not valid UTF-8.
func displayPath(rel string) string {
	if utf8.ValidString(rel) {
		return rel
	}
	return strconv.Quote(rel)
}
