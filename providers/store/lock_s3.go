package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// Lock implements Store with an object <prefix>locks/<kind>/<name>.lock
// holding the LockInfo as JSON, created with If-None-Match: *. While held,
// its deadline is renewed every LockTTL/4 with If-Match on its ETag (see
// DefaultLockTTL); a holder that cannot renew it in time loses it (Lost).
//
// A lock whose deadline has passed, or whose holder is proven gone (same
// host, boot and PID namespace; its pid names no process, or one with
// another start time), is taken over with a conditional write on the ETag
// that was read, with a warning logged, so that of several processes only
// one succeeds. A lock object that cannot be decoded is never taken over
// (LockedError.Detail says so).
func (s *S3) Lock(ctx context.Context, ref Ref, wait time.Duration) (Lock, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("store %q: lock: %w", s.name, err)
	}
	key := s.lockKey(ref)
	op := "lock " + ref.String()
	deadline := time.Now().Add(wait)
	delay := lockPollMin
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("store %q: %s: %w", s.name, op, err)
		}
		info := s.id.record(s.now())
		info.Token, info.Expires = rand.Text(), info.Time.Add(s.lockTTL)
		etag, err := s.putLock(ctx, key, info, "")
		if err == nil {
			return s.held(ref, key, info, etag), nil
		}
		if !isPreconditionFailed(err) {
			return nil, s.fail(op, err)
		}

		holder, holderETag, rerr := s.readLock(ctx, key)
		if rerr != nil && isNotFound(rerr) {
			continue // released in the meantime
		}
		locked := &LockedError{Store: s.name, Ref: ref, Holder: holder}
		switch {
		case rerr == nil:
			takeOver, why := s.id.judge(holder, s.now())
			if !takeOver {
				locked.Wait = waitText(holder, why, key)
				break
			}
			etag, err := s.putLock(ctx, key, info, holderETag)
			if err == nil {
				s.logger.Warn("taking over lock: "+why,
					"store", s.name, "resource", ref.String(), "pid", holder.PID, "host", holder.Host,
					"pid_ns", holder.PIDNamespace, "user", holder.Owner, "since", holder.Time.UTC().Format(time.RFC3339),
					"expires", holder.Expires.UTC().Format(time.RFC3339))
				return s.held(ref, key, info, etag), nil
			}
			if !isPreconditionFailed(err) && !isNotFound(err) {
				return nil, s.fail(op+": take over lock", err)
			}
			continue // someone else took it over, renewed or released it first
		case errors.As(rerr, new(*lockDecodeError)):
			locked.Detail = fmt.Sprintf("lock object %s is unreadable (%v); remove it if no planb process holds it", key, rerr)
		default:
			return nil, s.fail(op+": read lock", rerr)
		}

		if err := waitToRetry(ctx, deadline, &delay, locked, fmt.Sprintf("store %q: wait for %s", s.name, op)); err != nil {
			return nil, err
		}
	}
}

// putLock writes the lock record info: created only if absent (ifMatch "")
// or replacing exactly the object with ETag ifMatch. It returns the new
// ETag.
func (s *S3) putLock(ctx context.Context, key string, info LockInfo, ifMatch string) (string, error) {
	data, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	opts := minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true}
	if ifMatch == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(ifMatch)
	}
	pctx, end := withOperation(ctx)
	defer end()
	up, err := s.client.PutObject(pctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return "", err
	}
	return up.ETag, nil
}

// lockDecodeError is the error of a lock object that is not a lock record.
type lockDecodeError struct{ err error }

func (e *lockDecodeError) Error() string { return e.err.Error() }

// readLock reads and decodes a lock object, returning its ETag. A decoding
// failure is a *lockDecodeError.
func (s *S3) readLock(ctx context.Context, key string) (LockInfo, string, error) {
	var rec LockInfo
	gctx, end := withOperation(ctx)
	defer end()
	body, info, _, err := s.core.GetObject(gctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return rec, "", err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 1<<16))
	if err != nil {
		return rec, "", err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return LockInfo{}, "", &lockDecodeError{fmt.Errorf("decode: %w", err)}
	}
	if rec.Token == "" || rec.PID <= 0 || rec.Expires.IsZero() {
		return LockInfo{}, "", &lockDecodeError{errors.New("no pid, token or deadline")}
	}
	return rec, info.ETag, nil
}

// lockHolder returns the record of ref's lock, for telling which partial
// archives are being written; found is false when there is none.
func (s *S3) lockHolder(ctx context.Context, ref Ref) (LockInfo, bool, error) {
	rec, _, err := s.readLock(ctx, s.lockKey(ref))
	switch {
	case err == nil:
		return rec, true, nil
	case isNotFound(err):
		return LockInfo{}, false, nil
	case errors.As(err, new(*lockDecodeError)):
		return LockInfo{}, true, fmt.Errorf("%w: %v", errLockUnreadable, err)
	}
	return LockInfo{}, false, err
}

// held starts renewing a freshly taken lock.
func (s *S3) held(ref Ref, key string, info LockInfo, etag string) *s3Lock {
	k := &s3Lock{store: s, ref: ref, key: key, info: info, etag: etag}
	k.lease = startLease(s.name, ref, s.lockTTL, s.now, s.logger, info.Expires, k.renew)
	return k
}

// s3Lock is a held lock of an S3 store.
type s3Lock struct {
	store *S3
	ref   Ref
	key   string
	info  LockInfo
	lease *lease

	mu       sync.Mutex
	etag     string
	released bool
}

func (k *s3Lock) Info() LockInfo { return k.info }

func (k *s3Lock) Lost() <-chan struct{} { return k.lease.Lost() }

func (k *s3Lock) Err() error { return k.lease.Err() }

// renew writes the lock record again with deadline expires, with If-Match
// on the ETag of the last write. A refused condition means another process
// replaced or removed the lock: an *errNotOurs.
func (k *s3Lock) renew(ctx context.Context, expires time.Time) error {
	s := k.store
	k.mu.Lock()
	etag := k.etag
	k.mu.Unlock()
	next := k.info
	next.Expires = expires
	etag, err := s.putLock(ctx, k.key, next, etag)
	switch {
	case err == nil:
		k.mu.Lock()
		k.etag = etag
		k.mu.Unlock()
		return nil
	case isPreconditionFailed(err) || isNotFound(err):
		current, _, rerr := s.readLock(ctx, k.key)
		if rerr != nil {
			current = LockInfo{}
		}
		return &errNotOurs{current: current}
	}
	return s.fail("renew lock "+k.ref.String(), err)
}

// Unlock stops renewing and removes the lock object if it still records
// this acquisition. When the lock was lost, or the object records another
// acquisition, it reports an error: the resource was not protected for the
// whole time.
func (k *s3Lock) Unlock() error {
	k.mu.Lock()
	if k.released {
		k.mu.Unlock()
		return nil
	}
	k.released = true
	k.mu.Unlock()
	if err := k.lease.end(); err != nil {
		return err
	}
	s := k.store
	ctx, cancel := context.WithTimeout(context.Background(), s3CleanupTimeout)
	defer cancel()
	current, _, err := s.readLock(ctx, k.key)
	if err == nil && current.Token != k.info.Token {
		return fmt.Errorf("store %q: unlock %s: the lock was taken over by %s", s.name, k.ref, current)
	}
	if err != nil {
		return s.fail("unlock "+k.ref.String(), err)
	}
	if err := s.remove(ctx, k.key); err != nil {
		return s.fail("unlock "+k.ref.String(), err)
	}
	return nil
}
