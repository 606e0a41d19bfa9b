package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var lockRef = Ref{Kind: KindApplications, Name: "X"}

func lockPath(s *Local) string { return filepath.Join(s.Root(), "locks", "applications", "X.lock") }

// exitedPID returns the pid of a process that has exited and been reaped.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// plantLock writes a lock file as another process would have.
func plantLock(t *testing.T, s *Local, info LockInfo) {
	t.Helper()
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, lockPath(s), string(data))
}

func TestLockHeld(t *testing.T) {
	s := newLocal(t)
	clock := newTestClock()
	s.now = clock.Now
	ctx := context.Background()
	lk, err := s.Lock(ctx, lockRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := lk.Info()
	host, _ := os.Hostname()
	if info.PID != os.Getpid() || info.Host != host || info.Owner == "" || info.Token == "" || !info.Time.Equal(clock.Now()) {
		t.Errorf("Info = %+v, want the time %s", info, clock.Now())
	}
	fi, err := os.Stat(lockPath(s))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, %v", fi, err)
	}
	if onDisk, err := readLock(lockPath(s)); err != nil || onDisk.Token != info.Token || !onDisk.Time.Equal(info.Time) {
		t.Errorf("lock file holds %+v, %v", onDisk, err)
	}

	// A second store value on the same root competes for the same lock.
	s2, err := NewLocal("node", s.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s2.now = clock.Now
	_, err = s2.Lock(ctx, lockRef, 0)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v", err)
	}
	want := `lock applications/X in store "node": locked by pid ` + strconv.Itoa(os.Getpid()) + " on host " + host + " since 2026-11-25T20:30:00Z"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.Token != info.Token {
		t.Errorf("LockedError holder = %+v", le)
	}

	// Other resources and kinds are independent.
	other, err := s2.Lock(ctx, Ref{Kind: KindMeasurement, Name: "X"}, 0)
	if err != nil {
		t.Fatalf("lock of another kind: %v", err)
	}
	other.Unlock()

	if err := lk.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := lk.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	if _, err := os.Stat(lockPath(s)); !os.IsNotExist(err) {
		t.Errorf("lock file after Unlock: %v", err)
	}
	lk2, err := s2.Lock(ctx, lockRef, 0)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	lk2.Unlock()
	if entries, _ := os.ReadDir(filepath.Dir(lockPath(s))); len(entries) != 0 {
		t.Errorf("lock folder not clean: %v", entries)
	}
}

func TestLockWait(t *testing.T) {
	s := newLocal(t)
	ctx := context.Background()
	lk, err := s.Lock(ctx, lockRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("times out", func(t *testing.T) {
		start := time.Now()
		_, err := s.Lock(ctx, lockRef, 300*time.Millisecond)
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Lock: %v", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
			t.Errorf("gave up after %v, want about 300ms", d)
		}
	})
	t.Run("context ends the wait", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := s.Lock(ctx, lockRef, time.Hour)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrLocked) {
			t.Fatalf("Lock: %v", err)
		}
	})
	t.Run("succeeds when released in time", func(t *testing.T) {
		go func() {
			time.Sleep(200 * time.Millisecond)
			lk.Unlock()
		}()
		start := time.Now()
		lk2, err := s.Lock(ctx, lockRef, 10*time.Second)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		defer lk2.Unlock()
		if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
			t.Errorf("got the lock after %v", d)
		}
	})
}

