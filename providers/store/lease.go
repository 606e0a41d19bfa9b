package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultLockTTL is how long a lock stays valid without being renewed, in
// local and S3 stores.
//
// Its holder renews it every quarter of that (LockTTL/4) and, after a
// failed renewal, tries again every sixteenth (LockTTL/16). A holder that
// has not renewed its lock by the time its deadline is less than half the
// TTL away (the margin, LockTTL/2: one minute by default) gives the lock
// up: it is lost, and the work under it stops. Other processes take a lock
// over only once its deadline has passed, so a holder that cannot renew
// stops at least the margin before anyone else may start: room for the
// clocks of the hosts to differ, and for the holder's work to wind down.
const DefaultLockTTL = 2 * time.Minute

// renewEvery, retryEvery and lockMargin are the intervals of a lock with
// time to live ttl; see DefaultLockTTL.
func renewEvery(ttl time.Duration) time.Duration { return ttl / 4 }
func retryEvery(ttl time.Duration) time.Duration { return ttl / 16 }
func lockMargin(ttl time.Duration) time.Duration { return ttl / 2 }

// ErrLockLost is matched (errors.Is) by the error of a lock lost while it
// was held: Lock.Err, Unlock, and the errors of the work it protected.
var ErrLockLost = errors.New("lock lost")

// LostError says why a held lock was lost. It matches ErrLockLost.
type LostError struct {
	Store string
	Ref   Ref
	// TakenOver is the record that replaced the lock, when another
	// process took it over; zero otherwise.
	TakenOver LockInfo
	Reason    string
}

func (e *LostError) Error() string {
	return fmt.Sprintf("lost the lock of %s in store %q: %s", e.Ref, e.Store, e.Reason)
}

// Is makes errors.Is(err, ErrLockLost) true.
func (e *LostError) Is(target error) bool { return target == ErrLockLost }

// errNotOurs is the error of a renewal that found the lock no longer
// recording this acquisition: current is what it records instead (zero
// when it is gone).
type errNotOurs struct{ current LockInfo }

func (e *errNotOurs) Error() string {
	if e.current.Token == "" {
		return "the lock was removed"
	}
	return "the lock was taken over by " + e.current.String()
}

// lease keeps a held lock: it renews the lock's deadline and, when it
// cannot before the margin, or finds the lock taken over, declares it lost.
type lease struct {
	store  string
	ref    Ref
	ttl    time.Duration
	now    func() time.Time // the clock of lock records
	logger *slog.Logger
	// renew writes the lock record again with deadline expires,
	// conditional on it still being this acquisition's (an *errNotOurs
	// otherwise).
	renew func(ctx context.Context, expires time.Time) error

	stop chan struct{}
	done chan struct{}
	lost chan struct{}

	mu      sync.Mutex
	expires time.Time
	err     error // why the lock was lost
}

// startLease starts renewing a lock whose deadline is expires.
func startLease(store string, ref Ref, ttl time.Duration, now func() time.Time, logger *slog.Logger,
	expires time.Time, renew func(ctx context.Context, expires time.Time) error) *lease {
	l := &lease{
		store: store, ref: ref, ttl: ttl, now: now, logger: logger, renew: renew,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{}),
		expires: expires,
	}
	go l.run()
	return l
}

func (l *lease) run() {
	defer close(l.done)
	next := renewEvery(l.ttl)
	var failed error // the last renewal's error, nil after a success
	for {
		giveUp := l.deadline().Add(-lockMargin(l.ttl))
		t := time.NewTimer(max(min(next, giveUp.Sub(l.now())), 0))
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if !l.now().Before(giveUp) {
			l.lose(l.couldNotRenew(failed), LockInfo{})
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(renewEvery(l.ttl), giveUp.Sub(l.now())))
		expires := l.now().Add(l.ttl).UTC()
		err := l.renew(ctx, expires)
		cancel()
		var notOurs *errNotOurs
		switch {
		case err == nil:
			l.mu.Lock()
			l.expires = expires
			l.mu.Unlock()
			failed, next = nil, renewEvery(l.ttl)
		case errors.As(err, &notOurs):
			reason := "another process removed it"
			if notOurs.current.Token != "" {
				reason = "another process took it over: " + notOurs.current.String()
			}
			l.lose(reason, notOurs.current)
			return
		default:
			failed, next = err, retryEvery(l.ttl)
			l.logger.Warn("could not renew lock; trying again", "store", l.store, "resource", l.ref.String(),
				"deadline", l.deadline().Format(time.RFC3339), "err", err)
		}
		select {
		case <-l.stop:
			return
		default:
		}
		if err != nil && !l.now().Before(giveUp) {
			l.lose(l.couldNotRenew(err), LockInfo{})
			return
		}
	}
}

func (l *lease) couldNotRenew(err error) string {
	s := fmt.Sprintf("it could not be renewed while its deadline %s was more than %s away (the margin after which its holder stops)",
		l.deadline().Format(time.RFC3339), lockMargin(l.ttl))
	if err != nil {
		s += ": " + err.Error()
	}
	return s
}

func (l *lease) deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

// lose records why the lock was lost and closes lost.
func (l *lease) lose(reason string, takenOver LockInfo) {
	err := &LostError{Store: l.store, Ref: l.ref, TakenOver: takenOver, Reason: reason}
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	l.logger.Error("lost lock: the work under it stops", "store", l.store, "resource", l.ref.String(), "err", err)
	close(l.lost)
}

// Lost is closed once the lock is lost.
func (l *lease) Lost() <-chan struct{} { return l.lost }

// Err is nil while the lock is held, and why it was lost afterwards.
func (l *lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// end stops renewing and returns why the lock was lost, if it was.
func (l *lease) end() error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.Err()
}
