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
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/files"
	"github.com/planb-backup/planb/providers/internal/ctxio"
)

// Packs keeps the pack files of incremental delivery folders: each
// distinct file content of a store once, compressed, many contents to a
// pack of tens of MiB, so that a backup stores only what changed and
// costs few requests. Packs live beside the resource folders, under
// packs/<first two characters of the id>/<id>.pack, and are shared by
// every resource of the store. A pack's id is the hex SHA-256 of its
// bytes, so a pack never changes: writing the same id again is a no-op,
// and a reader checks what it read against the index that names it.
//
// Stores implement Packs beside Store (Local, S3); a wrapper such as an
// encrypting store implements it by transforming whole packs on their
// way in and out: PutPack receives the plain pack, ReadPack returns plain
// bytes at plain offsets. A store that does not implement Packs gets full
// archives only.
type Packs interface {
	// PutPack stores size bytes read from r as pack id, atomically: the
	// pack is visible (ReadPack, StatPack, ListPacks) only once complete
	// and durable. A pack that exists already is not written again but
	// renewed (its time set to now, as PackToucher does), so that a
	// collection spares it until the archive that references it is
	// committed.
	PutPack(ctx context.Context, id string, r io.Reader, size int64) error
	// ReadPack reads length bytes at off of pack id. A missing pack is
	// fs.ErrNotExist; a pack shorter than off+length is an error.
	ReadPack(ctx context.Context, id string, off, length int64) ([]byte, error)
	// StatPack returns the size of pack id; fs.ErrNotExist when missing.
	StatPack(ctx context.Context, id string) (int64, error)
	// ListPacks returns every complete pack of the store, in no order.
	ListPacks(ctx context.Context) ([]PackInfo, error)
	// DeletePack removes pack id; a missing pack is no error.
	DeletePack(ctx context.Context, id string) error
}

// PackToucher is implemented by stores whose packs' modification time can
// be brought to now without writing them again (Local, S3, and an
// Encrypted store over either). A copy that
// finds a pack it needs already in the target touches it, so that the
// target's collection, which spares packs younger than its grace period,
// does not sweep it before the copied archive that references it is
// committed.
type PackToucher interface {
	// TouchPack sets the modification time of pack id to now;
	// fs.ErrNotExist when it is missing.
	TouchPack(ctx context.Context, id string) error
}

var (
	_ PackToucher = (*Local)(nil)
	_ PackToucher = (*S3)(nil)
	_ PackToucher = (*Encrypted)(nil)
)

// PackInfo describes one pack in a store.
type PackInfo struct {
	ID      string
	Size    int64
	ModTime time.Time
}

// PackSuffix ends the names of pack files.
const PackSuffix = ".pack"

// packsDir is the folder of packs below a store's root or prefix.
const packsDir = "packs"

// CheckPackID checks that id can name a pack: 64 lower-case hex digits.
func CheckPackID(id string) error {
	if len(id) != 64 {
		return fmt.Errorf("pack id %q: want 64 hex digits", id)
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("pack id %q: want 64 lower-case hex digits", id)
		}
	}
	return nil
}

// PackKey returns the key of pack id below a store's root or prefix:
// "packs/ab/ab…cd.pack".
func PackKey(id string) string {
	return packsDir + "/" + id[:2] + "/" + id + PackSuffix
}

var (
	_ Packs = (*Local)(nil)
	_ Packs = (*S3)(nil)
)

func (l *Local) packPath(id string) string {
	return filepath.Join(l.root, filepath.FromSlash(PackKey(id)))
}

