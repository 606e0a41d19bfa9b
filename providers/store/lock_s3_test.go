package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/store/s3test"
)

func TestS3LockHeld(t *testing.T) {
	s, srv := newS3(t)
	other := s3On(t, srv, "offsite", "backups", "prod/", nil)
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	lk, err := s.Lock(ctx, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Lock(ctx, ref, 0)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	if le.Holder.Token != lk.Info().Token || le.Store != "offsite" || le.Ref != ref {
		t.Errorf("LockedError %+v, want holder %+v", le, lk.Info())
	}
	host, _ := os.Hostname()
	if want := "lock applications/X in store \"offsite\": locked by pid " + itoa(os.Getpid()) + " on host " + host; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	// The lock object is where other nodes look for it.
	if _, err := srv.Client(t).StatObject(ctx, "backups", "prod/locks/applications/X.lock", minio.StatObjectOptions{}); err != nil {
		t.Errorf("lock object: %v", err)
	}
	// Another resource is independent.
	lk2, err := other.Lock(ctx, Ref{Kind: KindApplications, Name: "Y"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk2.Unlock()

	// Waiting: released after a moment, taken by the waiter.
	go func() {
		time.Sleep(300 * time.Millisecond)
		lk.Unlock()
	}()
	start := time.Now()
	lk3, err := other.Lock(ctx, ref, 10*time.Second)
	if err != nil {
		t.Fatalf("Lock with wait: %v", err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Errorf("Lock with wait returned before the holder released")
	}
	if err := lk3.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := lk3.Unlock(); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	if _, err := srv.Client(t).StatObject(ctx, "backups", "prod/locks/applications/X.lock", minio.StatObjectOptions{}); err == nil {
		t.Error("lock object left after Unlock")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestS3LockRenewedAndExpired(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	// Deadlines are read on a clock that moves only when the test moves
	// it, so a slow machine cannot make a lock lapse.
	clock := newTestClock()
	newStore := func(ttl time.Duration) *S3 {
		s, err := NewS3("offsite", S3Options{Endpoint: srv.URL, Bucket: "backups", AccessKey: srv.AccessKey,
			SecretKey: srv.SecretKey, LockTTL: ttl, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		s.now = clock.Now
		return s
	}
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	const key = "locks/applications/X.lock"
	// Renewals come every TTL/4 of real time.
	a, b := newStore(2*time.Second), newStore(2*time.Second)

	// The holder renews: once the clock has moved on (less than the
	// margin), a renewal sets a later deadline and the lock is still held.
	lk, err := a.Lock(ctx, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := a.readLock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(2 * time.Second); !first.Expires.Equal(want) {
		t.Errorf("deadline %s, want %s", first.Expires, want)
	}
	if first.RunID == "" || first.Token == "" || first.PID != os.Getpid() {
		t.Errorf("lock record %+v", first)
	}
	clock.Advance(900 * time.Millisecond)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec, _, err := a.readLock(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Expires.After(first.Expires) {
			if rec.Token != first.Token {
				t.Fatalf("renewed under another token: %+v", rec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no renewal within 30 s: deadline %s, clock %s", rec.Expires, clock.Now())
		}
	}
	if _, err := b.Lock(ctx, ref, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock of a renewed lock: %v, want ErrLocked", err)
	}
	if err := lk.Unlock(); err != nil {
		t.Fatal(err)
	}

	plant := func(rec LockInfo) {
		t.Helper()
		data, _ := json.Marshal(rec)
		if _, err := srv.Client(t).PutObject(ctx, "backups", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A lock of another host is respected until its deadline, then, its
	// holder not having renewed it, taken over.
	dead := LockInfo{Owner: "aip", Host: "node-7", PID: 4242, Time: clock.Now().Add(-time.Hour), Token: "dead",
		Expires: clock.Now().Add(time.Minute)}
	plant(dead)
	if _, err := b.Lock(ctx, ref, 0); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid 4242 on host node-7") ||
		!strings.Contains(err.Error(), "another host") {
		t.Fatalf("Lock over a live foreign lock: %v", err)
	}
	if strings.Contains(logs.String(), "taking over") {
		t.Errorf("a live lock was taken over:\n%s", logs.String())
	}
	clock.Advance(time.Minute + time.Second)
	lk, err = b.Lock(ctx, ref, 0)
	if err != nil {
		t.Fatalf("Lock over an expired lock: %v", err)
	}
	if !strings.Contains(logs.String(), "taking over lock: its deadline") || !strings.Contains(logs.String(), "host=node-7") {
		t.Errorf("no warning about the take-over:\n%s", logs.String())
	}
	lk.Unlock()

	// A lock of this host, boot and PID namespace whose process is gone is
	// taken over at once; so is one whose pid now names a process started
	// later.
	self := b.id.record(clock.Now())
	gone := self
	gone.PID, gone.RunID, gone.Token, gone.Expires = exitedPID(t), "RUN-GONE", "gone", clock.Now().Add(time.Hour)
	reused := self
	reused.PID, reused.RunID, reused.Token, reused.Expires = os.Getppid(), "RUN-REUSED", "reused", clock.Now().Add(time.Hour)
	reused.Start = 1 // the parent started later than tick 1
	for _, c := range []struct {
		holder LockInfo
		why    string
	}{
		{gone, "its process no longer exists"},
		{reused, "now belongs to another process"},
	} {
		if b.id.bootID == "" || b.id.pidNS == "" {
			t.Log("no /proc of this PID namespace: processes cannot be checked")
			break
		}
		plant(c.holder)
		lk, err = b.Lock(ctx, ref, 0)
		if err != nil {
			t.Fatalf("Lock over a lock whose holder is gone (%s): %v", c.why, err)
		}
		if !strings.Contains(logs.String(), c.why) {
			t.Errorf("no warning %q:\n%s", c.why, logs.String())
		}
		lk.Unlock()
	}

	// The same record from another PID namespace of this host (a
	// container), whose pid does not exist here, is respected until its
	// deadline.
	logs.mu.Lock()
	logs.buf.Reset()
	logs.mu.Unlock()
	other := gone
	other.PIDNamespace, other.Token = "pid:[4026532178]", "container"
	plant(other)
	_, err = b.Lock(ctx, ref, 0)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Holder.Token != "container" ||
		!strings.Contains(err.Error(), "another PID namespace") || !strings.Contains(err.Error(), "lapses at") {
		t.Fatalf("Lock over a lock of another PID namespace: %v", err)
	}
	if strings.Contains(logs.String(), "taking over") {
		t.Errorf("a lock of another PID namespace was taken over:\n%s", logs.String())
	}

	// An unreadable lock object is never taken over.
	if _, err := srv.Client(t).PutObject(ctx, "backups", key, strings.NewReader("{"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, ref, 0); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("Lock over an unreadable lock: %v", err)
	}
}

// lockSaboteur fails (or, with stall, holds until the request is given
// up) the writes of lock objects once armed; everything else passes.
type lockSaboteur struct {
	mu    sync.Mutex
	armed bool
	stall bool
	hits  int
}

func (l *lockSaboteur) arm(stall bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed, l.stall = true, stall
}

func (l *lockSaboteur) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	hit := l.armed && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/locks/")
	stall := l.stall
	if hit {
		l.hits++
	}
	l.mu.Unlock()
	if hit {
		if stall {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestS3LockLostWhenRenewalsFail(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	const ttl = 2 * time.Second
	open := func(sab *lockSaboteur, logger *slog.Logger) *S3 {
		s, err := NewS3("offsite", S3Options{Endpoint: srv.URL, Bucket: "backups", AccessKey: srv.AccessKey,
			SecretKey: srv.SecretKey, LockTTL: ttl, MaxRetries: 1, Transport: sab, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("renewals refused, on a clock that moves", func(t *testing.T) {
		var logs syncBuffer
		sab := &lockSaboteur{}
		s := open(sab, slog.New(slog.NewTextHandler(&logs, nil)))
		clock := newTestClock()
		s.now = clock.Now
		lk, err := s.Lock(ctx, ref, 0)
		if err != nil {
			t.Fatal(err)
		}
		sab.arm(false)
		// The holder keeps trying while its deadline is more than the
		// margin away ...
		clock.Advance(lockMargin(ttl) / 2)
		time.Sleep(ttl / 2)
		select {
		case <-lk.Lost():
			t.Fatalf("lost before the margin: %v", lk.Err())
		default:
		}
		// ... and gives the lock up once it is not.
		clock.Advance(lockMargin(ttl) / 2)
		select {
		case <-lk.Lost():
		case <-time.After(10 * time.Second):
			t.Fatal("a lock whose renewals fail was not lost")
		}
		err = lk.Err()
		if !errors.Is(err, ErrLockLost) || !strings.HasPrefix(err.Error(), `lost the lock of applications/X in store "offsite": it could not be renewed`) {
			t.Fatalf("Err = %v", err)
		}
		if !clock.Now().Before(lk.Info().Expires) {
			t.Error("lost only after the deadline")
		}
		if uerr := lk.Unlock(); !errors.Is(uerr, ErrLockLost) {
			t.Errorf("Unlock of a lost lock: %v", uerr)
		}
		if !strings.Contains(logs.String(), "could not renew lock") || !strings.Contains(logs.String(), "lost lock") {
			t.Errorf("log:\n%s", logs.String())
		}
	})

	t.Run("a stalled connection", func(t *testing.T) {
		sab := &lockSaboteur{}
		s := open(sab, nil)
		lk, err := s.Lock(ctx, ref, 0)
		if err != nil {
			t.Fatal(err)
		}
		sab.arm(true)
		start := time.Now()
		select {
		case <-lk.Lost():
		case <-time.After(20 * time.Second):
			t.Fatal("a lock whose renewals stall was not lost")
		}
		if d := time.Since(start); d > ttl {
			t.Errorf("lost after %s, later than the deadline", d)
		}
		if err := lk.Err(); !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), "could not be renewed") {
			t.Errorf("Err = %v", err)
		}
		lk.Unlock()
		// The record lapses at its deadline; the next holder takes it over.
		time.Sleep(time.Until(lk.Info().Expires.Add(200 * time.Millisecond)))
		lk2, err := s3On(t, srv, "offsite", "backups", "", nil).Lock(ctx, ref, 0)
		if err != nil {
			t.Fatalf("Lock after the deadline of a lost lock: %v", err)
		}
		lk2.Unlock()
	})

	t.Run("taken over", func(t *testing.T) {
		s := open(&lockSaboteur{}, nil)
		lk, err := s.Lock(ctx, ref, 0)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(LockInfo{Host: "node-9", PID: 9, Time: time.Now(), Token: "other", Expires: time.Now().Add(time.Hour)})
		if _, err := srv.Client(t).PutObject(ctx, "backups", "locks/applications/X.lock", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-lk.Lost():
		case <-time.After(10 * time.Second):
			t.Fatal("a lock taken over was not lost")
		}
		if err := lk.Err(); !strings.Contains(err.Error(), "another process took it over: pid 9 on host node-9") {
			t.Errorf("Err = %v", err)
		}
		lk.Unlock()
	})
}

func TestS3UnlockAfterTakeOver(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	a := s3On(t, srv, "offsite", "backups", "", nil)
	b := s3On(t, srv, "offsite", "backups", "", nil)
	lk, err := a.Lock(ctx, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Someone replaces the lock (as a take-over after a long pause would).
	data, _ := json.Marshal(LockInfo{Host: "node-9", PID: 9, Time: time.Now(), Token: "other", Expires: time.Now().Add(time.Hour)})
	if _, err := srv.Client(t).PutObject(ctx, "backups", "locks/applications/X.lock", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := lk.Unlock(); err == nil || !strings.Contains(err.Error(), "taken over by pid 9 on host node-9") {
		t.Fatalf("Unlock of a replaced lock: %v", err)
	}
	// The other holder's lock stays.
	if _, err := b.Lock(ctx, ref, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("the replacing lock was removed: %v", err)
	}
}

func TestS3LockConcurrent(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "X"}
	const n = 8
	type result struct {
		lk  Lock
		err error
	}
	results := make(chan result, n)
	for range n {
		s := s3On(t, srv, "offsite", "backups", "", nil)
		go func() {
			lk, err := s.Lock(ctx, ref, 0)
			results <- result{lk, err}
		}()
	}
	won := 0
	for range n {
		r := <-results
		switch {
		case r.err == nil:
			won++
			defer r.lk.Unlock()
		case !errors.Is(r.err, ErrLocked):
			t.Errorf("Lock: %v", r.err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent Locks won, want 1", won, n)
	}
}