func TestLockStale(t *testing.T) {
	host, _ := os.Hostname()
	self := newIdentity(host, "root")
	if self.bootID == "" || self.pidNS == "" {
		t.Skip("no /proc of this PID namespace: no holder can be proven gone")
	}
	now := time.Now()
	// holder returns a lock record of another run of this host, boot and
	// PID namespace, unless changed.
	holder := func(change func(*LockInfo)) LockInfo {
		h := self.record(now.Add(-time.Hour))
		h.PID, h.RunID, h.Token, h.Expires = exitedPID(t), "RUN-OTHER", "t1", now.Add(time.Hour)
		if change != nil {
			change(&h)
		}
		return h
	}
	tests := map[string]struct {
		holder    LockInfo
		takenOver bool
		why       string
	}{
		"dead process, same host, boot and PID namespace": {holder(nil), true, "its process no longer exists"},
		"pid reused by a later process":                   {holder(func(h *LockInfo) { h.PID, h.Start = os.Getppid(), 1 }), true, "now belongs to another process"},
		"deadline passed":                                 {holder(func(h *LockInfo) { h.Host, h.Expires = "elsewhere", now.Add(-time.Minute) }), true, "its deadline"},
		"live process":                                    {holder(func(h *LockInfo) { h.PID, h.Start = os.Getppid(), 0 }), false, ""},
		"dead pid on another host":                        {holder(func(h *LockInfo) { h.Host = "elsewhere" }), false, "another host"},
		"dead pid in another PID namespace":               {holder(func(h *LockInfo) { h.PIDNamespace = "pid:[4026532178]" }), false, "another PID namespace"},
		"dead pid under another boot":                     {holder(func(h *LockInfo) { h.BootID = "another-boot" }), false, "another boot"},
		"an older planb's lock file":                      {LockInfo{Owner: "root", Host: host, PID: exitedPID(t), Token: "t1", Time: now}, false, "no deadline (written by an older planb): remove"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			s, err := NewLocal("node", t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			tc.holder.Time = time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)
			plantLock(t, s, tc.holder)
			lk, err := s.Lock(context.Background(), lockRef, 0)
			if !tc.takenOver {
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "locked by pid "+strconv.Itoa(tc.holder.PID)+" on host "+tc.holder.Host+" since 2026-11-25T20:30:00Z") ||
					!strings.Contains(err.Error(), tc.why) {
					t.Fatalf("Lock: %v", err)
				}
				if logs.Len() != 0 {
					t.Errorf("logged %q", logs.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("Lock: %v", err)
			}
			defer lk.Unlock()
			if lk.Info().PID != os.Getpid() {
				t.Errorf("Info = %+v", lk.Info())
			}
			log := logs.String()
			for _, want := range []string{"level=WARN", "taking over lock: ", tc.why, "pid=" + strconv.Itoa(tc.holder.PID), "resource=applications/X", "since=2026-11-25T20:30:00Z"} {
				if !strings.Contains(log, want) {
					t.Errorf("log %q lacks %q", log, want)
				}
			}
		})
	}
}

func TestLockRenewedAndLost(t *testing.T) {
	const ttl = 400 * time.Millisecond
	newStore := func(t *testing.T, clock *testClock) *Local {
		s := newLocal(t)
		s.now, s.lockTTL = clock.Now, ttl
		return s
	}

	t.Run("renewed", func(t *testing.T) {
		clock := newTestClock()
		s := newStore(t, clock)
		lk, err := s.Lock(context.Background(), lockRef, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer lk.Unlock()
		if want := clock.Now().Add(ttl); !lk.Info().Expires.Equal(want) {
			t.Errorf("deadline %s, want %s", lk.Info().Expires, want)
		}
		clock.Advance(ttl / 4)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			rec, err := readLock(lockPath(s))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Expires.After(lk.Info().Expires) {
				if rec.Token != lk.Info().Token {
					t.Fatalf("renewed under another token: %+v", rec)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no renewal")
			}
		}
	})

	t.Run("renewals fail", func(t *testing.T) {
		clock := newTestClock()
		s := newStore(t, clock)
		var mu sync.Mutex
		failing, failed := false, 0
		s.renewHook = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				failed++
				return errors.New("input/output error")
			}
			return nil
		}
		lk, err := s.Lock(context.Background(), lockRef, 0)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		failing = true
		mu.Unlock()
		// Renewals fail while the deadline is more than the margin away:
		// the holder keeps the lock and tries again ...
		clock.Advance(lockMargin(ttl) / 2)
		for {
			mu.Lock()
			n := failed
			mu.Unlock()
			if n >= 2 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case <-lk.Lost():
			t.Fatalf("lost before the margin: %v", lk.Err())
		default:
		}
		// ... until the deadline is within the margin.
		clock.Advance(lockMargin(ttl) / 2)
		select {
		case <-lk.Lost():
		case <-time.After(10 * time.Second):
			t.Fatal("a lock whose renewals fail was not lost")
		}
		if err := lk.Err(); !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), `lost the lock of applications/X in store "node": it could not be renewed`) ||
			!strings.Contains(err.Error(), "input/output error") {
			t.Errorf("Err = %v", err)
		}
		if err := lk.Unlock(); !errors.Is(err, ErrLockLost) {
			t.Errorf("Unlock of a lost lock: %v", err)
		}
	})

	t.Run("taken over", func(t *testing.T) {
		clock := newTestClock()
		s := newStore(t, clock)
		lk, err := s.Lock(context.Background(), lockRef, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(lockPath(s))
		plantLock(t, s, LockInfo{Host: "elsewhere", PID: 42, Token: "other", Time: clock.Now(), Expires: clock.Now().Add(time.Hour)})
		select {
		case <-lk.Lost():
		case <-time.After(10 * time.Second):
			t.Fatal("a lock taken over was not lost")
		}
		if err := lk.Err(); !strings.Contains(err.Error(), "another process took it over: pid 42 on host elsewhere") {
			t.Errorf("Err = %v", err)
		}
		lk.Unlock()
		if rec, err := readLock(lockPath(s)); err != nil || rec.Token != "other" {
			t.Errorf("the other holder's lock: %+v, %v", rec, err)
		}
	})
}

