package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zip"
)

// DefaultLevel is the deflate level used when WriterOptions.Level is 0. Level 1 compresses
// source text and pg_dump data 1.3–2.5× faster than level 5 for output 2–9% larger.
const DefaultLevel = 1

// DefaultSpoolMemory is how many compressed bytes an entry keeps in memory before its spool
// moves to a temporary file.
const DefaultSpoolMemory = 4 << 20

// ErrAborted is returned by Writer methods after Abort.
var ErrAborted = errors.New("archive writer aborted")

// WriterOptions configure a Writer. The zero value is usable.
type WriterOptions struct {
	// TempDir holds spool files of big entries; "" means os.TempDir(). Spool files are
	// unlinked right after they are created, so a crash leaves nothing behind.
	TempDir string
	// Level is the flate level, 1 (fastest) to 9 (smallest); 0 means DefaultLevel.
	Level int
	// Workers is the number of files AddTree compresses at once; 0 means DefaultWorkers.
	Workers int
	// SpoolMemory is the compressed size up to which an entry is spooled in memory; 0 means
	// DefaultSpoolMemory. Peak memory is about SpoolMemory × (concurrent entries).
	SpoolMemory int
}

// Writer builds one archive on an io.Writer (a local *.partial file or an S3 multipart upload
// stream); the output is written strictly sequentially and never read back.
//
// Entry methods are safe for concurrent use: each caller's data is compressed concurrently,
// in the caller's goroutine, into a spool, with CRC-32, SHA-256 and sizes computed on the way,
// and the spool is appended to the ZIP under a mutex when complete, in completion order.
// Data is compressed exactly once. Entry names must be unique, slash-separated, relative
// and clean; they are checked when an entry is added.
type Writer struct {
	opts  WriterOptions
	flate sync.Pool // *flate.Writer at opts.Level
	bufs  sync.Pool // *bytes.Buffer for in-memory spools

	aborted  atomic.Bool
	inflight sync.WaitGroup

	mu      sync.Mutex
	zw      *zip.Writer
	names   map[string]bool
	entries []Entry
	closed  bool
	err     error // first error writing to the output; the archive is unusable after it
}

// DefaultWorkers is how many files are compressed at once when the caller
// does not say (WriterOptions.Workers, cas.BuildOptions.Workers): one per
// CPU Go runs on (GOMAXPROCS).
func DefaultWorkers() int { return runtime.GOMAXPROCS(0) }

// NewWriter returns a Writer that writes an archive to w. It does not close w.
func NewWriter(w io.Writer, opts WriterOptions) *Writer {
	if opts.Level == 0 {
		opts.Level = DefaultLevel
	}
	if opts.Level < flate.BestSpeed || opts.Level > flate.BestCompression {
		opts.Level = DefaultLevel
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers()
	}
	if opts.SpoolMemory <= 0 {
		opts.SpoolMemory = DefaultSpoolMemory
	}
	return &Writer{
		opts:  opts,
		zw:    zip.NewWriter(w),
		names: map[string]bool{ManifestName: true},
	}
}

// AddStream stores what produce writes as the regular file entry name. produce runs in the
// caller's goroutine (for example copying pg_dump's stdout); its writes are hashed and
// compressed as they arrive and fail once ctx is done or the Writer is aborted. AddStream
// blocks until the entry is appended. A mode of 0 means 0644; a zero mtime means now.
// If produce fails, nothing is appended and the name may be used again.
func (w *Writer) AddStream(ctx context.Context, name string, mode fs.FileMode, mtime time.Time, produce func(io.Writer) error) (Entry, error) {
	if mode.Type() != 0 {
		return Entry{}, fmt.Errorf("add %s: mode %v is not a regular file", name, mode)
	}
	if mode == 0 {
		mode = 0o644
	}
	if mtime.IsZero() {
		mtime = time.Now()
	}
	if err := w.begin(name); err != nil {
		return Entry{}, err
	}
	defer w.inflight.Done()
	e, err := w.add(ctx, name, mode, mtime, methodFor(name), produce)
	if err != nil {
		w.release(name)
		return Entry{}, fmt.Errorf("add %s: %w", name, err)
	}
	return e, nil
}

