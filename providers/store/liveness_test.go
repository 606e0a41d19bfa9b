package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProcesses is a PID namespace for liveness decisions: pid → start
// time; a pid that is not in it does not exist.
type fakeProcesses map[int]uint64

func (f fakeProcesses) probe(pid int) (bool, uint64, error) {
	start, ok := f[pid]
	return ok, start, nil
}

const (
	testBoot = "0d4e8f5a-1111-4c2b-9d7e-5a6b7c8d9e0f"
	testNS   = "pid:[4026531836]"
)

// testIdentity is a process 100 on host node-a, started at tick 5000.
func testIdentity(procs fakeProcesses) identity {
	return identity{
		host: "node-a", owner: "aip", runID: "RUN-SELF", bootID: testBoot, pidNS: testNS,
		pid: 100, start: 5000, probe: procs.probe,
	}
}

func TestLivenessDecisions(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 30, 0, 0, time.UTC)
	live := now.Add(time.Minute)
	holderOn := func(host, boot, ns string, pid int, start uint64) LockInfo {
		return LockInfo{Host: host, BootID: boot, PIDNamespace: ns, PID: pid, Start: start, RunID: "RUN-OTHER",
			Token: "t", Time: now.Add(-time.Hour), Expires: live}
	}
	procs := fakeProcesses{100: 5000, 200: 7000, 300: 9000}
	for name, c := range map[string]struct {
		holder   LockInfo
		procs    fakeProcesses
		takeOver bool
		why      string
	}{
		"same host, boot and namespace, pid gone": {
			holder: holderOn("node-a", testBoot, testNS, 4242, 1234), takeOver: true, why: "its process no longer exists",
		},
		"same host, boot and namespace, alive": {
			holder: holderOn("node-a", testBoot, testNS, 200, 7000), takeOver: false, why: "",
		},
		"pid reused by a process started later": {
			holder: holderOn("node-a", testBoot, testNS, 300, 8000), takeOver: true, why: "its pid 300 now belongs to another process",
		},
		"alive, start time not recorded": {
			holder: holderOn("node-a", testBoot, testNS, 300, 0), takeOver: false, why: "",
		},
		"another PID namespace, pid missing here": {
			holder: holderOn("node-a", testBoot, "pid:[4026532178]", 4242, 1234), takeOver: false, why: "another PID namespace",
		},
		"another PID namespace, pid reused here": {
			holder: holderOn("node-a", testBoot, "pid:[4026532178]", 300, 1), takeOver: false, why: "another PID namespace",
		},
		"another boot": {
			holder: holderOn("node-a", "another-boot", testNS, 4242, 1234), takeOver: false, why: "another boot",
		},
		"another host": {
			holder: holderOn("node-b", testBoot, testNS, 4242, 1234), takeOver: false, why: "another host",
		},
		"record without boot and namespace": {
			holder: holderOn("node-a", "", "", 4242, 0), takeOver: false, why: "does not name the holder's boot and PID namespace",
		},
		"this process": {
			holder: holderOn("node-a", testBoot, testNS, 100, 5000), takeOver: false, why: "",
		},
		"this run, recorded elsewhere": {
			holder: LockInfo{Host: "node-a", PID: 1, RunID: "RUN-SELF", Token: "t", Expires: live}, takeOver: false, why: "",
		},
		"deadline passed, another namespace": {
			holder: func() LockInfo {
				h := holderOn("node-b", "x", "pid:[1]", 4242, 1)
				h.Expires = now.Add(-time.Second)
				return h
			}(),
			takeOver: true, why: "deadline 2026-11-25T20:29:59Z passed",
		},
	} {
		t.Run(name, func(t *testing.T) {
			id := testIdentity(procs)
			takeOver, why := id.judge(c.holder, now)
			if takeOver != c.takeOver || !strings.Contains(why, c.why) || (c.why == "" && why != "") {
				t.Errorf("judge = %v, %q; want %v, %q", takeOver, why, c.takeOver, c.why)
			}
		})
	}

	// What this process cannot probe proves nothing.
	unknown := []struct {
		name string
		id   identity
	}{
		{"no /proc of our own", identity{host: "node-a", runID: "RUN-SELF", pid: 100}},
		{"probe fails", func() identity {
			id := testIdentity(nil)
			id.probe = func(int) (bool, uint64, error) { return false, 0, errors.New("permission denied") }
			return id
		}()},
	}
	for _, u := range unknown {
		t.Run(u.name, func(t *testing.T) {
			takeOver, why := u.id.judge(holderOn("node-a", testBoot, testNS, 4242, 1234), now)
			if takeOver || why == "" {
				t.Errorf("judge = %v, %q; want no take-over and a reason", takeOver, why)
			}
		})
	}
}

