package store

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// parseKey splits an object key below the prefix into ref and file name;
// ok is false for keys outside <kind>/<name>/<archive name>.
func (s *S3) parseKey(key string) (ref Ref, file string, partial bool, ok bool) {
	rel, found := strings.CutPrefix(key, s.prefix)
	if !found {
		return Ref{}, "", false, false
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 3 {
		return Ref{}, "", false, false
	}
	ref = Ref{Kind: parts[0], Name: parts[1]}
	if ref.Validate() != nil {
		return Ref{}, "", false, false
	}
	res, _, partial, ok := catalog.ParseArchiveName(parts[2])
	if !ok || res != ref.Name {
		return Ref{}, "", false, false
	}
	return ref, parts[2], partial, true
}

// List implements Store with one recursive listing of the prefix (1000 keys
// a request) and one listing of incomplete multipart uploads, each of which
// appears as a Partial archive "<archive>.partial" (Size 0, ModTime when it
// was started). A missing bucket is an error; a prefix without objects
// lists as empty.
func (s *S3) List(ctx context.Context) ([]Archive, error) {
	return s.list(ctx, s.prefix)
}

// ListResource implements Store.
func (s *S3) ListResource(ctx context.Context, ref Ref) ([]Archive, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("store %q: list: %w", s.name, err)
	}
	return s.list(ctx, s.key(ref, ""))
}

// list lists the archives under prefix, which is s.prefix or the folder of
// one resource.
func (s *S3) list(ctx context.Context, prefix string) ([]Archive, error) {
	var out []Archive
	lctx, end := withOperation(ctx)
	defer end()
	for obj := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, s.failOn("list", "ListObjects", "", obj.Err)
		}
		ref, file, partial, ok := s.parseKey(obj.Key)
		if !ok {
			continue
		}
		_, t, _, _ := catalog.ParseArchiveName(file)
		out = append(out, Archive{
			Store: s.name, Ref: ref, Name: file, Time: t,
			Size: obj.Size, ModTime: obj.LastModified, Partial: partial, Safety: catalog.IsSafety(file),
		})
	}
	uctx, end := withOperation(ctx)
	defer end()
	for up := range s.client.ListIncompleteUploads(uctx, s.bucket, prefix, true) {
		if up.Err != nil {
			return nil, s.failOn("list incomplete uploads", "ListMultipartUploads", "", up.Err)
		}
		ref, file, partial, ok := s.parseKey(up.Key)
		if !ok || partial {
			continue
		}
		_, t, _, _ := catalog.ParseArchiveName(file)
		out = append(out, Archive{
			Store: s.name, Ref: ref, Name: file + PartialSuffix, Time: t,
			Size: up.Size, ModTime: up.Initiated, Partial: true,
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store %q: list: %w", s.name, err)
	}
	slices.SortFunc(out, compareArchives)
	// Several incomplete uploads of one key are one leftover to the
	// planner; Delete aborts them all.
	out = slices.CompactFunc(out, func(a, b Archive) bool { return a.Partial && b.Partial && a.Key() == b.Key() })
	if err := s.attributePartials(ctx, out); err != nil {
		return nil, s.fail("list", err)
	}
	return out, nil
}

// stat is StatObject of key, as one operation.
func (s *S3) stat(ctx context.Context, key string) (minio.ObjectInfo, error) {
	ctx, end := withOperation(ctx)
	defer end()
	return s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
}

// remove is RemoveObject of key, as one operation.
func (s *S3) remove(ctx context.Context, key string) error {
	ctx, end := withOperation(ctx)
	defer end()
	return s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
}

// incompleteUploads returns the upload IDs of the incomplete multipart
// uploads of exactly key.
func (s *S3) incompleteUploads(ctx context.Context, key string) ([]string, error) {
	var ids []string
	uctx, end := withOperation(ctx)
	defer end()
	for up := range s.client.ListIncompleteUploads(uctx, s.bucket, key, false) {
		if up.Err != nil {
			return nil, up.Err
		}
		if up.Key == key {
			ids = append(ids, up.UploadID)
		}
	}
	return ids, ctx.Err()
}

// Delete implements Store. A name with ".partial" aborts every incomplete
// upload of the archive (and removes an object of exactly that name, should
// one exist); a missing archive or leftover is fs.ErrNotExist.
func (s *S3) Delete(ctx context.Context, ref Ref, name string) error {
	if err := catalog.CheckDeleteName(ref, name); err != nil {
		return fmt.Errorf("store %q: delete: %w", s.name, err)
	}
	op := "delete " + ref.Key(name)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %q: %s: %w", s.name, op, err)
	}
	key := s.key(ref, name)
	found := false
	if archive, partial := strings.CutSuffix(key, PartialSuffix); partial {
		ids, err := s.incompleteUploads(ctx, archive)
		if err != nil {
			return s.failOn(op, "ListMultipartUploads", archive, err)
		}
		for _, id := range ids {
			actx, end := withOperation(ctx)
			err := s.core.AbortMultipartUpload(actx, s.bucket, archive, id)
			end()
			if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
				return s.failOn(op, "AbortMultipartUpload", archive, err)
			}
			found = true
		}
		s.forgetPartial(ctx, ref, stripPartial(name))
	}
	if _, err := s.stat(ctx, key); err == nil {
		if err := s.remove(ctx, key); err != nil {
			return s.failOn(op, "DeleteObject", key, err)
		}
		found = true
	} else if !isNotFound(err) {
		return s.failOn(op, "HeadObject", key, err)
	}
	if !found {
		return fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrNotExist)
	}
	return nil
}

