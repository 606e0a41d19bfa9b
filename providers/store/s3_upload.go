package store

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// Create implements Store by starting a multipart upload and recording
// this run as its writer (see Cleanable). It fails early with fs.ErrExist
// when the archive exists already or an incomplete upload of it is left
// over (the leftover must be deleted first).
func (s *S3) Create(ctx context.Context, ref Ref, name string) (Upload, error) {
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: create: %w", s.name, err)
	}
	key := s.key(ref, name)
	op := "create " + ref.Key(name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: %s: %w", s.name, op, err)
	}
	if _, err := s.stat(ctx, key); err == nil {
		return nil, fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrExist)
	} else if !isNotFound(err) {
		return nil, s.failOn(op, "HeadObject", key, err)
	}
	ids, err := s.incompleteUploads(ctx, key)
	if err != nil {
		return nil, s.failOn(op, "ListMultipartUploads", key, err)
	}
	if len(ids) > 0 {
		return nil, fmt.Errorf("store %q: %s: an incomplete upload is left over (delete %s first): %w",
			s.name, op, name+PartialSuffix, fs.ErrExist)
	}
	// The writer is recorded before the upload exists: an upload killed
	// at any point has a writer the next plan can prove gone.
	if err := s.notePartial(ctx, ref, name); err != nil {
		return nil, err
	}
	octx, end := withOperation(ctx)
	id, err := s.core.NewMultipartUpload(octx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	end()
	if err != nil {
		s.forgetPartial(ctx, ref, name)
		return nil, s.failOn(op, "CreateMultipartUpload", key, err)
	}
	return &s3Upload{ctx: ctx, store: s, key: key, display: ref.Key(name), id: id, ref: ref, name: name}, nil
}

// s3Upload writes one archive of an S3 store as a multipart upload. Writes
// fill a part buffer; a full part is sent in the background while the next
// one fills, so the archive writer and the network overlap.
type s3Upload struct {
	ctx     context.Context
	store   *S3
	key     string
	display string // key below the prefix, for messages
	ref     Ref
	name    string
	id      string

	mu        sync.Mutex
	buf       []byte
	spare     []byte
	parts     []minio.CompletePart
	inflight  chan error // result of the part being sent; nil when none
	err       error      // first failure; the upload is unusable after it
	size      int64      // bytes written
	committed bool
	aborted   bool
}

// partSize returns the size of part number n (1-based).
func (u *s3Upload) partSize(n int) int64 {
	return u.store.partSize << ((n - 1) / s3PartsPerSize)
}

func (u *s3Upload) Write(p []byte) (int, error) {
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.err != nil:
		return 0, u.err
	case u.committed || u.aborted:
		return 0, fmt.Errorf("store %q: write %s: upload already finished", u.store.name, u.display)
	}
	written := 0
	defer func() { u.size += int64(written) }()
	for len(p) > 0 {
		size := int(u.partSize(len(u.parts) + 1))
		if u.buf == nil {
			u.buf = u.takeBuffer(size)
		}
		n := min(len(p), size-len(u.buf))
		u.buf = append(u.buf, p[:n]...)
		p, written = p[n:], written+n
		if len(u.buf) == size {
			if err := u.sendPart(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// takeBuffer returns an empty buffer of capacity size, reusing the spare
// one when it fits.
func (u *s3Upload) takeBuffer(size int) []byte {
	if cap(u.spare) >= size {
		b := u.spare[:0]
		u.spare = nil
		return b
	}
	return make([]byte, 0, size)
}

// sendPart waits for the part in flight and starts sending the filled
// buffer. Called with mu held.
func (u *s3Upload) sendPart() error {
	if err := u.wait(); err != nil {
		return err
	}
	if len(u.parts) >= maxS3Parts {
		u.err = fmt.Errorf("store %q: write %s: more than %d parts", u.store.name, u.display, maxS3Parts)
		return u.err
	}
	number := len(u.parts) + 1
	data := u.buf
	u.buf = nil
	u.parts = append(u.parts, minio.CompletePart{PartNumber: number})
	done := make(chan error, 1)
	u.inflight = done
	go func() {
		ctx, end := withOperation(u.ctx)
		defer end()
		part, err := u.store.core.PutObjectPart(ctx, u.store.bucket, u.key, u.id, number,
			bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
		if err == nil {
			u.mu.Lock()
			u.parts[number-1].ETag = part.ETag
			u.spare = data
			u.mu.Unlock()
		}
		done <- err
	}()
	return nil
}

// wait waits for the part in flight, if any, and records its failure.
// Called with mu held; the sending goroutine takes mu only briefly, so mu is
// released while waiting.
func (u *s3Upload) wait() error {
	if u.inflight == nil {
		return u.err
	}
	done := u.inflight
	u.inflight = nil
	u.mu.Unlock()
	err := <-done
	u.mu.Lock()
	if err != nil && u.err == nil {
		if cerr := u.ctx.Err(); cerr != nil {
			err = cerr
		}
		u.err = u.store.failOn(fmt.Sprintf("upload part %d of %s", len(u.parts), u.display), "UploadPart", u.key, err)
	}
	return u.err
}

// Commit sends the last part and completes the multipart upload with
// If-None-Match: *, so that an archive that appeared in the meantime is
// never replaced (fs.ErrExist). The archive becomes visible at once and
// whole.
func (u *s3Upload) Commit(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.committed:
		return nil
	case u.aborted:
		return fmt.Errorf("store %q: commit %s: upload was aborted", u.store.name, u.display)
	case u.err != nil:
		return u.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %q: commit %s: %w", u.store.name, u.display, err)
	}
	if len(u.buf) > 0 || len(u.parts) == 0 {
		if u.buf == nil {
			u.buf = []byte{}
		}
		if err := u.sendPart(); err != nil {
			return err
		}
	}
	if err := u.wait(); err != nil {
		return err
	}
	op := "commit " + u.display
	if _, err := u.store.stat(ctx, u.key); err == nil {
		return fmt.Errorf("store %q: %s: %w", u.store.name, op, fs.ErrExist)
	} else if !isNotFound(err) {
		return u.store.failOn(op, "HeadObject", u.key, err)
	}
	opts := minio.PutObjectOptions{}
	opts.SetMatchETagExcept("*")
	cctx, end := withServerCopy(ctx, u.size)
	defer end()
	if _, err := u.store.core.CompleteMultipartUpload(cctx, u.store.bucket, u.key, u.id, u.parts, opts); err != nil {
		if isPreconditionFailed(err) {
			return fmt.Errorf("store %q: %s: %w", u.store.name, op, fs.ErrExist)
		}
		return u.store.failOn(op, "CompleteMultipartUpload", u.key, err)
	}
	u.committed = true
	u.buf, u.spare = nil, nil
	u.store.forgetPartial(ctx, u.ref, u.name)
	return nil
}

// Abort aborts the multipart upload unless it was committed, so the server
// drops its parts. It works after the upload's context is done (an
// interrupted apply still cleans up), within s3CleanupTimeout.
func (u *s3Upload) Abort() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.committed || u.aborted {
		return nil
	}
	u.aborted = true
	u.wait()
	u.buf, u.spare = nil, nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), s3CleanupTimeout)
	defer cancel()
	actx, end := withOperation(ctx)
	defer end()
	if err := u.store.core.AbortMultipartUpload(actx, u.store.bucket, u.key, u.id); err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
			u.store.forgetPartial(ctx, u.ref, u.name)
			return nil
		}
		return u.store.failOn("abort "+u.display, "AbortMultipartUpload", u.key, err)
	}
	u.store.forgetPartial(ctx, u.ref, u.name)
	return nil
}
