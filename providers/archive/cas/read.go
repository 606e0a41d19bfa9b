package cas

import (
	"bytes"
	"cmp"
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
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/planb-backup/planb/providers/store"
)

// readSpan is how many bytes of a pack one request reads at most when it
// gathers neighbouring contents.
const readSpan = 16 << 20

// readers are the packs read at once.
const readers = 4

// maxProblems bounds the problems one error lists.
const maxProblems = 20

// CheckPacks checks that every pack the index references is present in
// the store and long enough for every content it locates there. It reads
// no content: one StatPack per pack. What is wrong is a *ProblemsError;
// other errors are the store's.
func CheckPacks(ctx context.Context, idx *Index, packs store.Packs) error {
	need := map[string]int64{}
	for _, e := range idx.Entries {
		if e.Pack != "" {
			need[e.Pack] = max(need[e.Pack], e.Offset+e.Length)
		}
	}
	var problems []string
	for _, id := range idx.Packs() {
		size, err := packs.StatPack(ctx, id)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, fmt.Sprintf("pack %s is missing", id))
		case err != nil:
			return err
		case size < need[id]:
			problems = append(problems, fmt.Sprintf("pack %s holds %d bytes, the index locates contents up to %d", id, size, need[id]))
		}
	}
	return problemsError(problems)
}

// Verify reads every content the index references, decompresses it and
// checks its size and SHA-256: what a restore would write. A missing pack
// and a content that does not match are problems a *ProblemsError lists
// (by file), after reading everything else; other errors are the store's.
func Verify(ctx context.Context, idx *Index, packs store.Packs) error {
	var mu sync.Mutex
	var problems []string
	err := readContents(ctx, idx, packs, func(e *Entry, r io.Reader) error {
		if err := checkContent(e, r, io.Discard); err != nil {
			mu.Lock()
			problems = append(problems, err.Error())
			mu.Unlock()
		}
		return nil
	}, func(id string, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			mu.Lock()
			problems = append(problems, fmt.Sprintf("pack %s is missing", id))
			mu.Unlock()
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return problemsError(problems)
}

// ProblemsError lists what is wrong with the packs of an index: packs
// missing or too short, contents that do not decompress or do not match
// their hash. Reading again will not help.
type ProblemsError struct {
	Problems []string // sorted
}

func (e *ProblemsError) Error() string {
	shown := e.Problems
	more := ""
	if len(shown) > maxProblems {
		shown, more = shown[:maxProblems], fmt.Sprintf("; and %d more", len(e.Problems)-maxProblems)
	}
	return fmt.Sprintf("%d problem(s) with the packs: %s%s", len(e.Problems), strings.Join(shown, "; "), more)
}

func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return &ProblemsError{Problems: problems}
}

// checkContent decompresses one content into w and checks it against e.
func checkContent(e *Entry, r io.Reader, w io.Writer) error {
	dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	defer dec.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, w), dec)
	if err != nil {
		return fmt.Errorf("%s: content in pack %s at %d does not decompress: %w", e.Path, e.Pack, e.Offset, err)
	}
	if n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return fmt.Errorf("%s: content in pack %s at %d does not match the index (SHA-256 or size)", e.Path, e.Pack, e.Offset)
	}
	return nil
}

