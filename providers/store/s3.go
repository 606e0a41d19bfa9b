package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// Defaults of S3Options.
const (
	// DefaultS3PartSize is the size of the parts of a multipart upload. An
	// upload holds at most two parts in memory (one being filled, one being
	// sent).
	DefaultS3PartSize = 16 << 20
	// DefaultS3LockTTL is how long a lock object stays valid without being
	// renewed: DefaultLockTTL, which says how locks are renewed and when
	// their holder gives them up.
	DefaultS3LockTTL = DefaultLockTTL
	// DefaultS3MaxRetries is how often one request is tried before an
	// operation fails.
	DefaultS3MaxRetries = 4

	minS3PartSize = 5 << 20 // S3's minimum for every part but the last
	maxS3Parts    = 10000   // S3's maximum number of parts
	// s3PartsPerSize: after this many parts the part size doubles, so that
	// archives far larger than 10000 parts of the initial size still fit.
	s3PartsPerSize = 1000
	// s3BlockSize is the unit in which objects are read and cached: a ZIP
	// reader's many small reads (headers, a decompressor's buffered reads)
	// are served from blocks fetched with ranged GETs, and reading a
	// manifest costs a block or two, not the archive.
	s3BlockSize = 128 << 10
	// s3MaxReadAhead is the most blocks one GET fetches. A read of the block
	// after a cached one doubles the blocks fetched by the GET that brought
	// that one, so a sequential reader soon gets 2 MiB a request.
	s3MaxReadAhead = 16
	// s3CachedBlocks is how many blocks one open object keeps (12 MiB),
	// enough for several entries read concurrently at full read-ahead.
	s3CachedBlocks = 96
	// maxS3CopyObjectSize is the largest object one CopyObject request
	// copies; larger ones are copied part by part.
	maxS3CopyObjectSize = 5 << 30
	// s3CleanupTimeout bounds requests that clean up after a failure or an
	// interrupt (aborting an upload, releasing a lock), which run even when
	// the operation's context is done.
	s3CleanupTimeout = 30 * time.Second
)

// S3Options configures an S3 store. Only Bucket is required.
type S3Options struct {
	// Endpoint is "host:port" or a URL "https://host:port" (no path). Empty
	// means AWS S3 (s3.amazonaws.com).
	Endpoint string
	Bucket   string
	// Prefix is prepended to every object key; a missing trailing "/" is
	// added, so "prod" and "prod/" are the same folder.
	Prefix string
	// Region is the bucket's region; empty means discovered from AWS, and
	// "us-east-1" for other endpoints.
	Region string
	// Insecure selects plain HTTP. An endpoint URL with scheme "http"
	// implies it; one with "https" contradicts it (an error).
	Insecure bool
	// AccessKey, SecretKey and SessionToken are static credentials. When
	// AccessKey is empty they come from the environment
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then
	// from the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
	// ~/.aws/credentials, profile AWS_PROFILE or "default"). Without any,
	// every operation fails with a *NoCredentialsError saying where it
	// looked: requests are never sent anonymously.
	AccessKey, SecretKey, SessionToken string
	// Logger receives warnings (expired locks taken over, failed lock
	// renewals); nil discards them.
	Logger *slog.Logger
	// LockTTL is how long a lock stays valid without renewal
	// (DefaultS3LockTTL when zero). Locks are renewed every LockTTL/4 and
	// given up by a holder that could not renew them before their deadline
	// came within LockTTL/2 (see DefaultLockTTL), so the clocks of the
	// hosts sharing a bucket must agree to well within half of it.
	LockTTL time.Duration
	// PartSize is the initial multipart part size (DefaultS3PartSize when
	// zero, at least 5 MiB).
	PartSize int64
	// MaxRetries is how often one request is tried (DefaultS3MaxRetries
	// when zero).
	MaxRetries int
	// Transport carries the requests; nil means minio-go's default (system
	// proxies and certificate authorities) with ConnectTimeout.
	Transport http.RoundTripper
	// ConnectTimeout bounds opening a connection (TCP and TLS handshake;
	// DefaultS3ConnectTimeout when zero). It applies to the default
	// transport only.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for a response once a request has
	// been sent (DefaultS3ResponseTimeout when zero).
	ResponseTimeout time.Duration
	// IdleTimeout bounds a pause within a transfer: no byte of a response
	// received, or no progress sending a request's body
	// (DefaultS3IdleTimeout when zero).
	//
	// A request that times out fails with a *TimeoutError naming the
	// endpoint and is not retried: the operation fails within the
	// timeout, not once per retry.
	IdleTimeout time.Duration
}

