package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// pair is what the steps of one resource in one store share during an
// apply: the IDs of its lock and unlock steps, the steps that run under the
// lock, and the lock once taken, with a context that ends when it is lost.
type pair struct {
	lockID, unlockID string
	users            []string // steps that run under the lock

	mu   sync.Mutex
	lock store.Lock
	// held is cancelled, with the lock's *store.LostError as its cause,
	// when the lock is lost, and with errReleased when it is released.
	held   context.Context
	cancel context.CancelCauseFunc
}

// errReleased is the cause of a pair's context once its lock is released.
var errReleased = errors.New("lock released")

// took records the lock the lock step took and watches it.
func (pr *pair) took(l store.Lock) {
	held, cancel := context.WithCancelCause(context.Background())
	pr.mu.Lock()
	pr.lock, pr.held, pr.cancel = l, held, cancel
	pr.mu.Unlock()
	go func() {
		select {
		case <-l.Lost():
			cancel(l.Err())
		case <-held.Done():
		}
	}()
}

// lost returns why the pair's lock was lost, or nil.
func (pr *pair) lost() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.held == nil {
		return nil
	}
	if cause := context.Cause(pr.held); errors.Is(cause, store.ErrLockLost) {
		return cause
	}
	return nil
}

// guard makes run stop when the pair's lock is lost: it does not start
// then, and its context is cancelled when it happens while it runs. The
// context stays cancellable after run returns, until the lock is released,
// since what a step starts (an upload) may outlive it.
func (pr *pair) guard(run func(ctx context.Context, p *dag.Progress) error) func(ctx context.Context, p *dag.Progress) error {
	return func(ctx context.Context, p *dag.Progress) error {
		pr.mu.Lock()
		held := pr.held
		pr.mu.Unlock()
		if held == nil {
			return run(ctx, p)
		}
		if err := pr.lost(); err != nil {
			return err
		}
		stepCtx, cancel := context.WithCancelCause(ctx)
		context.AfterFunc(held, func() { cancel(context.Cause(held)) })
		err := run(stepCtx, p)
		if lost := pr.lost(); err != nil && lost != nil && ctx.Err() == nil {
			return lost
		}
		return err
	}
}

func (pr *pair) unlock() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.lock == nil {
		return nil
	}
	err := pr.lock.Unlock()
	pr.lock = nil
	pr.cancel(errReleased)
	return err
}

// lockFor returns the lock step of a resource in a store, adding it on first
// use, and registers user as a step that runs under it.
func (b *builder) lockFor(r *config.Resource, st store.Store, user ...string) string {
	k := Target{r.Address, st.Name()}
	pr, ok := b.pairs[k]
	if !ok {
		pr = &pair{
			lockID:   fmt.Sprintf("%s/store.%s/lock", r.Address, st.Name()),
			unlockID: fmt.Sprintf("%s/store.%s/unlock", r.Address, st.Name()),
		}
		b.pairs[k] = pr
		b.order = append(b.order, k)
		ref := plan.RefOf(r)
		wait := b.env.LockWait
		b.add(dag.Step{
			ID:    pr.lockID,
			Label: fmt.Sprintf("lock %s in store.%s", r.Address, st.Name()),
			Group: Target{r.Address, st.Name()},
			Run: func(ctx context.Context, _ *dag.Progress) error {
				l, err := st.Lock(ctx, ref, wait)
				if err != nil {
					return err
				}
				pr.took(l)
				// The plan was made before the lock was taken: make sure no
				// other apply changed the folder in between.
				archives, err := st.ListResource(ctx, ref)
				if err != nil {
					return err
				}
				return b.p.CheckFolder(st.Name(), ref, archives)
			},
		})

	}
	pr.users = append(pr.users, user...)
	return pr.lockID
}