func TestLockUnreadable(t *testing.T) {
	s := newLocal(t)
	writeFile(t, lockPath(s), "")
	_, err := s.Lock(context.Background(), lockRef, 0)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "unreadable") || !strings.Contains(err.Error(), lockPath(s)) {
		t.Fatalf("Lock on an empty lock file: %v", err)
	}
}

func TestUnlockAfterTakeOver(t *testing.T) {
	s := newLocal(t)
	lk, err := s.Lock(context.Background(), lockRef, 0)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(lockPath(s))
	plantLock(t, s, LockInfo{Host: "elsewhere", PID: 42, Token: "other", Time: time.Now()})
	if err := lk.Unlock(); err == nil || !strings.Contains(err.Error(), "taken over by pid 42 on host elsewhere") {
		t.Errorf("Unlock: %v", err)
	}
	if _, err := readLock(lockPath(s)); err != nil {
		t.Errorf("Unlock removed the other holder's lock: %v", err)
	}
}

// testClock is a clock for lock records that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// compete runs n goroutines, each with its own store value on root, taking
// the lock at once; it returns the number of winners and the losers' errors.
func compete(t *testing.T, root string, n int, logger *slog.Logger) (int, []error) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     int
		errs    []error
		start   = make(chan struct{})
		release = make(chan struct{})
	)
	for range n {
		s, err := NewLocal("node", root, logger)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			lk, err := s.Lock(context.Background(), lockRef, 0)
			mu.Lock()
			if err == nil {
				won++
			} else {
				errs = append(errs, err)
			}
			mu.Unlock()
			if err == nil {
				<-release
				lk.Unlock()
			}
		}()
	}
	close(start)
	// Winners hold the lock until every goroutine has tried.
	for {
		mu.Lock()
		done := won+len(errs) == n
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	return won, errs
}

func TestLockConcurrentGoroutines(t *testing.T) {
	for i := range 20 {
		root := t.TempDir()
		won, errs := compete(t, root, 8, nil)
		if won != 1 {
			t.Fatalf("round %d: %d winners", i, won)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("round %d: loser's error %v", i, err)
			}
		}
	}
}

func TestLockConcurrentStaleTakeOver(t *testing.T) {
	host, _ := os.Hostname()
	stale := newIdentity(host, "root").record(time.Now())
	if stale.BootID == "" || stale.PIDNamespace == "" {
		t.Skip("no /proc of this PID namespace: no holder can be proven gone")
	}
	stale.PID, stale.RunID, stale.Token, stale.Expires = exitedPID(t), "RUN-STALE", "stale", time.Now().Add(time.Hour)
	for i := range 20 {
		var logs syncBuffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		s, err := NewLocal("node", t.TempDir(), logger)
		if err != nil {
			t.Fatal(err)
		}
		plantLock(t, s, stale)
		won, errs := compete(t, s.Root(), 8, logger)
		if won != 1 {
			t.Fatalf("round %d: %d winners (%v)", i, won, errs)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("round %d: loser's error %v", i, err)
			}
		}
		if n := strings.Count(logs.String(), "taking over lock"); n != 1 {
			t.Fatalf("round %d: stale lock removed %d times:\n%s", i, n, logs.String())
		}
	}
}

func TestLockConcurrentProcesses(t *testing.T) {
	root := t.TempDir()
	const n = 4
	type proc struct {
		stdin interface{ Close() error }
		line  func() string
		cmd   *exec.Cmd
		err   *bytes.Buffer
	}
	var procs []proc
	for range n {
		cmd, stdin, stderr, line := helper(t, "lock", root)
		procs = append(procs, proc{stdin, line, cmd, stderr})
	}
	won := 0
	for _, p := range procs {
		switch l := p.line(); l {
		case "won":
			won++
		case "locked":
		default:
			t.Errorf("helper said %q; stderr: %s", l, p.err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d processes got the lock", won, n)
	}
	for _, p := range procs {
		p.stdin.Close()
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("helper: %v; stderr: %s", err, p.err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "locks", "applications", "X.lock")); !os.IsNotExist(err) {
		t.Errorf("lock file after the winner exited: %v", err)
	}
}