// S3 is a store in a bucket of an S3-compatible object store (AWS S3,
// MinIO, Ceph RGW, versitygw), the way a fleet of nodes shares one catalog:
//
//	<prefix><kind>/<name>/<name>_YYYY-MM-DD-HH-mm-SS.zip   archives
//	<prefix>locks/<kind>/<name>.lock                        resource locks (JSON)
//
// Archives are written as multipart uploads, visible only once completed; an
// upload left incomplete by a crash lists as a Partial archive named
// "<archive>.partial", and deleting that name aborts it. Objects are read
// with ranged GETs, so reading a manifest never downloads a whole archive.
//
// Locks are objects created with a conditional write (If-None-Match: *) and
// renewed by their holder; one whose deadline has passed, or whose holder is
// proven gone (a process of this host, boot and PID namespace that no longer
// exists), is taken over with a conditional write on its ETag (If-Match), so
// that of several processes only one succeeds. See Lock.
type S3 struct {
	name   string
	bucket string
	prefix string
	url    string // scheme://host of the endpoint
	client *minio.Client
	core   minio.Core
	creds  *credentials.Credentials
	logger *slog.Logger
	// id is what lock objects and partial records say about this process.
	id       identity
	lockTTL  time.Duration
	partSize int64
	// accepted is set once the endpoint answered a request as one whose
	// credentials it accepted.
	accepted *atomic.Bool
	// now is the clock of lock records: their time and deadline, and
	// whether a holder's deadline has passed. It is time.Now; tests move
	// it instead of waiting for a deadline. Waiting for a lock and the
	// renewal ticker run on real time.
	now func() time.Time
}

var (
	_ Store            = (*S3)(nil)
	_ ServerSideCopier = (*S3)(nil)
)

