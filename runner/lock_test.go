package runner

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/s3test"
	"github.com/planb-backup/planb/runner/dag"
)

// slowPersistence plans the backup of a persistence folder into store
// "node" whose before hook touches started and then sleeps: the prepare
// step runs, under the lock, until it is stopped.
func slowPersistence(t *testing.T, started string) (*plan.Plan, *config.Config) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "aip.mv.db"), []byte("h2 data"), 0o600); err != nil {
		t.Fatal(err)
	}
	node := &config.Store{Name: "node", Local: &config.LocalStore{Path: t.TempDir()}}
	cfg := &config.Config{
		Digest: "d",
		Stores: map[string]*config.Store{"node": node},
		Resources: []*config.Resource{{
			Kind: config.Persistence, Address: "persistence.node1", Name: "node1", Path: dir, Every: time.Hour,
			Stores: []*config.Store{node},
			Before: []config.Command{{Argv: []string{"sh", "-c", "touch " + started + "; exec sleep 60"}}},
		}},
	}
	p, err := plan.Make(cfg, plan.Catalog{}, plan.Options{Now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return p, cfg
}

// runUntilStarted runs the graph and calls lose once the file started
// exists; it returns the result and how long the run took.
func runUntilStarted(t *testing.T, g *dag.Graph, started string, lose func()) (*dag.Result, time.Duration) {
	t.Helper()
	done := make(chan *dag.Result, 1)
	start := time.Now()
	go func() { done <- dag.Run(context.Background(), g, dag.Options{}) }()
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		select {
		case res := <-done:
			t.Fatalf("the run ended before the hook started: %+v", res.Failed())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the before hook never started")
		}
	}
	lose()
	select {
	case res := <-done:
		return res, time.Since(start)
	case <-time.After(40 * time.Second):
		t.Fatal("the run did not stop after its lock was lost")
	}
	return nil, 0
}

// checkStopped checks that a run whose lock was lost failed its step
// under the lock with the lock's error and wrote nothing.
func checkStopped(t *testing.T, res *dag.Result, took time.Duration, st store.Store, want string) {
	t.Helper()
	if took > 30*time.Second {
		t.Errorf("the run took %s: the step under the lost lock was not stopped", took)
	}
	var failed *dag.StepResult
	for _, s := range res.Failed() {
		if s.Step.ID == "backup persistence.node1 store.node/prepare" {
			failed = &s
		}
	}
	if failed == nil {
		t.Fatalf("prepare did not fail: %+v", res.Steps)
	}
	if !errors.Is(failed.Err, store.ErrLockLost) || !strings.HasPrefix(failed.Err.Error(), `lost the lock of persistence/node1 in store "node": `) ||
		!strings.Contains(failed.Err.Error(), want) {
		t.Errorf("prepare failed with %v", failed.Err)
	}
	for _, s := range res.Steps {
		if s.Step.ID == "backup persistence.node1 store.node/archive" && s.Status != dag.StatusSkipped {
			t.Errorf("the archive step %s after the lock was lost", s.Status)
		}
	}
	as, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 0 {
		t.Errorf("the store holds %v after the lock was lost", as)
	}
}

// losingStore hands out locks the test loses at will.
type losingStore struct {
	store.Store
	lost chan struct{}
}

func (s *losingStore) Lock(ctx context.Context, ref store.Ref, wait time.Duration) (store.Lock, error) {
	l, err := s.Store.Lock(ctx, ref, wait)
	if err != nil {
		return nil, err
	}
	return &losingLock{Lock: l, store: s.Name(), ref: ref, lost: s.lost}, nil
}

type losingLock struct {
	store.Lock
	store string
	ref   store.Ref
	lost  chan struct{}
}

func (l *losingLock) Lost() <-chan struct{} { return l.lost }

func (l *losingLock) Err() error {
	select {
	case <-l.lost:
		return &store.LostError{Store: l.store, Ref: l.ref, Reason: "another process took it over: pid 9 on host node-9"}
	default:
		return nil
	}
}

func TestLostLockStopsTheStepsUnderIt(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	p, cfg := slowPersistence(t, started)
	local, err := store.NewLocal("node", cfg.Stores["node"].Local.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &losingStore{Store: local, lost: make(chan struct{})}
	g, err := Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": st}})
	if err != nil {
		t.Fatal(err)
	}
	res, took := runUntilStarted(t, g, started, func() { close(st.lost) })
	checkStopped(t, res, took, local, "another process took it over")
}

// refuseLockWrites fails the writes of lock objects once armed.
type refuseLockWrites struct{ armed atomic.Bool }

func (r *refuseLockWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.armed.Load() && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/locks/") {
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestFailingRenewalsStopTheStepsUnderTheLock(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "backups")
	started := filepath.Join(t.TempDir(), "started")
	p, cfg := slowPersistence(t, started)
	sab := &refuseLockWrites{}
	s3, err := store.NewS3("node", store.S3Options{Endpoint: srv.URL, Bucket: "backups", AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, LockTTL: 2 * time.Second, MaxRetries: 1, Transport: sab})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(p, &Env{Config: cfg, Stores: map[string]store.Store{"node": s3}})
	if err != nil {
		t.Fatal(err)
	}
	res, took := runUntilStarted(t, g, started, func() { sab.armed.Store(true) })
	checkStopped(t, res, took, s3, "it could not be renewed")
}

func TestCleanRefusesPartialsItMayNotClean(t *testing.T) {
	dir := t.TempDir()
	local, err := store.NewLocal("node", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := store.Ref{Kind: store.KindApplications, Name: "shop"}
	folder := filepath.Join(dir, "applications", "shop")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	// Two partials no run recorded: one just written, one untouched for
	// longer than store.PartialAge.
	recent, old := "shop_2026-11-25-08-00-00.zip.partial", "shop_2026-11-20-08-00-00.zip.partial"
	for _, n := range []string{recent, old} {
		if err := os.WriteFile(filepath.Join(folder, n), []byte("left over"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-store.PartialAge - time.Hour)
	if err := os.Chtimes(filepath.Join(folder, old), long, long); err != nil {
		t.Fatal(err)
	}
	ok, refused, err := stillCleanable(context.Background(), local, ref, []string{recent, old})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 1 || ok[0] != old {
		t.Errorf("cleanable: %v, want only %s", ok, old)
	}
	if len(refused) != 1 || !strings.Contains(refused[0].Error(), "refusing to clean "+recent+": left by an unknown run") {
		t.Errorf("refused: %v", refused)
	}
}
