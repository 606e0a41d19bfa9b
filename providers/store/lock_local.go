package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/planb-backup/planb/providers/files"
)

// Polling intervals of Local.Lock while it waits for a held lock.
const (
	lockPollMin = 50 * time.Millisecond
	lockPollMax = time.Second
)

// Lock implements Store with a file <root>/locks/<kind>/<name>.lock holding
// the LockInfo as JSON.
//
// The file is written completely under a temporary name and then linked into
// place, so it appears atomically, exclusively (link(2) fails if it exists)
// and never half-written. On file systems without hard links it is created
// with O_CREATE|O_EXCL instead. While held, the lock's deadline is renewed
// every TTL/4 by replacing the file (see DefaultLockTTL); a holder that
// cannot renew it in time loses it (Lost).
//
// A held lock is taken over when its deadline has passed or its holder is
// proven gone (same host, boot and PID namespace; its pid names no process,
// or one with another start time). It is removed under an flock(2) on
// <name>.lock.takeover after re-reading it and checking that it is still
// the same acquisition (its token), so that of several processes finding
// the same lapsed lock only one removes it, and none can remove a lock taken
// or renewed in the meantime; the new lock is then taken the ordinary way. A
// lock of this process (another goroutine, another Local on the same root)
// is never taken over before its deadline.
func (l *Local) Lock(ctx context.Context, ref Ref, wait time.Duration) (Lock, error) {
	if err := ref.Validate(); err != nil {
		return nil, fmt.Errorf("store %q: lock: %w", l.name, err)
	}
	dir := filepath.Join(l.root, "locks", ref.Kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store %q: lock %s: %w", l.name, ref, err)
	}
	path := filepath.Join(dir, ref.Name+".lock")
	deadline := time.Now().Add(wait)
	delay := lockPollMin
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("store %q: lock %s: %w", l.name, ref, err)
		}
		info := l.id.record(l.now())
		info.Token, info.Expires = rand.Text(), info.Time.Add(l.lockTTL)
		err := l.tryLock(path, info)
		if err == nil {
			return l.held(ref, path, info), nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("store %q: lock %s: %w", l.name, ref, err)
		}

		holder, rerr := readLock(path)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue // released in the meantime
		}
		locked := &LockedError{Store: l.name, Ref: ref, Holder: holder}
		if rerr == nil {
			takeOver, why := l.id.judge(holder, l.now())
			if takeOver {
				if err := l.removeStale(path, ref, holder, why); err != nil {
					return nil, fmt.Errorf("store %q: lock %s: remove lapsed lock: %w", l.name, ref, err)
				}
				continue
			}
			locked.Wait = waitText(holder, why, path)
		} else {
			locked.Detail = fmt.Sprintf("lock file %s is unreadable (%v); remove it if no planb process holds it", path, rerr)
		}

		if err := waitToRetry(ctx, deadline, &delay, locked, fmt.Sprintf("store %q: wait for lock %s", l.name, ref)); err != nil {
			return nil, err
		}
	}
}

// waitText completes the error naming the holder of a lock that could not
// be taken over: why its process could not be checked (why, "" when it is
// alive) and until when the lock holds.
func waitText(holder LockInfo, why, where string) string {
	if why == "" {
		return ""
	}
	if holder.Expires.IsZero() {
		return why + "; the lock has no deadline (written by an older planb): remove " + where + " once no planb process holds it"
	}
	return why + "; the lock lapses at " + holder.Expires.UTC().Format(time.RFC3339) + " unless its holder renews it"
}

// waitToRetry waits before the next try to take a held lock: until
// deadline at most, then *delay doubles up to lockPollMax. Past the
// deadline it returns locked; when ctx ends first, an error that starts
// with what and wraps both ctx's error and locked.
func waitToRetry(ctx context.Context, deadline time.Time, delay *time.Duration, locked *LockedError, what string) error {
	left := time.Until(deadline)
	if left <= 0 {
		return locked
	}
	t := time.NewTimer(min(*delay, left))
	select {
	case <-ctx.Done():
		t.Stop()
		return fmt.Errorf("%s: %w (%w)", what, ctx.Err(), locked)
	case <-t.C:
	}
	*delay = min(2**delay, lockPollMax)
	return nil
}