// NewS3 returns the S3 store called name (its name in the configuration). It
// makes no request: a wrong endpoint, wrong credentials or a missing bucket
// show in the first operation, as errors naming the store.
func NewS3(name string, opts S3Options) (*S3, error) {
	if opts.Bucket == "" {
		return nil, fmt.Errorf("s3 store %q: empty bucket", name)
	}
	host, secure, err := parseS3Endpoint(opts.Endpoint, opts.Insecure)
	if err != nil {
		return nil, fmt.Errorf("s3 store %q: %w", name, err)
	}
	prefix := opts.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("s3 store %q: prefix %q starts with a slash", name, opts.Prefix)
	}
	var creds *credentials.Credentials
	if opts.AccessKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, opts.SessionToken)
	} else {
		creds = credentials.New(&requiredCredentials{})
	}
	region := opts.Region
	if region == "" && host != "s3.amazonaws.com" && !strings.HasSuffix(host, ".amazonaws.com") {
		region = "us-east-1"
	}
	scheme := "https"
	if !secure {
		scheme = "http"
	}
	timeouts := s3Timeouts{
		connect:  cmp.Or(opts.ConnectTimeout, DefaultS3ConnectTimeout),
		response: cmp.Or(opts.ResponseTimeout, DefaultS3ResponseTimeout),
		idle:     cmp.Or(opts.IdleTimeout, DefaultS3IdleTimeout),
	}
	if timeouts.connect < 0 || timeouts.response < 0 || timeouts.idle < 0 {
		return nil, fmt.Errorf("s3 store %q: negative timeout", name)
	}
	accepted := new(atomic.Bool)
	transport, err := newS3Transport(opts.Transport, scheme+"://"+host, secure, timeouts, accepted)
	if err != nil {
		return nil, fmt.Errorf("s3 store %q: %w", name, err)
	}
	retries := cmp.Or(opts.MaxRetries, DefaultS3MaxRetries)
	client, err := minio.New(host, &minio.Options{
		Creds: creds, Secure: secure, Region: region, MaxRetries: retries, Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 store %q: %w", name, err)
	}
	partSize := cmp.Or(opts.PartSize, DefaultS3PartSize)
	if partSize < minS3PartSize {
		return nil, fmt.Errorf("s3 store %q: part size %d is below S3's minimum of 5 MiB", name, partSize)
	}
	hostname, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("s3 store %q: host name for locks: %w", name, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &S3{
		name: name, bucket: opts.Bucket, prefix: prefix, url: scheme + "://" + host,
		client: client, core: minio.Core{Client: client}, creds: creds,
		logger: logger, id: newIdentity(hostname, currentUser()),
		lockTTL: cmp.Or(opts.LockTTL, DefaultS3LockTTL), partSize: partSize, accepted: accepted,
		now: time.Now,
	}, nil
}

// parseS3Endpoint returns the host[:port] of an endpoint and whether to use
// HTTPS.
func parseS3Endpoint(endpoint string, insecure bool) (host string, secure bool, err error) {
	if endpoint == "" {
		return "s3.amazonaws.com", !insecure, nil
	}
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#") {
			return "", false, fmt.Errorf("endpoint %q: want host:port or a URL", endpoint)
		}
		return endpoint, !insecure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("endpoint: %w", err)
	}
	if u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("endpoint %q: want scheme://host:port without a path, query or user", u.Redacted())
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, nil
	case "https":
		if insecure {
			return "", false, fmt.Errorf("endpoint %q is https but insecure = true asks for plain http", endpoint)
		}
		return u.Host, true, nil
	}
	return "", false, fmt.Errorf("endpoint %q: scheme %q, want http or https", endpoint, u.Scheme)
}

// Name returns the store's name.
func (s *S3) Name() string { return s.name }

// String returns "s3 <scheme>://<host>/<bucket>/<prefix>".
func (s *S3) String() string { return "s3 " + s.url + "/" + s.bucket + "/" + s.prefix }

// key returns the full object key of file in ref's folder.
func (s *S3) key(ref Ref, file string) string { return s.prefix + ref.Key(file) }

// lockKey returns the object key of ref's lock.
func (s *S3) lockKey(ref Ref) string {
	return s.prefix + "locks/" + ref.Kind + "/" + ref.Name + ".lock"
}

// fail wraps an error of operation op with the store's name, translating
// the S3 errors operators meet (missing bucket or object, refused
// credentials, refused permissions, an endpoint that does not answer, no
// credentials at all) into messages that say what to fix. A missing object
// matches fs.ErrNotExist.
func (s *S3) fail(op string, err error) error {
	return s.failOn(op, "", "", err)
}

// s3Permissions names the permission each S3 request needs, for messages
// about refused requests.
var s3Permissions = map[string]string{
	"ListObjects":             "s3:ListBucket",
	"ListMultipartUploads":    "s3:ListBucketMultipartUploads",
	"HeadObject":              "s3:GetObject",
	"GetObject":               "s3:GetObject",
	"PutObject":               "s3:PutObject",
	"CreateMultipartUpload":   "s3:PutObject",
	"UploadPart":              "s3:PutObject",
	"CompleteMultipartUpload": "s3:PutObject",
	"CopyObject":              "s3:PutObject here and s3:GetObject on the source",
	"AbortMultipartUpload":    "s3:AbortMultipartUpload",
	"DeleteObject":            "s3:DeleteObject",
}