// leaseRig runs a lease whose renewals do what fail says, on a clock the
// test moves.
type leaseRig struct {
	clock *testClock
	mu    sync.Mutex
	fail  error
	calls int
	l     *lease
}

func newLeaseRig(t *testing.T, ttl time.Duration) *leaseRig {
	r := &leaseRig{clock: newTestClock()}
	r.l = startLease("node", Ref{Kind: KindApplications, Name: "X"}, ttl, r.clock.Now, slog.New(slog.DiscardHandler), r.clock.Now().Add(ttl),
		func(ctx context.Context, expires time.Time) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.calls++
			return r.fail
		})
	t.Cleanup(func() { r.l.end() })
	return r
}

func (r *leaseRig) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *leaseRig) renewals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func lostWithin(t *testing.T, l *lease, d time.Duration) error {
	t.Helper()
	select {
	case <-l.Lost():
		return l.Err()
	case <-time.After(d):
		t.Fatalf("the lease was not lost within %s", d)
	}
	return nil
}

func TestLeaseRenewsAndLoses(t *testing.T) {
	const ttl = 400 * time.Millisecond

	t.Run("renewals keep it", func(t *testing.T) {
		r := newLeaseRig(t, ttl)
		for r.renewals() < 4 {
			r.clock.Advance(ttl / 8)
			time.Sleep(ttl / 8)
		}
		select {
		case <-r.l.Lost():
			t.Fatalf("lost: %v", r.l.Err())
		default:
		}
		if err := r.l.end(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("failing renewals lose it before the deadline", func(t *testing.T) {
		r := newLeaseRig(t, ttl)
		r.setFail(errors.New("connection refused"))
		deadline := r.l.deadline()
		// Within the margin the holder keeps trying.
		r.clock.Advance(lockMargin(ttl) - time.Millisecond)
		time.Sleep(ttl / 2)
		select {
		case <-r.l.Lost():
			t.Fatalf("lost before the margin: %v", r.l.Err())
		default:
		}
		if r.renewals() < 2 {
			t.Errorf("%d renewals tried", r.renewals())
		}
		// Once the deadline is within the margin, the lock is lost, while
		// others still have to wait for the deadline.
		r.clock.Advance(time.Millisecond)
		err := lostWithin(t, r.l, 5*time.Second)
		if !r.clock.Now().Before(deadline) {
			t.Fatal("the test clock passed the deadline")
		}
		var le *LostError
		if !errors.As(err, &le) || !errors.Is(err, ErrLockLost) ||
			!strings.HasPrefix(err.Error(), `lost the lock of applications/X in store "node": it could not be renewed`) ||
			!strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Err = %v", err)
		}
		if got := r.l.end(); got != err {
			t.Errorf("end = %v, want %v", got, err)
		}
	})

	t.Run("taken over", func(t *testing.T) {
		r := newLeaseRig(t, ttl)
		r.setFail(&errNotOurs{current: LockInfo{PID: 9, Host: "node-9", Token: "other", Time: r.clock.Now()}})
		err := lostWithin(t, r.l, 5*time.Second)
		var le *LostError
		if !errors.As(err, &le) || le.TakenOver.Host != "node-9" || !strings.Contains(err.Error(), "another process took it over: pid 9 on host node-9") {
			t.Fatalf("Err = %v", err)
		}
	})

	t.Run("a renewal that hangs", func(t *testing.T) {
		clock := newTestClock()
		var l *lease
		l = startLease("node", Ref{Kind: KindApplications, Name: "X"}, ttl, clock.Now, slog.New(slog.DiscardHandler), clock.Now().Add(ttl),
			func(ctx context.Context, expires time.Time) error {
				<-ctx.Done() // a stalled connection: only the timeout ends it
				return ctx.Err()
			})
		defer l.end()
		for range 50 {
			clock.Advance(ttl / 20)
			time.Sleep(ttl / 20)
			select {
			case <-l.Lost():
				if !strings.Contains(l.Err().Error(), "deadline exceeded") {
					t.Errorf("Err = %v", l.Err())
				}
				return
			default:
			}
		}
		t.Fatal("a lease whose renewals hang was never lost")
	})
}