// tryLock creates the lock file at path with info, failing with an error
// matching fs.ErrExist when it exists.
func (l *Local) tryLock(path string, info LockInfo) error {
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp := path + "." + info.Token + ".tmp"
	if err := writeFileSync(tmp, data); err != nil {
		os.Remove(tmp)
		return err
	}
	err = os.Link(tmp, path)
	os.Remove(tmp)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links on this file system: create the lock in place.
		err = writeFileSync(path, data)
	}
	if err != nil {
		return err
	}
	return files.SyncDir(filepath.Dir(path))
}

// writeFileSync creates path exclusively (mode 0600), writes data and fsyncs
// it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// readLock reads and decodes a lock file.
func readLock(path string) (LockInfo, error) {
	var info LockInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return LockInfo{}, fmt.Errorf("decode: %w", err)
	}
	if info.Token == "" || info.PID <= 0 {
		return LockInfo{}, errors.New("no pid or token")
	}
	return info, nil
}

// guard takes the flock on <path>.takeover that serialises take-overs and
// renewals, which replace or remove an existing lock file. When the file system does not support flock it goes on
// without: the token checks still protect all but a window of
// microseconds. Call the returned function to release it.
func guard(path string) (func(), error) {
	g, err := os.OpenFile(path+".takeover", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(g); err == nil {
		return func() { funlock(g); g.Close() }, nil
	}
	return func() { g.Close() }, nil
}

// removeStale removes the lock at path if it still is stale's acquisition,
// under the guard.
func (l *Local) removeStale(path string, ref Ref, stale LockInfo, why string) error {
	release, err := guard(path)
	if err != nil {
		return err
	}
	defer release()
	current, err := readLock(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && (current.Token != stale.Token || !current.Expires.Equal(stale.Expires))) {
		return nil // removed, replaced or renewed by another process
	}
	if err != nil {
		return err
	}
	if err := removeFile(path); errors.Is(err, fs.ErrNotExist) {
		return nil // removed by another process (possible only without flock)
	} else if err != nil {
		return err
	}
	l.logger.Warn("taking over lock: "+why,
		"store", l.name, "resource", ref.String(), "pid", stale.PID, "host", stale.Host, "pid_ns", stale.PIDNamespace,
		"user", stale.Owner, "since", stale.Time.UTC().Format(time.RFC3339), "expires", stale.Expires.UTC().Format(time.RFC3339))
	return nil
}

// held starts renewing a freshly taken lock.
func (l *Local) held(ref Ref, path string, info LockInfo) *localLock {
	k := &localLock{store: l, path: path, info: info}
	k.lease = startLease(l.name, ref, l.lockTTL, l.now, l.logger, info.Expires, k.renew)
	return k
}

// localLock is a held lock of a Local store.
type localLock struct {
	store *Local
	path  string
	info  LockInfo
	lease *lease

	mu       sync.Mutex
	released bool
}

func (k *localLock) Info() LockInfo { return k.info }

func (k *localLock) Lost() <-chan struct{} { return k.lease.Lost() }

func (k *localLock) Err() error { return k.lease.Err() }

// renew replaces the lock file by one with deadline expires, under the
// guard, if it still records this acquisition.
func (k *localLock) renew(ctx context.Context, expires time.Time) error {
	if k.store.renewHook != nil {
		if err := k.store.renewHook(ctx); err != nil {
			return err
		}
	}
	release, err := guard(k.path)
	if err != nil {
		return err
	}
	defer release()
	current, err := readLock(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &errNotOurs{}
	}
	if err != nil {
		return err
	}
	if current.Token != k.info.Token {
		return &errNotOurs{current: current}
	}
	next := k.info
	next.Expires = expires
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	tmp := k.path + "." + next.Token + ".tmp"
	os.Remove(tmp)
	if err := writeFileSync(tmp, append(data, '\n')); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := replaceFile(tmp, k.path); err != nil {
		os.Remove(tmp)
		return err
	}
	return files.SyncDir(filepath.Dir(k.path))
}

// Unlock stops renewing and removes the lock file if it still records this
// acquisition. When the lock was lost, or the file records another one, it
// reports an error: the resource was not protected for the whole time.
func (k *localLock) Unlock() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.released {
		return nil
	}
	k.released = true
	if err := k.lease.end(); err != nil {
		return err
	}
	current, err := readLock(k.path)
	if err == nil && current.Token != k.info.Token {
		return fmt.Errorf("store %q: unlock %s: the lock was taken over by %s", k.store.name, k.path, current)
	}
	if err != nil {
		return fmt.Errorf("store %q: unlock: %w", k.store.name, err)
	}
	if err := removeFile(k.path); err != nil {
		return fmt.Errorf("store %q: unlock: %w", k.store.name, err)
	}
	return nil
}
