package store

import (
	"bytes"
	"context"
	"encoding/json"
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

// Records are small JSON documents a store keeps per resource beside its
// archives, under records/<kind>/<name>/<record>.json: what a restore that
// has begun and not finished is doing (RestoreRecord). They are not
// archives: List never returns them.
type Records interface {
	// WriteRecord stores data as record name of ref, replacing it,
	// durably (local: written aside, fsynced and renamed).
	WriteRecord(ctx context.Context, ref Ref, name string, data []byte) error
	// ReadRecord reads record name of ref; fs.ErrNotExist when there is
	// none.
	ReadRecord(ctx context.Context, ref Ref, name string) ([]byte, error)
	// DeleteRecord removes record name of ref; a missing record is no
	// error.
	DeleteRecord(ctx context.Context, ref Ref, name string) error
}

// RestoreRecord is the name of the record a restore writes before it
// changes anything and removes once it finished.
const RestoreRecord = "restore.json"

// maxRecord bounds what ReadRecord reads.
const maxRecord = 1 << 20

func checkRecord(ref Ref, name string) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	if !strings.HasSuffix(name, ".json") || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("record name %q: want a plain name ending in .json", name)
	}
	return nil
}

func (l *Local) recordPath(ref Ref, name string) string {
	return filepath.Join(l.root, "records", ref.Kind, ref.Name, name)
}

// WriteRecord implements Records.
func (l *Local) WriteRecord(ctx context.Context, ref Ref, name string, data []byte) error {
	if err := checkRecord(ref, name); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	p := l.recordPath(ref, name)
	if err := writeFileDurably(p, data); err != nil {
		return fmt.Errorf("store %q: write record %s: %w", l.name, p, err)
	}
	return nil
}

// writeFileDurably replaces the file p (its folder created when missing)
// by data through a temporary file beside it, fsynced and renamed over p
// (replaceFile: retried while Windows reports the old one in use), and
// fsyncs the folder.
func writeFileDurably(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = replaceFile(tmp, p)
	}
	if err == nil {
		err = files.SyncDir(filepath.Dir(p))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ReadRecord implements Records.
func (l *Local) ReadRecord(ctx context.Context, ref Ref, name string) ([]byte, error) {
	if err := checkRecord(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: %w", l.name, err)
	}
	f, err := os.Open(l.recordPath(ref, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("store %q: record %s: %w", l.name, ref.Key(name), fs.ErrNotExist)
		}
		return nil, fmt.Errorf("store %q: read record: %w", l.name, err)
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRecord))
}

// DeleteRecord implements Records.
func (l *Local) DeleteRecord(ctx context.Context, ref Ref, name string) error {
	if err := checkRecord(ref, name); err != nil {
		return fmt.Errorf("store %q: %w", l.name, err)
	}
	p := l.recordPath(ref, name)
	if err := removeFile(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store %q: delete record: %w", l.name, err)
	}
	if err := files.SyncDir(filepath.Dir(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store %q: delete record: %w", l.name, err)
	}
	return nil
}

func (s *S3) recordKey(ref Ref, name string) string {
	return s.prefix + "records/" + ref.Kind + "/" + ref.Name + "/" + name
}

// WriteRecord implements Records.
func (s *S3) WriteRecord(ctx context.Context, ref Ref, name string, data []byte) error {
	if err := checkRecord(ref, name); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.recordKey(ref, name)
	pctx, end := withOperation(ctx)
	defer end()
	_, err := s.client.PutObject(pctx, s.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/json"})
	if err != nil {
		return s.failOn("write record "+key, "PutObject", key, err)
	}
	return nil
}

// ReadRecord implements Records.
func (s *S3) ReadRecord(ctx context.Context, ref Ref, name string) ([]byte, error) {
	if err := checkRecord(ref, name); err != nil {
		return nil, fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.recordKey(ref, name)
	return s.getSmall(ctx, "read record "+key, key, maxRecord)
}

// getSmall reads the whole of a small object, at most limit bytes of it
// (no bound when limit is 0), as one operation.
func (s *S3) getSmall(ctx context.Context, op, key string, limit int64) ([]byte, error) {
	gctx, end := withOperation(ctx)
	defer end()
	body, _, _, err := s.core.GetObject(gctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.failOn(op, "GetObject", key, err)
	}
	defer body.Close()
	var r io.Reader = body
	if limit > 0 {
		r = io.LimitReader(body, limit)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, s.failOn(op, "GetObject", key, err)
	}
	return data, nil
}

// DeleteRecord implements Records.
func (s *S3) DeleteRecord(ctx context.Context, ref Ref, name string) error {
	if err := checkRecord(ref, name); err != nil {
		return fmt.Errorf("store %q: %w", s.name, err)
	}
	key := s.recordKey(ref, name)
	if err := s.remove(ctx, key); err != nil && !isNotFound(err) {
		return s.failOn("delete record "+key, "DeleteObject", key, err)
	}
	return nil
}

// ReadJSON reads record name of ref in st into v. found is false, with no
// error, when there is no such record; a record that does not parse is an
// error naming the store and the record.
func ReadJSON(ctx context.Context, st Store, ref Ref, name string, v any) (found bool, err error) {
	data, err := st.ReadRecord(ctx, ref, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("store %q: record %s does not parse: %w", st.Name(), ref.Key(name), err)
	}
	return true, nil
}
