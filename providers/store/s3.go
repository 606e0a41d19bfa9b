package store

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
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