// CopyFrom implements ServerSideCopier: when src is an S3 store on the same
// endpoint with the same access key, the server copies the object (one
// CopyObject request, or part by part above 5 GiB) and no data passes
// through this process. The copy appears whole; an existing archive is
// never replaced (fs.ErrExist), and the copy must match the source's size.
func (s *S3) CopyFrom(ctx context.Context, src Store, ref Ref, name string) (bool, error) {
	from, ok := src.(*S3)
	if !ok || from.url != s.url || !s.sameIdentity(from) {
		return false, nil
	}
	if err := catalog.CheckArchiveName(ref, name); err != nil {
		return true, fmt.Errorf("store %q: copy: %w", s.name, err)
	}
	op := fmt.Sprintf("copy %s from store %q", ref.Key(name), from.name)
	srcKey, dstKey := from.key(ref, name), s.key(ref, name)
	info, err := from.stat(ctx, srcKey)
	if err != nil {
		return true, from.failOn("copy "+ref.Key(name), "HeadObject", srcKey, err)
	}
	if _, err := s.stat(ctx, dstKey); err == nil {
		return true, fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrExist)
	} else if !isNotFound(err) {
		return true, s.failOn(op, "HeadObject", dstKey, err)
	}
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: dstKey}
	source := minio.CopySrcOptions{Bucket: from.bucket, Object: srcKey, MatchETag: info.ETag}
	cctx, end := withServerCopy(ctx, info.Size)
	if info.Size <= maxS3CopyObjectSize {
		_, err = s.client.CopyObject(cctx, dst, source)
	} else {
		_, err = s.client.ComposeObject(cctx, dst, source)
	}
	end()
	if err != nil {
		return true, s.failOn(op, "CopyObject", dstKey, err)
	}
	got, err := s.stat(ctx, dstKey)
	if err != nil {
		return true, s.failOn(op, "HeadObject", dstKey, err)
	}
	if got.Size != info.Size {
		return true, fmt.Errorf("store %q: %s: copied %d of %d bytes", s.name, op, got.Size, info.Size)
	}
	return true, nil
}

// sameIdentity reports whether both stores sign requests as the same access
// key, so that one request may read from one and write to the other.
func (s *S3) sameIdentity(o *S3) bool {
	a, err := s.creds.Get()
	if err != nil {
		return false
	}
	b, err := o.creds.Get()
	return err == nil && a.AccessKeyID == b.AccessKeyID
}
