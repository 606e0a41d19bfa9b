package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"
)

// PackClock is implemented by stores that keep packs: Now returns the
// time as the store stamps what is written into it (the server's clock of
// an S3 store, the file system's of a local one), so that the ages of
// packs are measured on the clock that dated them, whatever the clock of
// the host that measures.
type PackClock interface {
	Now(ctx context.Context) (time.Time, error)
}

var (
	_ PackClock = (*Local)(nil)
	_ PackClock = (*S3)(nil)
	_ PackClock = (*Encrypted)(nil)
)

// clockName is the name of the object a store's Now writes beside its
// packs and reads the time of.
const clockName = ".clock"

// Now implements PackClock: the modification time of a file written now
// in the packs folder.
func (l *Local) Now(ctx context.Context) (time.Time, error) {
	dir := filepath.Join(l.root, packsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return time.Time{}, fmt.Errorf("store %q: clock: %w", l.name, err)
	}
	f, err := os.CreateTemp(dir, clockName+".*")
	if err != nil {
		return time.Time{}, fmt.Errorf("store %q: clock: %w", l.name, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return time.Time{}, fmt.Errorf("store %q: clock: %w", l.name, err)
	}
	info, err := f.Stat()
	if err != nil {
		return time.Time{}, fmt.Errorf("store %q: clock: %w", l.name, err)
	}
	return info.ModTime(), nil
}

// Now implements PackClock: the LastModified the server gives an object
// written now beside the packs.
func (s *S3) Now(ctx context.Context) (time.Time, error) {
	key := s.prefix + packsDir + "/" + clockName
	pctx, end := withOperation(ctx)
	_, err := s.client.PutObject(pctx, s.bucket, key, bytes.NewReader(nil), 0, minio.PutObjectOptions{})
	end()
	if err != nil {
		return time.Time{}, s.failOn("clock", "PutObject", key, err)
	}
	info, err := s.stat(ctx, key)
	if err != nil {
		return time.Time{}, s.failOn("clock", "HeadObject", key, err)
	}
	return info.LastModified, nil
}

// Now implements PackClock with the wrapped store's clock.
func (e *Encrypted) Now(ctx context.Context) (time.Time, error) {
	c, ok := e.inner.(PackClock)
	if !ok {
		return time.Time{}, fmt.Errorf("store %q has no clock of its own", e.Name())
	}
	return c.Now(ctx)
}
