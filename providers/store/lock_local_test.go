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

var lockRef = Ref{KindApplications, "X"}

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
	other, err := s2.Lock(ctx, Ref{KindMeasurement, "X"}, 0)
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
	dead := exitedPID(t)
	tests := map[string]struct {
		holder    LockInfo
		takenOver bool
	}{
		"dead process on this host": {LockInfo{Owner: "root", Host: host, PID: dead, Token: "t1"}, true},
		"dead pid on another host":  {LockInfo{Owner: "root", Host: "elsewhere", PID: dead, Token: "t1"}, false},
		"live process on this host": {LockInfo{Owner: "root", Host: host, PID: os.Getppid(), Token: "t1"}, false},
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
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "locked by pid "+strconv.Itoa(tc.holder.PID)+" on host "+tc.holder.Host+" since 2026-11-25T20:30:00Z") {
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
			for _, want := range []string{"level=WARN", "stale lock", "pid=" + strconv.Itoa(dead), "resource=applications/X", "since=2026-11-25T20:30:00Z"} {
				if !strings.Contains(log, want) {
					t.Errorf("log %q lacks %q", log, want)
				}
			}
		})
	}
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
	dead := exitedPID(t)
	for i := range 20 {
		var logs syncBuffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		s, err := NewLocal("node", t.TempDir(), logger)
		if err != nil {
			t.Fatal(err)
		}
		plantLock(t, s, LockInfo{Host: host, PID: dead, Token: "stale", Time: time.Now()})
		won, errs := compete(t, s.Root(), 8, logger)
		if won != 1 {
			t.Fatalf("round %d: %d winners (%v)", i, won, errs)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("round %d: loser's error %v", i, err)
			}
		}
		if n := strings.Count(logs.String(), "stale lock"); n != 1 {
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
