package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"
)

// PackRedirects keeps the redirects of repacked packs: when a collection
// rewrites the live contents of a mostly garbage pack into a new pack, it
// writes a small JSON object beside the old pack's place,
// packs/<ab>/<old id>.moved.json, saying where each of its live contents
// went, and only then deletes the old pack. Archives stay immutable: their
// indexes keep naming the old pack, and a reader that does not find it
// follows the redirect. Redirects are clear in an encrypted store (they
// hold pack ids, offsets and lengths, no content and no content hash): a
// host without the key must see which packs they keep alive.
type PackRedirects interface {
	// PutRedirect stores data as the redirect of pack old, atomically and
	// durably, replacing one that exists.
	PutRedirect(ctx context.Context, old string, data []byte) error
	// ReadRedirect returns the redirect of pack old; fs.ErrNotExist when
	// there is none.
	ReadRedirect(ctx context.Context, old string) ([]byte, error)
	// ListRedirects returns the redirects of the store, each as the old
	// pack's id, the redirect's size and the time it was written.
	ListRedirects(ctx context.Context) ([]PackInfo, error)
	// DeleteRedirect removes the redirect of pack old; a missing one is no
	// error.
	DeleteRedirect(ctx context.Context, old string) error
}

var (
	_ PackRedirects = (*Local)(nil)
	_ PackRedirects = (*S3)(nil)
	_ PackRedirects = (*Encrypted)(nil)
)

// RedirectSuffix ends the names of redirects, after the old pack's id.
const RedirectSuffix = ".moved.json"

// RedirectKey returns the key of the redirect of pack id below a store's
// root or prefix: "packs/ab/ab…cd.moved.json".
func RedirectKey(id string) string {
	return packsDir + "/" + id[:2] + "/" + id + RedirectSuffix
}

func (l *Local) redirectPath(id string) string {
	return filepath.Join(l.root, filepath.FromSlash(RedirectKey(id)))
}

// PutRedirect implements PackRedirects: written beside its name, fsynced,
// renamed over it and its folder fsynced.
func (l *Local) PutRedirect(ctx context.Context, old string, data []byte) error {
	if err := CheckPackID(old); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	p := l.redirectPath(old)
	if err := writeFileDurably(p, data); err != nil {
		return fmt.Errorf("store %q: write redirect of pack %s: %w", l.name, old, err)
	}
	return nil
}

// ReadRedirect implements PackRedirects.
func (l *Local) ReadRedirect(ctx context.Context, old string) ([]byte, error) {
	if err := CheckPackID(old); err != nil {
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	data, err := os.ReadFile(l.redirectPath(old))
	if err != nil {
		return nil, fmt.Errorf("store %q: read redirect of pack %s: %w", l.name, old, err)
	}
	return data, nil
}

// ListRedirects implements PackRedirects.
func (l *Local) ListRedirects(ctx context.Context) ([]PackInfo, error) {
	return l.listPackFiles("redirects", RedirectSuffix)
}

// DeleteRedirect implements PackRedirects.
func (l *Local) DeleteRedirect(ctx context.Context, old string) error {
	if err := CheckPackID(old); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	if err := removeDurably(l.redirectPath(old)); err != nil {
		return fmt.Errorf("store %q: delete redirect of pack %s: %w", l.name, old, err)
	}
	return nil
}

func (s *S3) redirectKey(id string) string { return s.prefix + RedirectKey(id) }

// PutRedirect implements PackRedirects with one PutObject.
func (s *S3) PutRedirect(ctx context.Context, old string, data []byte) error {
	if err := CheckPackID(old); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.redirectKey(old)
	pctx, end := withOperation(ctx)
	defer end()
	if _, err := s.client.PutObject(pctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		return s.failOn("write redirect "+key, "PutObject", key, err)
	}
	return nil
}

// ReadRedirect implements PackRedirects with one GetObject.
func (s *S3) ReadRedirect(ctx context.Context, old string) ([]byte, error) {
	if err := CheckPackID(old); err != nil {
		return nil, fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.redirectKey(old)
	return s.getSmall(ctx, "read redirect "+key, key, 0)
}

// ListRedirects implements PackRedirects with ListObjects below packs/.
func (s *S3) ListRedirects(ctx context.Context) ([]PackInfo, error) {
	var out []PackInfo
	err := s.eachPackObject(ctx, "redirects", []string{RedirectSuffix}, func(id, _ string, obj minio.ObjectInfo) {
		out = append(out, PackInfo{ID: id, Size: obj.Size, ModTime: obj.LastModified})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRedirect implements PackRedirects.
func (s *S3) DeleteRedirect(ctx context.Context, old string) error {
	if err := CheckPackID(old); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.redirectKey(old)
	if err := s.remove(ctx, key); err != nil && !isNotFound(err) {
		return s.failOn("delete redirect "+key, "DeleteObject", key, err)
	}
	return nil
}

// redirects returns the wrapped store's redirects.
func (e *Encrypted) redirects() (PackRedirects, error) {
	r, ok := e.inner.(PackRedirects)
	if !ok {
		return nil, fmt.Errorf("store %q keeps no pack redirects", e.Name())
	}
	return r, nil
}

// PutRedirect implements PackRedirects: redirects are clear (see
// PackRedirects), so that a host without the key marks what they keep.
func (e *Encrypted) PutRedirect(ctx context.Context, old string, data []byte) error {
	r, err := e.redirects()
	if err != nil {
		return err
	}
	return r.PutRedirect(ctx, old, data)
}

// ReadRedirect implements PackRedirects.
func (e *Encrypted) ReadRedirect(ctx context.Context, old string) ([]byte, error) {
	r, err := e.redirects()
	if err != nil {
		return nil, err
	}
	return r.ReadRedirect(ctx, old)
}

// ListRedirects implements PackRedirects.
func (e *Encrypted) ListRedirects(ctx context.Context) ([]PackInfo, error) {
	r, err := e.redirects()
	if err != nil {
		return nil, err
	}
	return r.ListRedirects(ctx)
}

// DeleteRedirect implements PackRedirects.
func (e *Encrypted) DeleteRedirect(ctx context.Context, old string) error {
	r, err := e.redirects()
	if err != nil {
		return err
	}
	return r.DeleteRedirect(ctx, old)
}
