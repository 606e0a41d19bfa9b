package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// putPack stores data as a pack of st dated age ago and returns its id.
func putPack(t *testing.T, st *store.Local, data string, age time.Duration) string {
	t.Helper()
	sum := sha256.Sum256([]byte(data))
	id := hex.EncodeToString(sum[:])
	if err := st.PutPack(context.Background(), id, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(st.Root(), filepath.FromSlash(store.PackKey(id)))
	when := time.Now().Add(-age)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	return id
}

// packedArchive commits an archive of ref whose delivery folder is one file
// that fills pack id (so that no collection repacks it).
func packedArchive(t *testing.T, st *store.Local, ref store.Ref, name, id string) {
	t.Helper()
	ctx := context.Background()
	size, err := st.StatPack(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	idx := cas.Index{FormatVersion: cas.IndexFormat, Entries: []cas.Entry{{
		Path: "f", Type: cas.TypeFile, Mode: "0644", Size: 1, SHA256: strings.Repeat("a", 64), Pack: id, Length: size,
	}}}
	indexArchive(t, st, ref, name, &idx)
}

func packExists(st *store.Local, id string) bool {
	_, err := st.StatPack(context.Background(), id)
	return err == nil
}

// CollectPacks deletes only old packs no complete archive of any folder
// references (a safety backup of another resource counts), keeps young
// ones, and deletes nothing when an archive cannot be read.
func TestCollectPacks(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	a := putPack(t, st, "referenced by an archive of A", 10*day)
	b := putPack(t, st, "referenced by a safety backup of B", 10*day)
	old := putPack(t, st, "referenced by nothing, old", 10*day)
	young := putPack(t, st, "referenced by nothing, written by a backup under way", time.Minute)
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	packedArchive(t, st, store.Ref{Kind: store.KindApplications, Name: "A"}, catalog.ArchiveName("A", t0), a)
	packedArchive(t, st, store.Ref{Kind: store.KindApplications, Name: "B"}, catalog.SafetyArchiveName("B", t0), b)

	sw, err := CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Archives != 2 || sw.Referenced != 2 || sw.Deleted != 1 || sw.Young != 1 {
		t.Errorf("sweep: %+v", sw)
	}
	for id, want := range map[string]bool{a: true, b: true, old: false, young: true} {
		if packExists(st, id) != want {
			t.Errorf("pack %s present %v, want %v", id[:8], !want, want)
		}
	}

	// An archive that cannot be read: nothing is deleted.
	another := putPack(t, st, "another old one", 10*day)
	bad := store.Ref{Kind: store.KindApplications, Name: "C"}
	up, err := st.Create(ctx, bad, catalog.ArchiveName("C", t0))
	if err != nil {
		t.Fatal(err)
	}
	up.Write(bytes.Repeat([]byte("not a zip"), 100))
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := CollectPacks(ctx, st, time.Hour, time.Now()); err == nil || !strings.Contains(err.Error(), "nothing deleted") {
		t.Errorf("collection with an unreadable archive: %v", err)
	}
	if !packExists(st, another) {
		t.Error("a pack was deleted although an archive could not be read")
	}
}

// skewedStore is a local store whose clock, and the times it gives its
// packs, are behind this host's by skew: as a store seen from a host whose
// clock is skew ahead.
type skewedStore struct {
	*store.Local
	skew time.Duration
}

func (s skewedStore) Now(ctx context.Context) (time.Time, error) {
	t, err := s.Local.Now(ctx)
	return t.Add(-s.skew), err
}

func (s skewedStore) ListPacks(ctx context.Context) ([]store.PackInfo, error) {
	packs, err := s.Local.ListPacks(ctx)
	for i := range packs {
		packs[i].ModTime = packs[i].ModTime.Add(-s.skew)
	}
	return packs, err
}

// A host whose clock is three days ahead of the store's collects after a
// prune: the packs it would take for older than the grace period by its
// own clock were written an hour ago on the store's, and stay; one old on
// the store's clock goes.
func TestCollectionMeasuresAgesOnTheStoresClock(t *testing.T) {
	local, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh := putPack(t, local, "written an hour ago", time.Hour)
	old := putPack(t, local, "written three days ago", 72*time.Hour)
	st := skewedStore{Local: local, skew: 72 * time.Hour}
	var logs bytes.Buffer
	collectAfterPrune(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), st, 48*time.Hour)
	if !packExists(local, fresh) {
		t.Errorf("a pack written an hour ago on the store's clock was collected:\n%s", logs.String())
	}
	if packExists(local, old) {
		t.Errorf("a pack three days old on the store's clock was kept:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "host_ahead_by=72h0m0s") {
		t.Errorf("no warning about the skew:\n%s", logs.String())
	}
}
