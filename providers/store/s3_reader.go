package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// Open implements Store. The object is read with ranged GETs conditional on
// the ETag seen here, so an archive replaced while it is read fails instead
// of mixing two archives.
func (s *S3) Open(ctx context.Context, ref Ref, name string) (Object, error) {
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: open: %w", s.name, err)
	}
	op := "open " + ref.Key(name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: %s: %w", s.name, op, err)
	}
	key := s.key(ref, name)
	info, err := s.stat(ctx, key)
	if err != nil {
		return nil, s.failOn(op, "HeadObject", key, err)
	}
	return &s3Object{ctx: ctx, store: s, key: key, display: ref.Key(name), size: info.Size, etag: info.ETag,
		blocks: map[int64]*s3Block{}}, nil
}

// s3Object is an archive of an S3 store opened for reading. ReadAt serves
// reads from blocks of s3BlockSize fetched with ranged GETs (each retried
// once when it fails); a read that continues where a previous one ended
// fetches more blocks at once (read-ahead, up to s3MaxReadAhead), and the
// last s3CachedBlocks blocks are kept. It is safe for concurrent use;
// concurrent reads of the same block share one GET.
type s3Object struct {
	ctx     context.Context
	store   *S3
	key     string
	display string
	size    int64
	etag    string

	mu     sync.Mutex
	blocks map[int64]*s3Block
	order  []int64 // block indexes, least recently used first
	off    int64   // Read's offset
	closed bool
}

// s3Block is one fetched (or being fetched) block.
type s3Block struct {
	ready chan struct{} // closed once data or err is set
	data  []byte
	err   error
	// run is the number of blocks the GET that fetched this one fetched.
	run int64
}

func (o *s3Object) Size() int64 { return o.size }

func (o *s3Object) Read(p []byte) (int, error) {
	o.mu.Lock()
	off := o.off
	o.mu.Unlock()
	n, err := o.ReadAt(p, off)
	o.mu.Lock()
	o.off = off + int64(n)
	o.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store %q: read %s: negative offset", o.store.name, o.display)
	}
	n := 0
	for n < len(p) && off+int64(n) < o.size {
		pos := off + int64(n)
		b, err := o.block(pos / s3BlockSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[pos%s3BlockSize:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// block returns block i, from the cache or fetched together with the
// blocks after it that a sequential reader will want next.
func (o *s3Object) block(i int64) ([]byte, error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, fmt.Errorf("store %q: read %s: %w", o.store.name, o.display, os.ErrClosed)
	}
	if b, ok := o.blocks[i]; ok {
		o.touch(i)
		o.mu.Unlock()
		<-b.ready
		return b.data, b.err
	}
	run := int64(1)
	if prev, ok := o.blocks[i-1]; ok {
		run = min(2*prev.run, s3MaxReadAhead)
	}
	last := (o.size - 1) / s3BlockSize
	run = min(run, last-i+1)
	for j := i + 1; j < i+run; j++ {
		if _, ok := o.blocks[j]; ok {
			run = j - i
			break
		}
	}
	fetching := make([]*s3Block, run)
	for j := range fetching {
		b := &s3Block{ready: make(chan struct{}), run: run}
		fetching[j] = b
		o.blocks[i+int64(j)] = b
		o.order = append(o.order, i+int64(j))
	}
	for len(o.order) > s3CachedBlocks {
		delete(o.blocks, o.order[0])
		o.order = o.order[1:]
	}
	o.mu.Unlock()

	start := i * s3BlockSize
	data, err := o.fetch(start, min(start+run*s3BlockSize, o.size))
	o.mu.Lock()
	for j, b := range fetching {
		if err != nil {
			b.err = err
			if o.blocks[i+int64(j)] == b {
				delete(o.blocks, i+int64(j)) // a later read tries again
				o.order = slices.DeleteFunc(o.order, func(k int64) bool { return k == i+int64(j) })
			}
		} else {
			b.data = data[int64(j)*s3BlockSize : min(int64(j+1)*s3BlockSize, int64(len(data)))]
		}
		close(b.ready)
	}
	o.mu.Unlock()
	return fetching[0].data, err
}

// touch marks block i as most recently used. Called with mu held.
func (o *s3Object) touch(i int64) {
	if k := slices.Index(o.order, i); k >= 0 {
		o.order = append(slices.Delete(o.order, k, k+1), i)
	}
}

// fetch reads bytes [start, end) with a ranged GET conditional on the ETag,
// trying once more when the first attempt fails for any reason but a
// changed or missing object.
func (o *s3Object) fetch(start, end int64) ([]byte, error) {
	var err error
	ctx, done := withOperation(o.ctx)
	defer done()
	for attempt := 0; attempt < 2; attempt++ {
		var data []byte
		data, err = o.fetchOnce(ctx, start, end)
		if err == nil {
			return data, nil
		}
		if o.ctx.Err() != nil || isNotFound(err) || isPreconditionFailed(err) {
			break
		}
	}
	op := fmt.Sprintf("read %s at %d", o.display, start)
	if isPreconditionFailed(err) {
		return nil, fmt.Errorf("store %q: %s: the archive changed while it was read", o.store.name, op)
	}
	if cerr := o.ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("store %q: %s: %w", o.store.name, op, cerr)
	}
	return nil, o.store.failOn(op, "GetObject", o.key, err)
}

func (o *s3Object) fetchOnce(ctx context.Context, start, end int64) ([]byte, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(start, end-1); err != nil {
		return nil, err
	}
	if o.etag != "" {
		if err := opts.SetMatchETag(o.etag); err != nil {
			return nil, err
		}
	}
	body, _, _, err := o.store.core.GetObject(ctx, o.store.bucket, o.key, opts)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data := make([]byte, end-start)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("short read: %w", err)
	}
	return data, nil
}

// Close drops the cached blocks; reads after it fail.
func (o *s3Object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.blocks, o.order = nil, nil
	return nil
}