// PutPack implements Packs: the pack is written beside its final name,
// fsynced, renamed into place without replacing anything and its folder
// fsynced.
func (l *Local) PutPack(ctx context.Context, id string, r io.Reader, size int64) error {
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	p := l.packPath(id)
	if _, err := os.Stat(p); err == nil {
		// The same bytes are there already: renew them, so that a
		// collection does not sweep them before the archive that now
		// references them is committed.
		return l.TouchPack(ctx, id)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("store %q: write pack %s: %w", l.name, id, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+id+".*")
	if err != nil {
		return fmt.Errorf("store %q: write pack %s: %w", l.name, id, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	n, err := io.Copy(f, ctxio.Reader(ctx, r))
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, want %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = renameNoReplace(tmp, p)
		if errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	if err == nil {
		err = files.SyncDir(filepath.Dir(p))
	}
	if err != nil {
		return fmt.Errorf("store %q: write pack %s: %w", l.name, id, err)
	}
	return nil
}

// ReadPack implements Packs.
func (l *Local) ReadPack(ctx context.Context, id string, off, length int64) ([]byte, error) {
	if err := CheckPackID(id); err != nil {
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: read pack %s: %w", l.name, id, err)
	}
	f, err := os.Open(l.packPath(id))
	if err != nil {
		return nil, fmt.Errorf("store %q: read pack %s: %w", l.name, id, err)
	}
	defer f.Close()
	data := make([]byte, length)
	if _, err := f.ReadAt(data, off); err != nil {
		return nil, fmt.Errorf("store %q: read pack %s at %d (%d bytes): %w", l.name, id, off, length, err)
	}
	return data, nil
}

// StatPack implements Packs.
func (l *Local) StatPack(ctx context.Context, id string) (int64, error) {
	if err := CheckPackID(id); err != nil {
		return 0, fmt.Errorf("store %q: %w", l.name, err)
	}
	fi, err := os.Stat(l.packPath(id))
	if err != nil {
		return 0, fmt.Errorf("store %q: pack %s: %w", l.name, id, err)
	}
	return fi.Size(), nil
}

// ListPacks implements Packs. It reads packs/ and its sub-folders; files
// that are not complete packs (temporary files of a write) are left out.
func (l *Local) ListPacks(ctx context.Context) ([]PackInfo, error) {
	return l.listPackFiles("packs", PackSuffix)
}

// listPackFiles lists the regular files packs/<ab>/<id><suffix> (packs,
// redirects) as the id, size and modification time of each; what names
// them in errors.
func (l *Local) listPackFiles(what, suffix string) ([]PackInfo, error) {
	var out []PackInfo
	root := filepath.Join(l.root, packsDir)
	subs, err := readDirs(root)
	if err != nil {
		return nil, fmt.Errorf("store %q: list %s: %w", l.name, what, err)
	}
	for _, sub := range subs {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			return nil, fmt.Errorf("store %q: list %s: %w", l.name, what, err)
		}
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), suffix)
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

// DeletePack implements Packs.
func (l *Local) DeletePack(ctx context.Context, id string) error {
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	if err := removeDurably(l.packPath(id)); err != nil {
		return fmt.Errorf("store %q: delete pack %s: %w", l.name, id, err)
	}
	return nil
}

// removeDurably removes the file p, when it exists, and fsyncs its folder.
func removeDurably(p string) error {
	if err := removeFile(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return files.SyncDir(filepath.Dir(p))
}

// TouchPack implements PackToucher.
func (l *Local) TouchPack(ctx context.Context, id string) error {
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	now := time.Now()
	if err := os.Chtimes(l.packPath(id), now, now); err != nil {
		return fmt.Errorf("store %q: touch pack %s: %w", l.name, id, err)
	}
	return nil
}

func (s *S3) packKey(id string) string { return s.prefix + PackKey(id) }

// PutPack implements Packs with one PutObject (multipart for big packs),
// which makes the object visible only complete.
func (s *S3) PutPack(ctx context.Context, id string, r io.Reader, size int64) error {
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.packKey(id)
	if _, err := s.stat(ctx, key); err == nil {
		// The same bytes are there already: renew them (see Local.PutPack).
		return s.TouchPack(ctx, id)
	}
	pctx, end := withOperation(ctx)
	defer end()
	_, err := s.client.PutObject(pctx, s.bucket, key, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return s.failOn("write pack "+key, "PutObject", key, err)
	}
	return nil
}

// ReadPack implements Packs with one ranged GetObject.
func (s *S3) ReadPack(ctx context.Context, id string, off, length int64) ([]byte, error) {
	if err := CheckPackID(id); err != nil {
		return nil, fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.packKey(id)
	gctx, end := withOperation(ctx)
	defer end()
	opts := minio.GetObjectOptions{}
	if length > 0 {
		if err := opts.SetRange(off, off+length-1); err != nil {
			return nil, fmt.Errorf("store %q: read pack %s: %w", s.name, id, err)
		}
	}
	body, _, _, err := s.core.GetObject(gctx, s.bucket, key, opts)
	if err != nil {
		return nil, s.failOn("read pack "+key, "GetObject", key, err)
	}
	defer body.Close()
	data := make([]byte, length)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("store %q: read pack %s at %d (%d bytes): %w", s.name, id, off, length, err)
	}
	return data, nil
}

// StatPack implements Packs.
func (s *S3) StatPack(ctx context.Context, id string) (int64, error) {
	if err := CheckPackID(id); err != nil {
		return 0, fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.packKey(id)
	info, err := s.stat(ctx, key)
	if err != nil {
		return 0, s.failOn("pack "+key, "HeadObject", key, err)
	}
	return info.Size, nil
}

// ListPacks implements Packs with ListObjects below packs/.
func (s *S3) ListPacks(ctx context.Context) ([]PackInfo, error) {
	var out []PackInfo
	touched := map[string]time.Time{}
	err := s.eachPackObject(ctx, "packs", []string{PackSuffix, PackSuffix + packTouchSuffix}, func(id, suffix string, obj minio.ObjectInfo) {
		if suffix == PackSuffix {
			out = append(out, PackInfo{ID: id, Size: obj.Size, ModTime: obj.LastModified})
		} else {
			touched[id] = obj.LastModified
		}
	})
	if err != nil {
		return nil, err
	}
	for i, p := range out {
		if t, ok := touched[p.ID]; ok && t.After(p.ModTime) {
			out[i].ModTime = t
		}
	}
	return out, nil
}

// eachPackObject lists packs/ and calls f for every object whose key is
// packs/<ab>/<id><suffix> for one of suffixes (packs, their touch markers,
// redirects); what names them in errors.
func (s *S3) eachPackObject(ctx context.Context, what string, suffixes []string, f func(id, suffix string, obj minio.ObjectInfo)) error {
	lctx, end := withOperation(ctx)
	defer end()
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + packsDir + "/", Recursive: true}) {
		if obj.Err != nil {
			return s.failOn("list "+what, "ListObjects", "", obj.Err)
		}
		base := obj.Key[strings.LastIndexByte(obj.Key, '/')+1:]
		for _, suffix := range suffixes {
			if id, ok := strings.CutSuffix(base, suffix); ok && CheckPackID(id) == nil && obj.Key == s.prefix+packsDir+"/"+id[:2]+"/"+base {
				f(id, suffix, obj)
				break
			}
		}
	}
	return nil
}

// packTouchSuffix ends the key of the marker TouchPack writes beside a pack
// of an S3 store: "<pack key>.touched", empty. ListPacks gives a pack the
// newer of its own time and its marker's.
const packTouchSuffix = ".touched"

// TouchPack implements PackToucher by writing the pack's marker object
// anew: a new object's LastModified is now on every S3 implementation,
// whereas a copy of an object onto itself keeps the old time on some.
func (s *S3) TouchPack(ctx context.Context, id string) error {
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.packKey(id)
	if _, err := s.stat(ctx, key); err != nil {
		return s.failOn("touch pack "+key, "HeadObject", key, err)
	}
	pctx, end := withOperation(ctx)
	defer end()
	marker := key + packTouchSuffix
	if _, err := s.client.PutObject(pctx, s.bucket, marker, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		return s.failOn("touch pack "+key, "PutObject", marker, err)
	}
	return nil
}

// DeletePack implements Packs.
func (s *S3) DeletePack(ctx context.Context, id string) error {
	if err := CheckPackID(id); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.packKey(id)
	if err := s.remove(ctx, key); err != nil && !isNotFound(err) {
		return s.failOn("delete pack "+key, "DeleteObject", key, err)
	}
	if err := s.remove(ctx, key+packTouchSuffix); err != nil && !isNotFound(err) {
		return s.failOn("delete pack "+key, "DeleteObject", key+packTouchSuffix, err)
	}
	return nil
}