// AddBytes stores data as the regular file entry name with mode 0644.
func (w *Writer) AddBytes(name string, data []byte, mtime time.Time) (Entry, error) {
	return w.AddStream(context.Background(), name, 0o644, mtime, func(dst io.Writer) error {
		_, err := dst.Write(data)
		return err
	})
}

// Close waits for entries still being added, writes manifest.json (m with FormatVersion set
// when 0 and Entries filled in: every other entry sorted by name) as the last entry, and then
// the central directory, using ZIP64 records where sizes, offsets or the entry count need
// them. It does not close the underlying writer. m may be nil.
func (w *Writer) Close(m *Manifest) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		if w.aborted.Load() {
			return ErrAborted
		}
		return errors.New("archive writer closed twice")
	}
	w.closed = true
	w.mu.Unlock()
	w.inflight.Wait()

	w.mu.Lock()
	err := w.err
	entries := slices.Clone(w.entries)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if w.aborted.Load() {
		return ErrAborted
	}
	if m == nil {
		m = &Manifest{}
	}
	if m.FormatVersion == 0 {
		m.FormatVersion = FormatVersion
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	m.Entries = entries
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	data = append(data, '\n')
	mtime := m.CreatedAt
	if mtime.IsZero() {
		mtime = time.Now()
	}
	_, err = w.add(context.Background(), ManifestName, 0o644, mtime, methodDeflate, func(dst io.Writer) error {
		_, err := dst.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("add %s: %w", ManifestName, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.zw.Close(); err != nil {
		w.err = fmt.Errorf("write archive: %w", err)
		return w.err
	}
	return nil
}

// Abort stops the Writer: it returns at once, later calls fail with ErrAborted, and calls in
// progress fail at their next write and remove their spools before they return. The caller
// discards what was written to the output.
func (w *Writer) Abort() {
	w.aborted.Store(true)
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// begin reserves name and registers an add in progress; the caller must call
// w.inflight.Done when it returns.
func (w *Writer) begin(name string) error {
	if err := checkWriteName(name); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.aborted.Load():
		return ErrAborted
	case w.closed:
		return fmt.Errorf("add %s: archive writer is closed", name)
	case w.err != nil:
		return w.err
	case w.names[name]:
		return fmt.Errorf("add %s: duplicate entry", name)
	}
	w.names[name] = true
	w.inflight.Add(1)
	return nil
}

func (w *Writer) release(name string) {
	w.mu.Lock()
	delete(w.names, name)
	w.mu.Unlock()
}

// checkWriteName rejects names a reader would reject: not valid UTF-8, absolute, unclean,
// with backslashes, ".." or empty elements.
func checkWriteName(name string) error {
	base := strings.TrimSuffix(name, "/")
	switch {
	case base == "":
		return fmt.Errorf("invalid entry name %q: empty", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("invalid entry name %q: not UTF-8", name)
	case strings.ContainsAny(name, "\\\x00"):
		return fmt.Errorf("invalid entry name %q: backslash or NUL", name)
	case len(name) > 0xffff:
		return fmt.Errorf("invalid entry name %q: too long", name)
	case path.Clean(base) != base || !fs.ValidPath(base):
		return fmt.Errorf("invalid entry name %q: not a clean relative path", name)
	}
	return nil
}

// sink is the io.Writer entry data goes through: it hashes, counts, and compresses.
type sink struct {
	ctx     context.Context
	aborted *atomic.Bool
	crc     hash.Hash32
	sha     hash.Hash
	n       int64
	out     io.Writer // flate writer or the spool

	fw      *flate.Writer // the flate writer when the entry is deflated
	sp      *spool
	checked int64 // s.n at the last check of the compression ratio
}

// Readers refuse entries compressed more than DefaultMaxRatio to one as zip bombs, but
// deflate reaches about 1032:1 on a run of one byte (a file of zeros, a column of NULLs).
// So that every entry written passes, the deflater is flushed once per ratioSegment of
// input while the input is more than ratioGuard times the output so far: a flush ends
// the block and adds an empty stored one, which takes a 16 KiB run of one byte to at
// most about 450:1. Between two checks at most 2×ratioSegment go in unflushed, so an
// entry of 1 MiB or more stays below about 850:1. Entries that compress less than
// ratioGuard:1 are never flushed.
const (
	ratioSegment   = 16 << 10
	ratioGuard     = DefaultMaxRatio * 4 / 5
	ratioGuardFrom = 128 << 10 // input from which the ratio is watched
)

func (s *sink) Write(p []byte) (int, error) {
	if s.aborted.Load() {
		return 0, ErrAborted
	}
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		chunk := p
		if s.fw != nil && len(chunk) > ratioSegment {
			chunk = chunk[:ratioSegment]
		}
		s.crc.Write(chunk)
		s.sha.Write(chunk)
		n, err := s.out.Write(chunk)
		s.n += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
		if s.fw != nil && s.n >= ratioGuardFrom && s.n-s.checked >= ratioSegment {
			s.checked = s.n
			if s.n > ratioGuard*s.sp.n {
				if err := s.fw.Flush(); err != nil {
					return written, fmt.Errorf("compress: %w", err)
				}
			}
		}
	}
	return written, nil
}

// add compresses what produce writes into a spool and appends it as a regular file.
func (w *Writer) add(ctx context.Context, name string, mode fs.FileMode, mtime time.Time, method uint16, produce func(io.Writer) error) (Entry, error) {
	sp := w.newSpool()
	defer sp.release()
	s := &sink{ctx: ctx, aborted: &w.aborted, crc: crc32.NewIEEE(), sha: sha256.New(), out: sp}
	var fw *flate.Writer
	if method == methodDeflate {
		fw = w.getFlate(sp)
		defer w.flate.Put(fw)
		s.out, s.fw, s.sp = fw, fw, sp
	}
	if err := produce(s); err != nil {
		return Entry{}, err
	}
	if fw != nil {
		if err := fw.Close(); err != nil {
			return Entry{}, fmt.Errorf("compress: %w", err)
		}
	}
	if sp.err != nil {
		return Entry{}, sp.err
	}
	e := Entry{
		Name: name, Mode: mode, Size: s.n, CompressedSize: sp.n, Method: method,
		SHA256: hex.EncodeToString(s.sha.Sum(nil)), MTime: mtime, CRC32: s.crc.Sum32(),
	}
	return e, w.appendEntry(e, sp)
}

// addSpecial appends a directory (name ends in "/") or a symlink (content is its target).
func (w *Writer) addSpecial(name string, mode fs.FileMode, mtime time.Time, target string) (Entry, error) {
	if err := w.begin(name); err != nil {
		return Entry{}, err
	}
	defer w.inflight.Done()
	e := Entry{Name: name, Mode: mode, MTime: mtime, Method: methodStore}
	var sp *spool
	if mode&fs.ModeSymlink != 0 {
		sp = w.newSpool()
		defer sp.release()
		sp.Write([]byte(target))
		sum := sha256.Sum256([]byte(target))
		e.Size, e.CompressedSize = int64(len(target)), int64(len(target))
		e.SHA256, e.CRC32 = hex.EncodeToString(sum[:]), crc32.ChecksumIEEE([]byte(target))
	}
	if err := w.appendEntry(e, sp); err != nil {
		w.release(name)
		return Entry{}, fmt.Errorf("add %s: %w", name, err)
	}
	return e, nil
}

// appendEntry writes e's local header and compressed data (from sp; nil for directories) to
// the output and records e.
func (w *Writer) appendEntry(e Entry, sp *spool) error {
	fh := &zip.FileHeader{
		Name:               e.Name,
		Method:             e.Method,
		CRC32:              e.CRC32,
		CompressedSize64:   uint64(e.CompressedSize),
		UncompressedSize64: uint64(e.Size),
		Modified:           e.MTime,
		ReaderVersion:      20,
	}
	fh.SetMode(e.Mode)
	fh.CreatorVersion |= 20 // made by: Unix (set by SetMode), ZIP 2.0
	fh.ModifiedDate, fh.ModifiedTime = dosTime(e.MTime)
	fh.Extra = extendedTimestamp(e.MTime)
	if !isASCII(e.Name) {
		fh.Flags |= 0x800 // name is UTF-8
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.aborted.Load() {
		return ErrAborted
	}
	dst, err := w.zw.CreateRaw(fh)
	if err == nil && sp != nil {
		_, err = sp.copyTo(dst)
	}
	if err != nil {
		// The output now holds a partial entry: nothing more can be appended.
		w.err = fmt.Errorf("write archive entry %s: %w", e.Name, err)
		return w.err
	}
	w.entries = append(w.entries, e)
	return nil
}

func (w *Writer) getFlate(dst io.Writer) *flate.Writer {
	if fw, ok := w.flate.Get().(*flate.Writer); ok {
		fw.Reset(dst)
		return fw
	}
	fw, err := flate.NewWriter(dst, w.opts.Level)
	if err != nil {
		// The level was validated in NewWriter.
		panic(fmt.Sprintf("flate level %d: %v", w.opts.Level, err))
	}
	return fw
}

// spool holds one entry's compressed data until it is appended: in memory up to limit bytes,
// then in an unlinked temporary file.
type spool struct {
	w   *Writer
	buf *bytes.Buffer
	f   *os.File
	fw  *bufio.Writer // buffers writes to f
	n   int64
	err error // sticky: a failed spool write fails the entry

	unlinked bool // f's directory entry is already gone
}

func (w *Writer) newSpool() *spool {
	buf, ok := w.bufs.Get().(*bytes.Buffer)
	if !ok {
		buf = new(bytes.Buffer)
	}
	return &spool{w: w, buf: buf}
}

func (s *spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.f == nil && s.buf.Len()+len(p) > s.w.opts.SpoolMemory {
		f, err := os.CreateTemp(s.w.opts.TempDir, "planb-spool-*")
		if err != nil {
			s.err = fmt.Errorf("spool: %w", err)
			return 0, s.err
		}
		// Unlinked while open: the data disappears with the process, whatever happens.
		// Where the platform refuses, release removes the file.
		s.f = f
		s.unlinked = os.Remove(f.Name()) == nil
		// The compressor emits small writes; batch them into large ones.
		s.fw = bufio.NewWriterSize(f, spoolFileBuffer)
		if _, err := s.fw.Write(s.buf.Bytes()); err != nil {
			s.err = fmt.Errorf("spool: %w", err)
			return 0, s.err
		}
		s.buf.Reset()
	}
	var n int
	var err error
	if s.f != nil {
		n, err = s.fw.Write(p)
	} else {
		n, err = s.buf.Write(p)
	}
	s.n += int64(n)
	if err != nil {
		s.err = fmt.Errorf("spool: %w", err)
	}
	return n, s.err
}

func (s *spool) copyTo(dst io.Writer) (int64, error) {
	if s.f == nil {
		n, err := dst.Write(s.buf.Bytes())
		return int64(n), err
	}
	if err := s.fw.Flush(); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	buf := make([]byte, spoolFileBuffer)
	n, err := io.CopyBuffer(dst, onlyReader{s.f}, buf)
	if err == nil && n != s.n {
		err = fmt.Errorf("spool: read %d bytes, wrote %d", n, s.n)
	}
	return n, err
}

func (s *spool) release() {
	if s.f != nil {
		s.f.Close()
		if !s.unlinked {
			os.Remove(s.f.Name())
		}
		s.f = nil
	}
	if s.buf != nil && s.buf.Cap() <= s.w.opts.SpoolMemory {
		s.buf.Reset()
		s.w.bufs.Put(s.buf)
	}
	s.buf = nil
}

// spoolFileBuffer is the write buffer of a spool file and the copy buffer when it is appended.
const spoolFileBuffer = 1 << 20

// onlyReader hides *os.File's WriterTo so io.CopyBuffer uses the given buffer.
type onlyReader struct{ io.Reader }

// dosTime encodes t in UTC as an MS-DOS date and time, clamped to 1980…2107.
func dosTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	switch {
	case t.Year() < 1980:
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	case t.Year() > 2107:
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tm = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, tm
}

// extendedTimestamp returns the Info-ZIP extended timestamp extra field (0x5455) holding t's
// modification time in Unix seconds, which Info-ZIP and Go's archive/zip prefer over the
// 2-second MS-DOS time.
func extendedTimestamp(t time.Time) []byte {
	sec := min(max(t.Unix(), 0), 1<<32-1)
	b := make([]byte, 9)
	binary.LittleEndian.PutUint16(b[0:], 0x5455)
	binary.LittleEndian.PutUint16(b[2:], 5)
	b[4] = 1 // modification time present
	binary.LittleEndian.PutUint32(b[5:], uint32(sec))
	return b
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
