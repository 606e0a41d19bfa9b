package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/planb-backup/planb/providers/store/catalog"
)

// containerIdentity is a run of host in another PID namespace, whose pid
// does not exist in this one.
func containerIdentity(t *testing.T, host string) identity {
	id := newIdentity(host, "aip")
	id.runID, id.pidNS, id.pid, id.start = "RUN-CONTAINER", "pid:[4026532178]", exitedPID(t), 1234
	return id
}

// checkPartials runs a writer (store a, a run in another PID namespace of
// this host) and a second run (store b, this process) on one store: the
// writer's live partial is never cleanable and its lock holds; once the
// writer is gone and its deadline passed, its partial is. raw makes a
// partial leftover no run recorded, modified at the given time.
func checkPartials(t *testing.T, a, b Store, clock *testClock, raw func(name string, mod time.Time)) {
	t.Helper()
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	lk, err := a.Lock(ctx, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	up, err := a.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("live work")); err != nil {
		t.Fatal(err)
	}
	partialOf := func(as []Archive, name string) Archive {
		t.Helper()
		for _, x := range as {
			if x.Partial && x.Name == name {
				return x
			}
		}
		t.Fatalf("no partial %s in %v", name, as)
		return Archive{}
	}

	// The second run sees whose partial it is: live work, not cleanable;
	// and its lock holds, although the writer's pid does not exist here.
	for _, list := range []func() ([]Archive, error){
		func() ([]Archive, error) { return b.List(ctx) },
		func() ([]Archive, error) { return b.ListResource(ctx, ref) },
	} {
		as, err := list()
		if err != nil {
			t.Fatal(err)
		}
		p := partialOf(as, name+PartialSuffix)
		if !p.Live || p.Writer.RunID != "RUN-CONTAINER" || p.Writer.PIDNamespace != "pid:[4026532178]" {
			t.Errorf("live partial listed as %+v", p)
		}
		if ok, why := catalog.Cleanable(p, time.Now().Add(100*PartialAge)); ok || !strings.Contains(why, "being written by pid") ||
			!strings.Contains(why, "run RUN-CONTAINER") {
			t.Errorf("catalog.Cleanable(live partial) = %v, %q", ok, why)
		}
	}
	if _, err := b.Lock(ctx, ref, 0); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another PID namespace") {
		t.Fatalf("Lock over a live lock of another PID namespace: %v", err)
	}

	// The writer dies without releasing anything: once its deadline has
	// passed, its partial is cleanable, and says whose it was.
	switch k := lk.(type) {
	case *localLock:
		k.lease.end()
	case *s3Lock:
		k.lease.end()
	}
	clock.Advance(DefaultLockTTL + time.Second)
	as, err := b.ListResource(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	p := partialOf(as, name+PartialSuffix)
	if p.Live || p.Writer.RunID != "RUN-CONTAINER" {
		t.Errorf("partial of a gone run listed as %+v", p)
	}
	if ok, why := catalog.Cleanable(p, time.Now()); !ok || !strings.Contains(why, "no longer holds the lock") {
		t.Errorf("catalog.Cleanable(partial of a gone run) = %v, %q", ok, why)
	}
	lk2, err := b.Lock(ctx, ref, 0)
	if err != nil {
		t.Fatalf("Lock after the writer's deadline: %v", err)
	}
	if err := b.Delete(ctx, ref, p.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadRecord(ctx, ref, partialRecord(name)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("record of a deleted partial: %v", err)
	}

	// A partial of this run, under its lock, is live; committing it
	// removes its record.
	up2, err := b.Create(ctx, ref, "shop_2026-11-26-20-30-00.zip")
	if err != nil {
		t.Fatal(err)
	}
	as, err = b.ListResource(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if p := partialOf(as, "shop_2026-11-26-20-30-00.zip.partial"); !p.Live {
		t.Errorf("own partial listed as %+v", p)
	}
	if _, err := up2.Write([]byte("done")); err != nil {
		t.Fatal(err)
	}
	if err := up2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadRecord(ctx, ref, partialRecord("shop_2026-11-26-20-30-00.zip")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("record of a committed archive: %v", err)
	}
	lk2.Unlock()

	// A partial no run recorded is cleaned only once it is old.
	old := "shop_2026-11-20-20-30-00.zip"
	raw(old, time.Now().Add(-time.Hour))
	as, err = b.ListResource(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	p = partialOf(as, old+PartialSuffix)
	if p.Live || p.Writer.RunID != "" {
		t.Errorf("unrecorded partial listed as %+v", p)
	}
	if ok, why := catalog.Cleanable(p, time.Now()); ok || !strings.Contains(why, "unknown run") || !strings.Contains(why, "cleaned once 24h old") {
		t.Errorf("catalog.Cleanable(recent unrecorded partial) = %v, %q", ok, why)
	}
	if ok, why := catalog.Cleanable(p, p.ModTime.Add(PartialAge)); !ok || !strings.Contains(why, "unknown run") {
		t.Errorf("catalog.Cleanable(old unrecorded partial) = %v, %q", ok, why)
	}
}

func TestLocalPartialsAttributed(t *testing.T) {
	root := t.TempDir()
	host, _ := os.Hostname()
	clock := newTestClock()
	a, err := NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.id, a.now = containerIdentity(t, host), clock.Now
	b, err := NewLocal("node", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.now = clock.Now
	if b.id.pidNS == "" {
		t.Skip("no /proc of this PID namespace")
	}
	checkPartials(t, a, b, clock, func(name string, mod time.Time) {
		p := filepath.Join(root, "applications", "shop", name+PartialSuffix)
		writeFile(t, p, "left over")
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	})
}

func TestS3PartialsAttributed(t *testing.T) {
	b, srv := newS3(t)
	a := s3On(t, srv, "offsite", "backups", "prod/", nil)
	host, _ := os.Hostname()
	clock := newTestClock()
	a.id, a.now, b.now = containerIdentity(t, host), clock.Now, clock.Now
	if b.id.pidNS == "" {
		t.Skip("no /proc of this PID namespace")
	}
	checkPartials(t, a, b, clock, func(name string, mod time.Time) {
		// An upload started by another client; its start time is the
		// server's.
		core := minio.Core{Client: srv.Client(t)}
		if _, err := core.NewMultipartUpload(context.Background(), "backups", "prod/applications/shop/"+name, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
