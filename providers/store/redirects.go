package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/files"
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
	if err := writeDurably(p, data); err != nil {
		return fmt.Errorf("store %q: write redirect of pack %s: %w", l.name, old, err)
	}
	return nil
}

// writeDurably writes data to p through a temporary file, fsyncs it,
// renames it over p and fsyncs p's folder.
func writeDurably(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return files.SyncDir(filepath.Dir(p))
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
	root := filepath.Join(l.root, packsDir)
	subs, err := readDirs(root)
	if err != nil {
		return nil, fmt.Errorf("store %q: list redirects: %w", l.name, err)
	}
	var out []PackInfo
	for _, sub := range subs {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			return nil, fmt.Errorf("store %q: list redirects: %w", l.name, err)
		}
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), RedirectSuffix)
			if !ok || CheckPackID(id) != nil || !e.Type().IsRegular() {
				continue
			}
			if fi, err := e.Info(); err == nil {
				out = append(out, PackInfo{ID: id, Size: fi.Size(), ModTime: fi.ModTime()})
			}
		}
	}
	return out, nil
}

// DeleteRedirect implements PackRedirects.
func (l *Local) DeleteRedirect(ctx context.Context, old string) error {
	if err := CheckPackID(old); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	p := l.redirectPath(old)
	if err := removeFile(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store %q: delete redirect of pack %s: %w", l.name, old, err)
	}
	return files.SyncDir(filepath.Dir(p))
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
	gctx, end := withOperation(ctx)
	defer end()
	body, _, _, err := s.core.GetObject(gctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.failOn("read redirect "+key, "GetObject", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("store %q: read redirect %s: %w", s.name, key, err)
	}
	return data, nil
}

// ListRedirects implements PackRedirects with ListObjects below packs/.
func (s *S3) ListRedirects(ctx context.Context) ([]PackInfo, error) {
	lctx, end := withOperation(ctx)
	defer end()
	var out []PackInfo
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + packsDir + "/", Recursive: true}) {
		if obj.Err != nil {
			return nil, s.failOn("list redirects", "ListObjects", "", obj.Err)
		}
		base := obj.Key[strings.LastIndexByte(obj.Key, '/')+1:]
		if id, ok := strings.CutSuffix(base, RedirectSuffix); ok && CheckPackID(id) == nil && obj.Key == s.redirectKey(id) {
			out = append(out, PackInfo{ID: id, Size: obj.Size, ModTime: obj.LastModified})
		}
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