// failOn is fail for an error of the S3 request named request (a key of
// s3Permissions, or "" when unknown) for the object key ("" for requests
// on the bucket).
func (s *S3) failOn(op, request, key string, err error) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		return fmt.Errorf("store %q: %s: %w", s.name, op, te)
	}
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return fmt.Errorf("store %q: %s: %w", s.name, op, ue)
	}
	var nc *NoCredentialsError
	if errors.As(err, &nc) {
		return fmt.Errorf("store %q: %s: %w", s.name, op, nc)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return fmt.Errorf("store %q: %s: bucket %q does not exist at %s", s.name, op, s.bucket, s.url)
	case "NoSuchKey", "NoSuchUpload":
		return fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrNotExist)
	case "AccessDenied":
		return fmt.Errorf("store %q: %s: %w", s.name, op, s.denied(request, key, resp))
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
		"XAdminUserNotFound": // versitygw's answer to an unknown access key
		return fmt.Errorf("store %q: %s: %s refused the credentials (%s: %s); check the access key and secret key",
			s.name, op, s.url, resp.Code, resp.Message)
	}
	if resp.Code == "" && resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("store %q: %s: %w", s.name, op, fs.ErrNotExist)
	}
	return fmt.Errorf("store %q: %s: %w", s.name, op, err)
}

// AccessDeniedError is the error of a request the server refused although
// it accepted the credentials: the bucket policy or the key's permissions
// do not allow it.
type AccessDeniedError struct {
	Endpoint string
	// Request is the S3 request ("CreateMultipartUpload"), Permission the
	// permission it needs; both empty when unknown.
	Request, Permission string
	// Object is "bucket/key" (or the bucket) the request was for.
	Object string
	// AccessKey is the access key the request was signed with.
	AccessKey string
	// Accepted is set when other requests with the same credentials
	// succeeded.
	Accepted bool
	Message  string
}

func (e *AccessDeniedError) Error() string {
	what := "this request"
	if e.Request != "" {
		what = e.Request
	}
	s := fmt.Sprintf("access denied: %s refused %s on %s", e.Endpoint, what, e.Object)
	if e.Accepted {
		s += fmt.Sprintf("; the credentials (access key %s) were accepted for other requests", e.AccessKey)
	} else {
		s += fmt.Sprintf("; the server accepted the credentials (access key %s) but not this request", e.AccessKey)
	}
	if e.Permission != "" {
		s += ", so the bucket policy or the key's permissions must allow " + e.Permission
	} else {
		s += ", so the bucket policy or the key's permissions do not allow it"
	}
	if e.Message != "" {
		s += " (AccessDenied: " + e.Message + ")"
	}
	return s
}

// denied describes a refused request.
func (s *S3) denied(request, key string, resp minio.ErrorResponse) *AccessDeniedError {
	object := s.bucket
	if key == "" {
		key = resp.Key
	}
	if key != "" {
		object += "/" + key
	}
	e := &AccessDeniedError{
		Endpoint: s.url, Request: request, Permission: s3Permissions[request], Object: object,
		Accepted: s.accepted.Load(), Message: resp.Message,
	}
	if v, err := s.creds.Get(); err == nil {
		e.AccessKey = v.AccessKeyID
	}
	return e
}

// isPreconditionFailed reports whether a conditional request was refused.
func isPreconditionFailed(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed"
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey" || (resp.Code == "" && resp.StatusCode == http.StatusNotFound)
}

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
	octx, end := withOperation(ctx)
	id, err := s.core.NewMultipartUpload(octx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	end()
	if err != nil {
		return nil, s.failOn(op, "CreateMultipartUpload", key, err)
	}
	up := &s3Upload{ctx: ctx, store: s, key: key, display: ref.Key(name), id: id, ref: ref, name: name}
	if err := s.notePartial(ctx, ref, name); err != nil {
		up.Abort()
		return nil, err
	}
	return up, nil
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