// readContents calls each for every non-empty file of the index with its
// compressed content, reading each pack in spans of neighbouring contents,
// readers packs at once. A pack that cannot be read goes to packErr,
// which returns nil to go on without it. each may run concurrently for
// contents of different packs.
func readContents(ctx context.Context, idx *Index, packs store.Packs, each func(*Entry, io.Reader) error, packErr func(string, error) error) error {
	byPack := map[string][]*Entry{}
	for i := range idx.Entries {
		e := &idx.Entries[i]
		if e.Type == TypeFile && e.Pack != "" {
			byPack[e.Pack] = append(byPack[e.Pack], e)
		}
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range byPack {
			if !yield(id) {
				return
			}
		}
	})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := readPack(ctx, id, byPack[id], packs, each); err != nil {
				if err := packErr(id, err); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// readPack reads the contents of one pack, gathering neighbours into spans
// of at most readSpan bytes; a bigger content is streamed readSpan bytes at
// a time.
func readPack(ctx context.Context, id string, entries []*Entry, packs store.Packs, each func(*Entry, io.Reader) error) error {
	slices.SortFunc(entries, func(a, b *Entry) int { return cmp.Compare(a.Offset, b.Offset) })
	for len(entries) > 0 {
		if e := entries[0]; e.Length > readSpan {
			if err := each(e, NewPackReader(ctx, packs, id, e.Offset, e.Length)); err != nil {
				return err
			}
			entries = entries[1:]
			continue
		}
		start, end := entries[0].Offset, entries[0].Offset+entries[0].Length
		n := 1
		for n < len(entries) && entries[n].Offset+entries[n].Length-start <= readSpan && entries[n].Offset >= start {
			end = max(end, entries[n].Offset+entries[n].Length)
			n++
		}
		data, err := packs.ReadPack(ctx, id, start, end-start)
		if err != nil {
			return err
		}
		for _, e := range entries[:n] {
			if err := each(e, bytes.NewReader(data[e.Offset-start:e.Offset-start+e.Length])); err != nil {
				return err
			}
		}
		entries = entries[n:]
	}
	return nil
}

// PackReader reads length bytes of a pack from off, sequentially, one
// ranged read of at most readSpan bytes at a time: what streams a big
// content or a whole pack without holding it in memory.
type PackReader struct {
	ctx       context.Context
	packs     store.Packs
	id        string
	off, left int64
	buf       []byte
	err       error
}

// NewPackReader returns a PackReader of pack id.
func NewPackReader(ctx context.Context, packs store.Packs, id string, off, length int64) *PackReader {
	return &PackReader{ctx: ctx, packs: packs, id: id, off: off, left: length}
}

func (r *PackReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.left == 0 {
			return 0, io.EOF
		}
		n := min(r.left, readSpan)
		r.buf, r.err = r.packs.ReadPack(r.ctx, r.id, r.off, n)
		if r.err != nil {
			return 0, r.err
		}
		r.off += n
		r.left -= n
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Extract writes the folder the index describes into targetDir, which
// must not exist or be empty: directories first, then every file (created
// with O_EXCL, its content checked against its SHA-256 as it is written),
// then symlinks, then the modes and mtimes of directories. Everything is
// written through an os.Root opened on targetDir, and the index is checked
// as untrusted input first (see Parse), so no name leaves the folder and
// nothing is written through a link.
func Extract(ctx context.Context, idx *Index, packs store.Packs, targetDir string) (files int, bytes int64, err error) {
	if err := idx.check(); err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(targetDir, 0o700); err != nil {
		return 0, 0, fmt.Errorf("extract into %s: %w", targetDir, err)
	}
	root, err := os.OpenRoot(targetDir)
	if err != nil {
		return 0, 0, fmt.Errorf("extract into %s: %w", targetDir, err)
	}
	defer root.Close()
	for _, e := range idx.Entries {
		if e.Type == TypeDir {
			if err := root.Mkdir(e.Path, 0o700); err != nil {
				return 0, 0, fmt.Errorf("extract into %s: %w", targetDir, err)
			}
		}
	}
	var mu sync.Mutex
	write := func(e *Entry, r io.Reader) error {
		if err := writeFile(root, e, r); err != nil {
			return fmt.Errorf("extract into %s: %w", targetDir, err)
		}
		mu.Lock()
		files++
		bytes += e.Size
		mu.Unlock()
		return nil
	}
	if err := readContents(ctx, idx, packs, write, func(id string, err error) error {
		return fmt.Errorf("extract into %s: pack %s: %w", targetDir, id, err)
	}); err != nil {
		return files, bytes, err
	}
	for i := range idx.Entries {
		e := &idx.Entries[i]
		if e.Type == TypeFile && e.Pack == "" {
			if err := write(e, nil); err != nil {
				return files, bytes, err
			}
		}
	}
	for _, e := range idx.Entries {
		if e.Type == TypeSymlink {
			if err := root.Symlink(e.Target, e.Path); err != nil {
				return files, bytes, fmt.Errorf("extract into %s: %w", targetDir, err)
			}
		}
	}
	for i := len(idx.Entries) - 1; i >= 0; i-- {
		e := idx.Entries[i]
		if e.Type != TypeDir {
			continue
		}
		mode, _ := e.FileMode()
		if err := root.Chmod(e.Path, mode&(fs.ModePerm|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return files, bytes, fmt.Errorf("extract into %s: %w", targetDir, err)
		}
		if err := root.Chtimes(e.Path, e.MTime, e.MTime); err != nil {
			return files, bytes, fmt.Errorf("extract into %s: %w", targetDir, err)
		}
	}
	if err := restoreRoot(root, idx); err != nil {
		return files, bytes, fmt.Errorf("extract into %s: %w", targetDir, err)
	}
	return files, bytes, nil
}

// restoreRoot gives the folder itself the mode and mtime the index
// recorded (indexes that recorded none leave it as created).
func restoreRoot(root *os.Root, idx *Index) error {
	if idx.Mode == "" {
		return nil
	}
	mode, err := (Entry{Path: ".", Type: TypeDir, Mode: idx.Mode}).FileMode()
	if err != nil {
		return err
	}
	if err := root.Chmod(".", mode&(fs.ModePerm|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return root.Chtimes(".", idx.MTime, idx.MTime)
}

// writeFile creates one file of the index with its content (compressed in
// r; nil for an empty file), mode and mtime.
func writeFile(root *os.Root, e *Entry, r io.Reader) error {
	mode, _ := e.FileMode()
	f, err := root.OpenFile(e.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if r != nil {
		err = checkContent(e, r, f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Chmod(e.Path, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	}
	if err == nil {
		err = root.Chtimes(e.Path, e.MTime, e.MTime)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path.Clean(e.Path), err)
	}
	return nil
}
